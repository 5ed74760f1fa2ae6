import t from 'tap'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { EspeakTts, type Synthesized, type Voice } from '../../providers/tts/espeak-engine.ts'
import { PromptCache, promptHash } from './prompt-cache.ts'

function sameAudio(a: Synthesized, b: Synthesized): boolean {
  return (
    a.sampleRate === b.sampleRate &&
    Buffer.from(a.pcm.buffer, a.pcm.byteOffset, a.pcm.byteLength).equals(Buffer.from(b.pcm.buffer, b.pcm.byteOffset, b.pcm.byteLength))
  )
}

// A TTS stand-in that counts calls and can be told to fail.
function fakeTts() {
  const fake = {
    calls: 0,
    fail: false,
    async synthesize(text: string, _voice: Voice): Promise<Synthesized> {
      fake.calls++
      if (fake.fail) throw new Error('tts down')
      return { sampleRate: 8000, pcm: Int16Array.from(text, (c) => c.charCodeAt(0)) }
    },
  }
  return fake
}

t.test('synthesises once, then serves from memory and from disk', async (t) => {
  const tts = new EspeakTts()
  t.teardown(() => tts.close())
  let calls = 0
  const counted = {
    synthesize(text: string, voice: Voice) {
      calls++
      return tts.synthesize(text, voice)
    },
  }
  const dir = join(t.testdir(), 'prompts')
  const text = 'Здравствуйте! Вы позвонили в отдел продаж.'

  const cache = new PromptCache(counted, dir)
  const first = await cache.get('greeting', text, 'ru')
  t.equal(calls, 1)
  t.ok(first.pcm.length / first.sampleRate > 0.5, 'real audio')
  const second = await cache.get('greeting', text, 'ru')
  t.equal(calls, 1, 'no second synthesis')
  t.ok(sameAudio(first, second), 'identical audio')

  await cache.flush()
  t.ok(existsSync(join(dir, `${promptHash('ru', text)}.wav`)), 'persisted under the hash of voice and text')

  const restarted = new PromptCache(counted, dir)
  const third = await restarted.get('greeting', text, 'ru')
  t.equal(calls, 1, 'a new cache on the same dir does not synthesise')
  t.ok(sameAudio(first, third), 'identical audio from disk')
})

t.test('keys, voices and concurrency', async (t) => {
  const tts = fakeTts()
  const cache = new PromptCache(tts, t.testdir())

  const [a, b] = await Promise.all([cache.get('q1', 'Как вас зовут?', 'ru'), cache.get('q1', 'Как вас зовут?', 'ru')])
  t.equal(tts.calls, 1, 'concurrent gets share one synthesis')
  t.equal(a, b)

  await cache.get('q1', 'Как вас зовут?', 'en')
  t.equal(tts.calls, 2, 'another voice is another prompt')
  await cache.get('q1', 'Как к вам обращаться?', 'ru')
  t.equal(tts.calls, 3, 'new text for a key is synthesised')
  await cache.flush()
  await cache.get('q1', 'Как вас зовут?', 'ru')
  t.equal(tts.calls, 3, 'the earlier text is still on disk')
})

t.test('a failed synthesis is not memoised', async (t) => {
  const tts = fakeTts()
  const cache = new PromptCache(tts, t.testdir())
  tts.fail = true
  await t.rejects(cache.get('bye', 'До свидания', 'ru'), /tts down/)
  tts.fail = false
  t.ok((await cache.get('bye', 'До свидания', 'ru')).pcm.length > 0)
  t.equal(tts.calls, 2)
  await cache.flush()
})

t.test('an unreadable file is synthesised again and replaced', async (t) => {
  const tts = fakeTts()
  const dir = t.testdir()
  writeFileSync(join(dir, `${promptHash('en', 'Hello')}.wav`), 'not a wav')
  const cache = new PromptCache(tts, dir)
  const audio = await cache.get('hello', 'Hello', 'en')
  t.equal(tts.calls, 1)
  await cache.flush()
  const again = await new PromptCache(tts, dir).get('hello', 'Hello', 'en')
  t.equal(tts.calls, 1, 'the replacement is read back')
  t.ok(sameAudio(audio, again))
})

t.test('a write failure does not fail the prompt', async (t) => {
  const tts = fakeTts()
  const blocker = join(t.testdir(), 'file')
  writeFileSync(blocker, '')
  const warnings: string[] = []
  const logger = { warn: (_obj: unknown, msg: string) => warnings.push(msg) } as unknown as Logger
  // the cache dir would be inside a regular file, so mkdir fails
  const cache = new PromptCache(tts, join(blocker, 'prompts'), { logger })
  t.ok((await cache.get('x', 'x', 'en')).pcm.length > 0)
  await cache.flush()
  t.ok(warnings.includes('prompt not saved; it will be synthesised again'), 'the failed write is logged')
})
