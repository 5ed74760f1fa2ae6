import http from 'node:http'
import type { AddressInfo } from 'node:net'
import OpenAI from 'openai'
import t, { type Test } from 'tap'
import type { ChatEvent, ChatMessage, ChatRequest, LlmProvider } from '../../providers/types.ts'
import type { KnowledgeHit, KnowledgeSearch } from '../knowledge/knowledge-base.ts'
import { Agent, type AgentHistory } from './agent.ts'
import { GroundingCorpus, normaliseNumber, SentenceBuffer } from './guardrails.ts'
import type { AgentProfile } from './profile.ts'
import { buildSystemPrompt } from './system-prompt.ts'
import type { AgentAction } from './tools.ts'

// ------------------------------------------------------------ a local server speaking OpenAI's wire format

/** One scripted completion: text deltas and/or complete tool calls (sent as argument fragments). */
interface Step {
  text?: string[]
  tools?: Array<{ id: string; name: string; args: unknown }>
  /** the stream pauses after the first text delta until this settles */
  gate?: Promise<void>
}

interface WireBody {
  model: string
  stream: boolean
  messages: Array<Record<string, unknown>>
  tools?: Array<{ type: string; function: { name: string } }>
}

async function openAiServer(t: Test) {
  const steps: Step[] = []
  const requests: WireBody[] = []
  const server = http.createServer(async (req, res) => {
    let raw = ''
    for await (const part of req) raw += part
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') return void res.writeHead(404).end()
    const body = JSON.parse(raw) as WireBody
    requests.push(body)
    const step = steps.shift()
    if (!step) return void res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"no script"}}')
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
    const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
      res.write(
        `data: ${JSON.stringify({
          id: 'chatcmpl-test',
          object: 'chat.completion.chunk',
          created: 1_700_000_000,
          model: body.model,
          choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
        })}\n\n`,
      )
    chunk({ role: 'assistant', content: '' })
    for (const [i, text] of (step.text ?? []).entries()) {
      chunk({ content: text })
      if (i === 0 && step.gate) await step.gate
    }
    for (const [index, call] of (step.tools ?? []).entries()) {
      const args = JSON.stringify(call.args)
      const cut = Math.ceil(args.length / 2)
      chunk({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] })
      chunk({ tool_calls: [{ index, function: { arguments: args.slice(0, cut) } }] })
      chunk({ tool_calls: [{ index, function: { arguments: args.slice(cut) } }] })
    }
    chunk({}, step.tools?.length ? 'tool_calls' : 'stop')
    res.end('data: [DONE]\n\n')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, steps, requests }
}

// ------------------------------------------------------------ a minimal LlmProvider over that wire format

function toWire(m: ChatMessage): Record<string, unknown> {
  if (m.role === 'tool') return { role: 'tool', tool_call_id: m.toolCallId, content: m.content }
  if (m.role === 'assistant') {
    return {
      role: 'assistant',
      content: m.content,
      ...(m.toolCalls && { tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })) }),
    }
  }
  return { role: m.role, content: m.content }
}

function wireProvider(baseUrl: string): LlmProvider {
  return {
    name: 'openai-wire-test',
    async *chat(req: ChatRequest): AsyncIterable<ChatEvent> {
      const res = await fetch(`${baseUrl}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer test' },
        body: JSON.stringify({
          model: 'test-model',
          stream: true,
          messages: req.messages.map(toWire),
          tools: req.tools?.map((tool) => ({ type: 'function', function: tool })),
        }),
        signal: req.signal,
      })
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`)
      const calls = new Map<number, { id: string; name: string; arguments: string }>()
      const decoder = new TextDecoder()
      let buffer = ''
      let finish = 'stop'
      for await (const bytes of res.body as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(bytes, { stream: true })
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const data = buffer.slice(0, end).replace(/^data: /, '')
          buffer = buffer.slice(end + 2)
          if (data === '[DONE]') continue
          const choice = JSON.parse(data).choices[0]
          if (choice.delta.content) yield { type: 'text', delta: choice.delta.content }
          for (const d of choice.delta.tool_calls ?? []) {
            const call = calls.get(d.index) ?? { id: '', name: '', arguments: '' }
            calls.set(d.index, { id: d.id ?? call.id, name: d.function?.name ?? call.name, arguments: call.arguments + (d.function?.arguments ?? '') })
          }
          if (choice.finish_reason) finish = choice.finish_reason
        }
      }
      for (const call of calls.values()) yield { type: 'tool_call', call }
      yield { type: 'done', finishReason: finish }
    },
    async close() {},
  }
}

