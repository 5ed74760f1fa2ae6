import t from 'tap'
import { OpenAiTranscriptionsAsr } from './openai-transcriptions.ts'
import { TEST_KEY, runConformance, type AdapterUnderTest } from '../../test/providers/asr-conformance.ts'
import { startTranscriptionsServer } from '../../test/providers/asr-servers.ts'

const adapter: AdapterUnderTest = {
  start: startTranscriptionsServer,
  provider: (url, { apiKey, registry, timeouts, logger }) => new OpenAiTranscriptionsAsr({ url, apiKey, registry, timeouts, logger, model: 'large-v3' }),
  urlForPort: (port) => `http://127.0.0.1:${port}/v1`,
  partialsBeforeEnd: false,
  checkSession(t, session) {
    t.equal(session.path, '/v1/audio/transcriptions')
    t.equal(session.headers.authorization, `Bearer ${TEST_KEY}`)
    t.match(session.headers['content-type'], /^multipart\/form-data; boundary=/)
    t.same(
      session.messages[0],
      { model: 'large-v3', language: 'ru', response_format: 'json', wavSampleRate: '8000' },
      'form fields and a WAV at the stream rate',
    )
  },
}

runConformance(t, adapter)

t.test('a keyless local server gets no Authorization header; the connection is reused', async (t) => {
  const server = await startTranscriptionsServer()
  const asr = new OpenAiTranscriptionsAsr({ url: server.url })
  t.teardown(async () => {
    await asr.close()
    await server.close()
  })
  for (let i = 0; i < 2; i++) {
    const stream = asr.stream({ language: 'en-US', sampleRate: 16000 })
    stream.write(new Int16Array(320))
    stream.end()
    for await (const r of stream.results()) t.same(r, { text: 'привет мир', final: true })
  }
  t.equal(server.sessions[0].headers.authorization, undefined)
  t.equal(server.sessions[1].headers.connection, 'keep-alive')
})

t.test('hints go out as the prompt, a line break cannot end the form part', async (t) => {
  const server = await startTranscriptionsServer()
  const asr = new OpenAiTranscriptionsAsr({ url: server.url })
  t.teardown(async () => {
    await asr.close()
    await server.close()
  })
  const stream = asr.stream({ language: 'ru-RU', sampleRate: 16000, hints: ['Битрикс24', 'CRM\r\nContent-Disposition: x'] })
  stream.write(new Int16Array(320))
  stream.end()
  for await (const r of stream.results()) void r
  t.match(server.sessions[0].messages[0], { prompt: 'Битрикс24, CRM Content-Disposition: x', wavSampleRate: '16000' })
})
