import t from 'tap'
import { Registry } from 'prom-client'
import { chatChunk, collect, delay, failure, SSE_DONE, SSE_HEADERS, startHttpServer } from '../../test/providers/wire-servers.ts'
import { ProviderError, type ChatEvent, type ChatRequest } from '../types.ts'
import { OpenAiChat } from './openai-chat.ts'

const KEY = 'sk-chat-secret-77'
const bodies: Record<string, unknown>[] = []
let closedMidStream = 0

// Events are cut mid-line across writes, as TCP may deliver them.
async function stream(res: import('node:http').ServerResponse, events: string[], pause = 15) {
  const wire = events.join('')
  const cuts = [...new Set([0, 7, 60, 61, 200, 333, 500, 700, 900].filter((c) => c < wire.length)), wire.length]
  for (let i = 0; i + 1 < cuts.length; i++) {
    if (res.destroyed) return
    res.write(wire.slice(cuts[i], cuts[i + 1]))
    await delay(pause)
  }
}

const server = await startHttpServer(async (req, res, raw) => {
  const body = JSON.parse(raw) as { messages: { content: string }[] }
  bodies.push(body)
  const mode = body.messages.at(-1)!.content
  if (mode === 'auth') return void res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'invalid key' } }))
  if (mode === 'error')
    return void res
      .writeHead(400, { 'content-type': 'application/json' })
      .end(JSON.stringify({ error: { message: `model not found (key ${req.headers.authorization})` } }))
  if (mode === 'slow') await delay(1500)
  if (res.destroyed) return
  if (mode === 'hold') req.socket.on('close', () => closedMidStream++)
  res.writeHead(200, SSE_HEADERS)
  const text = [
    chatChunk({ role: 'assistant', content: '' }),
    chatChunk({ content: 'Здравствуйте! ' }),
    chatChunk({ content: 'Чем могу ' }),
    chatChunk({ content: 'помочь?' }),
  ]
  if (mode === 'text') return void stream(res, [...text, chatChunk({}, 'stop'), SSE_DONE]).then(() => res.end())
  if (mode === 'tools') {
    const events = [
      chatChunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'book_', arguments: '' } }] }),
      chatChunk({ tool_calls: [{ index: 0, function: { name: 'callback', arguments: '{"time":' } }] }),
      chatChunk({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'save_lead', arguments: '{"name":"Ив' } }] }),
      chatChunk({ tool_calls: [{ index: 0, function: { arguments: '"15:00"}' } }] }),
      chatChunk({ tool_calls: [{ index: 1, function: { arguments: 'ан"}' } }] }),
      chatChunk({}, 'tool_calls'),
      SSE_DONE,
    ]
    return void stream(res, events).then(() => res.end())
  }
  if (mode === 'frame')
    return void stream(res, [text[1], `data: ${JSON.stringify({ error: { message: 'overloaded', type: 'server_error' } })}\n\n`]).then(() => res.end())
  if (mode === 'stall') return void res.write(text[1])
  if (mode === 'drop') return void stream(res, text.slice(0, 2)).then(() => res.socket?.destroy())
  if (mode === 'cut') return void stream(res, text).then(() => res.end()) // no finish_reason, no [DONE]
  if (mode === 'hold') return void stream(res, text)
})
t.teardown(() => server.close())

const llm = (registry = new Registry(), baseURL = `${server.url}/v1`) =>
  new OpenAiChat({
    baseURL,
    apiKey: KEY,
    model: 'local-model',
    temperature: 0.3,
    topP: 0.9,
    maxTokens: 200,
    timeouts: { connectMs: 500, responseMs: 400 },
    registry,
  })