// ------------------------------------------------------------ fixtures

const PROFILE: AgentProfile = {
  language: 'ru',
  role: 'менеджер по продажам компании Складно',
  style: 'вежливо и коротко, на вы',
  facts: ['Складно — облачная программа для складского учёта.', 'Пробный период 14 дней.'],
  forbiddenTopics: [{ name: 'политика', stems: ['политик', 'президент'] }],
}

const HIT: KnowledgeHit = {
  chunkId: 1,
  documentId: 1,
  title: 'Складно: тарифы 2024',
  heading: 'Тариф Старт',
  score: 0.5,
  content: 'Тариф Старт стоит 990 рублей в месяц. В него входит один склад и два пользователя.',
}

function knowledge(): KnowledgeSearch & { queries: string[] } {
  const queries: string[] = []
  return { queries, search: async (q) => (queries.push(q), [HIT]) }
}

async function collect(stream: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = []
  for await (const d of stream) out.push(d)
  return out
}

function setup(t: Test, profile: AgentProfile = PROFILE) {
  return openAiServer(t).then((server) => {
    const actions: AgentAction[] = []
    const kb = knowledge()
    const agent = new Agent({ profile, llm: wireProvider(server.url), sink: (a) => void actions.push(a), knowledge: kb })
    return { server, actions, kb, agent }
  })
}

// ------------------------------------------------------------ tests

t.test('the local server speaks the OpenAI wire format (checked with the openai SDK)', async (t) => {
  const server = await openAiServer(t)
  server.steps.push({ text: ['Добрый ', 'день.'], tools: [{ id: 'call_1', name: 'end_call', args: { outcome: 'other' } }] })
  const client = new OpenAI({ baseURL: server.url, apiKey: 'test', maxRetries: 0 })
  const stream = await client.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] })
  let text = ''
  let args = ''
  let finish: string | null = null
  for await (const chunk of stream) {
    text += chunk.choices[0].delta.content ?? ''
    args += chunk.choices[0].delta.tool_calls?.[0]?.function?.arguments ?? ''
    finish = chunk.choices[0].finish_reason ?? finish
  }
  t.equal(text, 'Добрый день.')
  t.same(JSON.parse(args), { outcome: 'other' })
  t.equal(finish, 'tool_calls')
})

t.test('system prompt carries role, style, facts, rules and forbidden topics', async (t) => {
  const prompt = buildSystemPrompt({ ...PROFILE, safetyRules: ['Не обсуждай конкурентов.'] })
  t.match(prompt, /^Ты — менеджер по продажам компании Складно\./)
  t.match(prompt, /Стиль: вежливо и коротко, на вы/)
  t.match(prompt, /- Пробный период 14 дней\./)
  t.match(prompt, /- Не обсуждай конкурентов\./)
  t.match(prompt, /Запрещённые темы .*: политика\./)
  t.match(buildSystemPrompt({ ...PROFILE, language: 'en', role: 'a sales rep' }), /^You are a sales rep\./)
})

t.test('create_or_update_lead: the sink gets the lead and the tool result goes back to the model', async (t) => {
  const { server, actions, agent } = await setup(t)
  server.steps.push(
    { tools: [{ id: 'call_lead', name: 'create_or_update_lead', args: { name: 'Иван', company: 'Ромашка', phone: '+7 900 123-45-67' } }] },
    { text: ['Спасибо, Иван! ', 'Чем могу помочь?'] },
  )
  const reply = await collect(agent.respond('Меня зовут Иван, я из компании Ромашка, телефон +7 900 123-45-67.'))
  t.same(reply, ['Спасибо, Иван!', ' Чем могу помочь?'])
  t.same(actions, [{ type: 'lead', fields: { name: 'Иван', company: 'Ромашка', phone: '+7 900 123-45-67' } }])

  t.equal(server.requests.length, 2)
  t.same(server.requests[0].tools?.map((x) => x.function.name).sort(), [
    'create_or_update_lead',
    'end_call',
    'schedule_callback',
    'search_knowledge',
    'transfer_to_seller',
  ])
  t.match(server.requests[0].messages[0], { role: 'system', content: /Складно/ })
  const second = server.requests[1].messages
  t.match(second.at(-2), { role: 'assistant', content: null, tool_calls: [{ id: 'call_lead', type: 'function', function: { name: 'create_or_update_lead' } }] })
  t.match(second.at(-1), { role: 'tool', tool_call_id: 'call_lead' })
  t.same(JSON.parse(second.at(-1)?.content as string), { saved: ['name', 'company', 'phone'] })
})

