import t from 'tap'
import { REALTIME, Resampler } from '../../codecs/resample.ts'
import { OpenAiRealtimeAsr } from './openai-realtime.ts'
import { TEST_KEY, runConformance, runConnectTimeout, type AdapterUnderTest } from '../../test/providers/asr-conformance.ts'
import { pcmBytes, startRealtimeServer } from '../../test/providers/asr-servers.ts'

const adapter: AdapterUnderTest = {
  start: startRealtimeServer,
  provider: (url, { apiKey, registry, timeouts, logger }) =>
    new OpenAiRealtimeAsr({ url: `${url}/v1/realtime`, apiKey, registry, timeouts, logger, model: 'gpt-4o-transcribe' }),
  urlForPort: (port) => `ws://127.0.0.1:${port}`,
  // the transcript of a committed buffer only starts after the commit
  partialsBeforeEnd: false,
  // streamed through the resampler in 20 ms pieces, the bytes equal one pass over the whole
  wireAudio: (pcm, rate) => {
    const resampler = new Resampler(rate, 24000, REALTIME)
    return pcmBytes(resampler.process(pcm), resampler.flush())
  },
  checkSession(t, session) {
    t.equal(session.headers.authorization, `Bearer ${TEST_KEY}`)
    t.equal(new URL(session.path, 'ws://x').searchParams.get('intent'), 'transcription')
    t.same(
      session.messages[0],
      {
        type: 'session.update',
        session: {
          type: 'transcription',
          audio: { input: { format: { type: 'audio/pcm', rate: 24000 }, transcription: { model: 'gpt-4o-transcribe', language: 'ru' }, turn_detection: null } },
        },
      },
      'transcription session configured first, server VAD off',
    )
    t.same(session.messages[session.messages.length - 1], { type: 'input_audio_buffer.commit' })
  },
}

runConformance(t, adapter)
runConnectTimeout(t, adapter)

t.test('deltas become growing partials, completed the final', async (t) => {
  const server = await startRealtimeServer()
  const asr = new OpenAiRealtimeAsr({ url: server.url, apiKey: TEST_KEY })
  t.teardown(() => server.close())
  const stream = asr.stream({ language: 'ru-RU', sampleRate: 16000, hints: ['Битрикс'] })
  stream.write(new Int16Array(320))
  stream.end()
  const results = []
  for await (const r of stream.results()) results.push(r)
  t.same(results, [
    { text: 'привет', final: false },
    { text: 'привет мир', final: false },
    { text: 'привет мир', final: true },
  ])
  t.equal((server.sessions[0].messages[0] as any).session.audio.input.transcription.prompt, 'Битрикс')
})

t.test('an empty stream language falls back to the provider default', async (t) => {
  const server = await startRealtimeServer()
  const asr = new OpenAiRealtimeAsr({ url: server.url, apiKey: TEST_KEY, language: 'en-US' })
  t.teardown(() => server.close())
  const stream = asr.stream({ language: '', sampleRate: 8000 })
  stream.write(new Int16Array(160))
  stream.end()
  for await (const r of stream.results()) void r
  t.equal((server.sessions[0].messages[0] as any).session.audio.input.transcription.language, 'en')
})

t.test('the API base URL (http, /v1) works too, and no key means no Authorization header', async (t) => {
  const server = await startRealtimeServer()
  const asr = new OpenAiRealtimeAsr({ url: `${server.url.replace('ws:', 'http:')}/v1` })
  t.teardown(() => server.close())
  const stream = asr.stream({ language: 'ru-RU', sampleRate: 8000 })
  stream.write(new Int16Array(160))
  stream.end()
  for await (const r of stream.results()) void r
  t.equal(new URL(server.sessions[0].path, 'ws://x').pathname, '/v1/realtime')
  t.equal(server.sessions[0].headers.authorization, undefined)
})
