import t from 'tap'
import { VoskAsr } from './vosk.ts'
import { runConformance, runConnectTimeout, type AdapterUnderTest } from '../../test/providers/asr-conformance.ts'
import { startVoskServer } from '../../test/providers/asr-servers.ts'

const adapter: AdapterUnderTest = {
  start: startVoskServer,
  provider: (url, { registry, timeouts, logger }) => new VoskAsr({ url, registry, timeouts, logger }),
  urlForPort: (port) => `ws://127.0.0.1:${port}`,
  partialsBeforeEnd: true,
  checkSession(t, session, options) {
    t.same(session.messages[0], { config: { sample_rate: options.sampleRate, words: 1 } }, 'config frame first')
    t.same(session.messages[session.messages.length - 1], { eof: 1 }, 'eof last')
  },
}

runConformance(t, adapter)
runConnectTimeout(t, adapter)

t.test('final carries word timings and mean confidence', async (t) => {
  const server = await startVoskServer()
  const asr = new VoskAsr({ url: server.url })
  t.teardown(() => server.close())
  const stream = asr.stream({ language: 'ru-RU', sampleRate: 16000, hints: ['привет мир'] })
  stream.write(new Int16Array(320))
  stream.end()
  const results = []
  for await (const r of stream.results()) results.push(r)
  t.same(results[results.length - 1], { text: 'привет мир', final: true, confidence: 0.9, startMs: 120, endMs: 1040 })
  t.same(server.sessions[0].messages[0], { config: { sample_rate: 16000, words: 1 } }, 'hints never become a restricting phrase_list')
})

t.test('an aborted signal cancels the stream', async (t) => {
  const server = await startVoskServer({ finalDelayMs: 5000 })
  const asr = new VoskAsr({ url: server.url })
  t.teardown(() => server.close())
  const abort = new AbortController()
  const stream = asr.stream({ language: 'ru-RU', sampleRate: 8000, signal: abort.signal })
  stream.write(new Int16Array(160))
  stream.end()
  while (server.sessions[0]?.messages.length !== 2) await new Promise((resolve) => setTimeout(resolve, 5))
  abort.abort()
  const results = []
  for await (const r of stream.results()) results.push(r)
  t.ok(
    results.every((r) => !r.final),
    'ended quietly without a final',
  )
  await server.sessions[0].closed
})