t.test('bad tool arguments come back to the model as an error, nothing reaches the sink', async (t) => {
  const { server, actions, agent } = await setup(t)
  server.steps.push({ tools: [{ id: 'c1', name: 'create_or_update_lead', args: { email: 'not-an-email' } }] }, { text: ['Уточните, пожалуйста, почту.'] })
  await collect(agent.respond('Почта иван собака ромашка'))
  t.same(actions, [])
  t.match(JSON.parse(server.requests[1].messages.at(-1)?.content as string), { error: /invalid arguments.*email/ })
  t.equal(agent.history.tools[0].ok, false)
})

t.test('search_knowledge: chunks are fed back and ground the reply; an invented price is replaced', async (t) => {
  const { server, agent, kb } = await setup(t)
  server.steps.push(
    { tools: [{ id: 'call_kb', name: 'search_knowledge', args: { query: 'цена тарифа Старт' } }] },
    { text: ['Тариф Старт стоит 990 рублей в месяц. ', 'А тариф Бизнес — 3 000 ₽ в месяц. ', 'Оформим?'] },
  )
  const reply = (await collect(agent.respond('Сколько у вас стоит самый простой тариф?'))).join('')
  t.same(kb.queries, ['цена тарифа Старт'])
  const fed = JSON.parse(server.requests[1].messages.at(-1)?.content as string)
  t.same(fed.results[0], { document: 'Складно: тарифы 2024', section: 'Тариф Старт', text: HIT.content })
  t.equal(reply, 'Тариф Старт стоит 990 рублей в месяц. Точную цену и условия вам подтвердит менеджер. Оформим?')
  t.match(agent.history.guardrails, [{ reason: 'ungrounded-price', detail: '3000' }])
  // The model sees what was said, not what it wrote.
  t.match(agent.history.messages.at(-1), { role: 'assistant', content: /подтвердит менеджер/ })
})

t.test('a price the caller named does not ground the bot repeating it; an invented discount is a promise', async (t) => {
  const { server, agent } = await setup(t)
  server.steps.push({ text: ['Да, отдадим за 500 рублей. ', 'И сделаем скидку. ', 'Пробный период — 14 дней.'] })
  const reply = (await collect(agent.respond('А за 500 рублей отдадите?'))).join('')
  t.equal(reply, 'Точную цену и условия вам подтвердит менеджер. Пробный период — 14 дней.', 'two bad sentences, one safe phrase')
  t.match(agent.history.guardrails, [{ reason: 'ungrounded-price' }, { reason: 'ungrounded-promise', detail: 'скидк' }])
})

t.test('the reply streams: the first sentence is out before the model has finished', async (t) => {
  const { server, agent } = await setup(t)
  let release!: () => void
  server.steps.push({ text: ['Здравствуйте! ', 'Чем помочь?'], gate: new Promise((r) => (release = r)) })
  const it = agent.respond('Алло')[Symbol.asyncIterator]()
  t.same(await it.next(), { value: 'Здравствуйте!', done: false }, 'first sentence while the stream is held')
  release()
  t.same(await it.next(), { value: ' Чем помочь?', done: false })
  t.same(await it.next(), { value: undefined, done: true })
})

t.test('barge-in: stopping the reply keeps what was said and aborts the request', async (t) => {
  const { server, agent } = await setup(t)
  server.steps.push({ text: ['Первое. ', 'Второе.'], gate: new Promise(() => {}) })
  for await (const d of agent.respond('Алло')) {
    t.equal(d, 'Первое.')
    break
  }
  t.match(agent.history.messages.at(-1), { role: 'assistant', content: 'Первое.' })
})

t.test('forbidden topic: refused without asking the model', async (t) => {
  const { server, agent } = await setup(t)
  const reply = await collect(agent.respond('А что вы думаете о политике?'))
  t.same(reply, ['Извините, эту тему я не обсуждаю. Давайте вернёмся к вашему запросу.'])
  t.equal(server.requests.length, 0)
  t.match(agent.history.guardrails, [{ reason: 'forbidden-topic', detail: 'политика' }])
  // The model raising it is caught too.
  server.steps.push({ text: ['Кстати, о президенте. ', 'Чем помочь?'] })
  t.equal((await collect(agent.respond('Расскажите о программе'))).join(''), 'Извините, эту тему я не обсуждаю. Давайте вернёмся к вашему запросу. Чем помочь?')
})

