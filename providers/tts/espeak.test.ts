import t from 'tap'
import { Registry } from 'prom-client'
import { ProviderError, type TtsChunk } from '../types.ts'
import { EspeakProvider } from './espeak.ts'

const registry = new Registry()
const tts = new EspeakProvider({ timeouts: { connectMs: 1000, responseMs: 20_000 }, registry })
t.teardown(() => tts.close())

t.test('speaks Russian at 8 kHz in several pieces, the first one short', async (t) => {
  const chunks: TtsChunk[] = []
  for await (const c of tts.synthesize({ text: 'Добрый день, это отдел продаж.', voice: 'ru', language: 'ru-RU', sampleRate: 8000 })) chunks.push(c)
  t.ok(chunks.length >= 3, `${chunks.length} pieces`)
  t.ok(chunks.every((c) => c.sampleRate === 8000))
  t.ok(chunks[0].pcm.length <= 8000 * 0.25, 'the first piece is at most ~200 ms')
  const total = chunks.reduce((n, c) => n + c.pcm.length, 0)
  t.ok(total > 8000 * 0.8 && total < 8000 * 6, `a plausible length: ${total} samples`)
  const peak = chunks.reduce((m, c) => c.pcm.reduce((a, v) => Math.max(a, Math.abs(v)), m), 0)
  t.ok(peak > 2000, 'not silence')
  t.match(await registry.metrics(), /voice_tts_first_audio_seconds_count\{provider="espeak"\} 1/)
})

t.test('the voice follows the language when the voice is not an eSpeak one', async (t) => {
  let n = 0
  for await (const c of tts.synthesize({ text: 'Hello.', voice: 'alloy', language: 'en-US', sampleRate: 16000 })) n += c.pcm.length
  t.ok(n > 0)
})

t.test('an unknown language is a clear error', async (t) => {
  await t.rejects(
    (async () => {
      for await (const _ of tts.synthesize({ text: 'Hallo', voice: 'de', language: 'de-DE', sampleRate: 8000 }));
    })(),
    { name: 'ProviderError', kind: 'protocol', message: /no eSpeak voice/ },
  )
})

t.test('cancel before the audio ends stops with cancelled', async (t) => {
  const ac = new AbortController()
  let pieces = 0
  try {
    for await (const _ of tts.synthesize({
      text: 'Раз два три четыре пять шесть семь восемь девять десять.',
      voice: 'ru',
      language: 'ru',
      sampleRate: 8000,
      signal: ac.signal,
    })) {
      pieces++
      ac.abort()
    }
    t.fail('should throw')
  } catch (err) {
    t.ok(err instanceof ProviderError)
    t.equal((err as ProviderError).kind, 'cancelled')
  }
  t.equal(pieces, 1, 'nothing after the cancel')
})
