import t from 'tap'
import { YandexSpeechKitAsr } from './yandex-speechkit.ts'
import { TEST_KEY, runConformance, runConnectTimeout, type AdapterUnderTest } from '../../test/providers/asr-conformance.ts'
import { startSpeechKitServer } from '../../test/providers/asr-servers.ts'

const adapter: AdapterUnderTest = {
  start: startSpeechKitServer,
  provider: (url, { apiKey, registry, timeouts, logger }) => new YandexSpeechKitAsr({ url, apiKey, registry, timeouts, logger, folderId: 'b1gfolder' }),
  urlForPort: (port) => `http://127.0.0.1:${port}`,
  partialsBeforeEnd: true,
  checkSession(t, session, options) {
    t.equal(session.headers.authorization, `Api-Key ${TEST_KEY}`)
    t.equal(session.headers['x-folder-id'], 'b1gfolder')
    t.match(
      session.messages[0],
      {
        recognition_model: {
          model: 'general',
          audio_format: { raw_audio: { audio_encoding: 'LINEAR16_PCM', sample_rate_hertz: options.sampleRate, audio_channel_count: 1 } },
          text_normalization: { text_normalization: 'TEXT_NORMALIZATION_DISABLED' },
          language_restriction: { restriction_type: 'WHITELIST', language_code: [options.language] },
        },
      },
      'session_options first',
    )
  },
}

runConformance(t, adapter)
runConnectTimeout(t, adapter)

t.test('with normalisation the refined text is the final, the raw final a partial', async (t) => {
  const server = await startSpeechKitServer()
  const asr = new YandexSpeechKitAsr({ url: server.url, iamToken: 'iam-token', normalize: true })
  t.teardown(async () => {
    await asr.close()
    await server.close()
  })
  const stream = asr.stream({ language: 'ru-RU', sampleRate: 16000 })
  stream.write(new Int16Array(320))
  stream.end()
  const results = []
  for await (const r of stream.results()) results.push(r)
  t.same(results, [
    { text: 'привет', final: false, startMs: 120, endMs: 1040 },
    { text: 'привет мир', final: false, startMs: 120, endMs: 1040 },
    { text: 'привет, мир', final: true, startMs: 120, endMs: 1040 },
  ])
  t.equal(server.sessions[0].headers.authorization, 'Bearer iam-token')
})
