import t from 'tap'
import { DeepgramAsr } from './deepgram.ts'
import { TEST_KEY, runConformance, runConnectTimeout, type AdapterUnderTest } from '../../test/providers/asr-conformance.ts'
import { startDeepgramServer } from '../../test/providers/asr-servers.ts'

const adapter: AdapterUnderTest = {
  start: startDeepgramServer,
  provider: (url, { apiKey, registry, timeouts, logger }) => new DeepgramAsr({ url: `${url}/v1/listen`, apiKey, registry, timeouts, logger }),
  urlForPort: (port) => `ws://127.0.0.1:${port}`,
  partialsBeforeEnd: true,
  checkSession(t, session, options) {
    t.equal(session.headers.authorization, `Token ${TEST_KEY}`, 'Authorization: Token KEY')
    const url = new URL(session.path, 'ws://x')
    t.equal(url.pathname, '/v1/listen')
    t.same(Object.fromEntries(['encoding', 'sample_rate', 'language', 'interim_results', 'channels'].map((k) => [k, url.searchParams.get(k)])), {
      encoding: 'linear16',
      sample_rate: String(options.sampleRate),
      language: 'ru',
      interim_results: 'true',
      channels: '1',
    })
    t.same(session.messages, [{ type: 'CloseStream' }], 'CloseStream at the end')
  },
}

runConformance(t, adapter)
runConnectTimeout(t, adapter)

t.test('Results carry confidence and timing', async (t) => {
  const server = await startDeepgramServer()
  const asr = new DeepgramAsr({ url: server.url, apiKey: TEST_KEY })
  t.teardown(() => server.close())
  const stream = asr.stream({ language: 'en-US', sampleRate: 16000 })
  stream.write(new Int16Array(320))
  stream.end()
  const results = []
  for await (const r of stream.results()) results.push(r)
  t.same(results, [
    { text: 'привет', final: false, confidence: 0.6, startMs: 100, endMs: 1000 },
    { text: 'привет мир', final: true, confidence: 0.93, startMs: 100, endMs: 1000 },
  ])
})

t.test('bad configuration fails in the constructor', async (t) => {
  t.throws(() => new DeepgramAsr({ apiKey: '' }), /apiKey is required/)
  t.throws(() => new DeepgramAsr({ apiKey: 'k', url: 'http://127.0.0.1:1/v1/listen' }), /url must start with ws:\/\/ or wss:\/\//)
  t.throws(() => new DeepgramAsr({ apiKey: 'k', url: 'not a url' }), /the configured url is not a URL/)
})

t.test('hints go out as keyterm for nova-3, keywords for older models', async (t) => {
  const server = await startDeepgramServer()
  t.teardown(() => server.close())
  for (const model of ['nova-3', 'nova-2']) {
    const stream = new DeepgramAsr({ url: server.url, apiKey: TEST_KEY, model }).stream({ language: 'en-US', sampleRate: 8000, hints: ['Bitrix24'] })
    stream.end()
    for await (const r of stream.results()) void r
  }
  t.same(
    server.sessions.map((s) => {
      const q = new URL(s.path, 'ws://x').searchParams
      return [q.get('model'), q.get('keyterm'), q.get('keywords'), q.get('language')]
    }),
    [
      ['nova-3', 'Bitrix24', null, 'en'],
      ['nova-2', null, 'Bitrix24', 'en'],
    ],
  )
})