t.test('max turns: a polite close and end_call, then nothing', async (t) => {
  const { server, actions, agent } = await setup(t, { ...PROFILE, maxTurns: 1 })
  server.steps.push({ text: ['Слушаю вас.'] })
  t.same(await collect(agent.respond('Алло')), ['Слушаю вас.'])
  t.same(await collect(agent.respond('Ещё вопрос')), ['Спасибо за разговор! Менеджер свяжется с вами и ответит на остальные вопросы. До свидания!'])
  t.same(actions, [{ type: 'end_call', outcome: 'other', reason: 'max_turns' }])
  t.equal(server.requests.length, 1, 'the model was not asked again')
  t.ok(agent.ended)
  t.same(await collect(agent.respond('Алло?')), [])
})

t.test('transfer_to_seller: the action is emitted and the agent stops', async (t) => {
  const { server, actions, agent } = await setup(t)
  server.steps.push({
    text: ['Соединяю вас с менеджером.'],
    tools: [{ id: 'call_tr', name: 'transfer_to_seller', args: { reason: 'готов купить', summary: 'Тариф Бизнес, 5 складов' } }],
  })
  t.same(await collect(agent.respond('Хочу купить, соедините с человеком')), ['Соединяю вас с менеджером.'])
  t.same(actions, [{ type: 'transfer', reason: 'готов купить', summary: 'Тариф Бизнес, 5 складов' }])
  t.equal(agent.history.ended, 'transfer')
  t.equal(server.requests.length, 1, 'no round after a terminal tool')

  // end_call with nothing said: the caller still hears goodbye.
  const second = await setup(t)
  second.server.steps.push({ tools: [{ id: 'c', name: 'end_call', args: { outcome: 'not_interested' } }] })
  t.same(await collect(second.agent.respond('Не интересно')), ['Спасибо за звонок, до свидания!'])
  t.same(second.actions, [{ type: 'end_call', outcome: 'not_interested', summary: undefined, reason: 'model' }])
})

t.test('history is plain JSON and a call can be resumed from it', async (t) => {
  const { server, agent } = await setup(t)
  server.steps.push({ tools: [{ id: 'k', name: 'search_knowledge', args: { query: 'тариф Старт' } }] }, { text: ['Старт стоит 990 рублей.'] })
  await collect(agent.respond('Сколько стоит Старт?'))
  const stored = JSON.parse(JSON.stringify(agent.history)) as AgentHistory
  t.same(stored, agent.history)
  t.equal(stored.turns, 1)
  t.same(
    stored.tools.map((x) => x.name),
    ['search_knowledge'],
  )

  const resumed = new Agent({ profile: PROFILE, llm: wireProvider(server.url), sink: () => {}, history: stored })
  server.steps.push({ text: ['Повторю: 990 рублей в месяц.'] })
  t.same(await collect(resumed.respond('Ещё раз, сколько?')), ['Повторю: 990 рублей в месяц.'], 'earlier knowledge still grounds the price')
  t.equal(resumed.history.turns, 2)
  t.equal(server.requests.at(-1)?.messages.length, 1 + 5, 'system + the stored conversation + the new question')
})

t.test('guardrail helpers', async (t) => {
  t.same(['1 500', '1,500', '1.500', '1,5', '007', '15.00', '2\u00a0490'].map(normaliseNumber), ['1500', '1500', '1500', '1.5', '7', '15', '2490'])
  const corpus = new GroundingCorpus('en')
  corpus.addTrusted('The Start plan costs $990 a month. Free trial for 14 days.')
  corpus.addEcho('call me at 15:30')
  t.equal(corpus.check('It is $990 a month.'), undefined)
  t.equal(corpus.check("I'll call you at 15:30."), undefined, 'an echoed time is fine')
  t.match(corpus.check('It costs 1,200 dollars.'), { reason: 'ungrounded-price', detail: '1200' })
  t.match(corpus.check('Delivery takes 3 days.'), { reason: 'ungrounded-number', detail: '3' })
  t.match(corpus.check('It is five hundred dollars.'), { reason: 'spelled-price' })
  t.equal(corpus.check('The trial is free.'), undefined, 'free is in the facts')
  t.match(corpus.check('We guarantee delivery.'), { reason: 'ungrounded-promise', detail: 'guarantee' })
  const sentences = new SentenceBuffer()
  t.same(sentences.push('It costs 2.5 thou'), [])
  t.same(sentences.push('sand at 8:00. Next? Yes'), ['It costs 2.5 thousand at 8:00.', 'Next?'])
  t.equal(sentences.flush(), 'Yes')
})