const req = (content: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({
  messages: [
    { role: 'system', content: 'Ты менеджер.' },
    { role: 'user', content },
  ],
  ...extra,
})

t.test('streams text deltas, then done; sends model, sampling and messages', async (t) => {
  const registry = new Registry()
  const events = await collect(llm(registry).chat(req('text')))
  t.same(events, [
    { type: 'text', delta: 'Здравствуйте! ' },
    { type: 'text', delta: 'Чем могу ' },
    { type: 'text', delta: 'помочь?' },
    { type: 'done', finishReason: 'stop' },
  ])
  t.match(bodies.at(-1), {
    model: 'local-model',
    stream: true,
    temperature: 0.3,
    top_p: 0.9,
    max_tokens: 200,
    messages: [
      { role: 'system', content: 'Ты менеджер.' },
      { role: 'user', content: 'text' },
    ],
  })
  t.match(await registry.metrics(), /voice_llm_first_token_seconds_count\{provider="openai-chat"\} 1/)
})

t.test('tool calls split across chunks come out whole; tools and tool messages are mapped', async (t) => {
  const tools = [{ name: 'book_callback', description: 'Book a callback', parameters: { type: 'object', properties: { time: { type: 'string' } } } }]
  const events = await collect(
    llm().chat({
      messages: [
        { role: 'user', content: 'перезвоните' },
        { role: 'assistant', content: null, toolCalls: [{ id: 'call_0', name: 'book_callback', arguments: '{}' }] },
        { role: 'tool', toolCallId: 'call_0', content: 'ok' },
        { role: 'user', content: 'tools' },
      ],
      tools,
    }),
  )
  t.same(events, [
    { type: 'tool_call', call: { id: 'call_a', name: 'book_callback', arguments: '{"time":"15:00"}' } },
    { type: 'tool_call', call: { id: 'call_b', name: 'save_lead', arguments: '{"name":"Иван"}' } },
    { type: 'done', finishReason: 'tool_calls' },
  ])
  t.match(bodies.at(-1), {
    tools: [{ type: 'function', function: tools[0] }],
    messages: [
      { role: 'user' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_0', type: 'function', function: { name: 'book_callback', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'call_0', content: 'ok' },
      { role: 'user', content: 'tools' },
    ],
  })
})

t.test('an error response is protocol, 401 is auth; no key in messages', async (t) => {
  const registry = new Registry()
  const err = await failure(llm(registry).chat(req('error')))
  t.equal(err.kind, 'protocol')
  t.match(err.message, /400/)
  t.notMatch(err.message, KEY)
  t.equal((await failure(llm(registry).chat(req('auth')))).kind, 'auth')
  t.match(await registry.metrics(), /voice_llm_errors_total\{provider="openai-chat",kind="auth"\} 1/)
})

t.test('an error event inside the stream is protocol', async (t) => {
  const err = await failure(llm().chat(req('frame')))
  t.equal(err.kind, 'protocol')
  t.match(err.message, /overloaded/)
})

t.test('a slow first response times out', async (t) => {
  t.equal((await failure(llm().chat(req('slow')))).kind, 'timeout')
})

t.test('a stream that stalls after the first token times out', async (t) => {
  t.equal((await failure(llm().chat(req('stall')))).kind, 'timeout')
})

t.test('a connection dropped mid-stream is disconnected, after the text so far', async (t) => {
  const got: ChatEvent[] = []
  try {
    for await (const e of llm().chat(req('drop'))) got.push(e)
    t.fail('should throw')
  } catch (err) {
    t.equal((err as ProviderError).kind, 'disconnected')
  }
  t.same(got, [{ type: 'text', delta: 'Здравствуйте! ' }])
})

t.test('a stream that ends without a finish reason is disconnected', async (t) => {
  t.equal((await failure(llm().chat(req('cut')))).kind, 'disconnected')
})

t.test('nothing listening is a connect error', async (t) => {
  t.equal((await failure(llm(new Registry(), 'http://127.0.0.1:1/v1').chat(req('text')))).kind, 'connect')
})

t.test('cancel mid-stream closes the connection', async (t) => {
  const ac = new AbortController()
  const before = closedMidStream
  try {
    for await (const _ of llm().chat(req('hold', { signal: ac.signal }))) ac.abort()
    t.fail('should throw')
  } catch (err) {
    t.equal((err as ProviderError).kind, 'cancelled')
  }
  for (let i = 0; i < 50 && closedMidStream === before; i++) await delay(10)
  t.equal(closedMidStream, before + 1, 'the server saw the close')
})
