import { Registry } from 'prom-client'
import t from 'tap'
import { chatChunk, delay, SSE_DONE, SSE_HEADERS, startHttpServer } from '../../test/providers/wire-servers.ts'
import { OpenAiChat } from '../../providers/llm/openai-chat.ts'
import type { AgentHistory } from './agent.ts'
import { MAX_SUMMARY_CHARS, summarizeCall, transcript } from './summary.ts'

// A local server speaking OpenAI's chat wire format: it answers with what the test queued.
const replies: string[] = []
const bodies: Array<{ messages: Array<{ role: string; content: string }>; tools?: unknown }> = []
const server = await startHttpServer(async (_req, res, raw) => {
  bodies.push(JSON.parse(raw))
  const reply = replies.shift() ?? ''
  if (reply === 'slow') await delay(2000)
  if (res.destroyed) return
  res.writeHead(200, SSE_HEADERS)
  for (const word of reply.split(/(?<= )/)) res.write(chatChunk({ content: word }))
  res.end(chatChunk({}, 'stop') + SSE_DONE)
})
t.teardown(() => server.close())
const llm = new OpenAiChat({
  baseURL: server.url,
  apiKey: 'sk-local',
  model: 'local',
  timeouts: { connectMs: 500, responseMs: 5000 },
  registry: new Registry(),
})

const history: AgentHistory = {
  messages: [
    { role: 'user', content: 'Нам нужна CRM для пяти менеджеров' },
    { role: 'assistant', content: null, toolCalls: [{ id: 'c1', name: 'search_knowledge', arguments: '{"query":"тарифы"}' }] },
    { role: 'tool', toolCallId: 'c1', content: '{"hits":[]}' },
    { role: 'assistant', content: 'Понял. Какой у вас бюджет?' },
    { role: 'user', content: 'Около двухсот тысяч, перезвоните в понедельник' },
  ],
  tools: [],
  guardrails: [],
  turns: 2,
}

t.test('the transcript holds what was said, not the tool traffic', async (t) => {
  t.equal(
    transcript(history.messages, 'ru'),
    ['Клиент: Нам нужна CRM для пяти менеджеров', 'Ассистент: Понял. Какой у вас бюджет?', 'Клиент: Около двухсот тысяч, перезвоните в понедельник'].join('\n'),
  )
  t.match(transcript(history.messages, 'en'), /^Customer: .*\nAssistant: /)
})

t.test('the model summarises the call over the wire, without tools', async (t) => {
  replies.push('CRM для пяти менеджеров,  бюджет около 200 тысяч.\nПерезвонить в понедельник.')
  const summary = await summarizeCall(llm, history, 'ru')
  t.equal(summary, 'CRM для пяти менеджеров, бюджет около 200 тысяч. Перезвонить в понедельник.')
  const body = bodies.at(-1)!
  t.equal(body.tools, undefined, 'no tools offered: the call is over')
  t.equal(body.messages[0].role, 'system')
  t.match(body.messages[0].content, /по-русски/)
  t.equal(body.messages[1].content, transcript(history.messages, 'ru'))
})

t.test('a rambling model is cut at a sentence end', async (t) => {
  replies.push('This is one sentence of the summary. '.repeat(40))
  const summary = (await summarizeCall(llm, history, 'en'))!
  t.ok(summary.length <= MAX_SUMMARY_CHARS, `${summary.length} characters`)
  t.ok(summary.endsWith('summary.'), 'ends at a sentence end')
})

t.test('no caller words: no request, no summary', async (t) => {
  const before = bodies.length
  t.equal(await summarizeCall(llm, { messages: [{ role: 'assistant', content: 'Здравствуйте!' }], tools: [], guardrails: [], turns: 0 }, 'ru'), undefined)
  t.equal(bodies.length, before)
})

t.test('a slow model is abandoned at the signal', async (t) => {
  replies.push('slow')
  const err = await summarizeCall(llm, history, 'ru', AbortSignal.timeout(200)).then(
    () => undefined,
    (e: unknown) => e,
  )
  t.match(err, { kind: 'cancelled' }, 'cancelled, not a late answer')
})
