import { mkdtempSync, readdirSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pino from 'pino'
import t from 'tap'
import { loadScenarioFile } from '../../dialog/scenario/loader.ts'
import { promptTexts } from '../../dialog/scenario/prompt-texts.ts'
import type { TtsChunk, TtsProvider, TtsRequest } from '../../providers/types.ts'
import { ScenarioPrompts } from './scenario-prompts.ts'

const fixture = await loadScenarioFile(fileURLToPath(new URL('../../test/fixtures/scenarios/three-questions/three-questions.yaml', import.meta.url)))
const texts = promptTexts(fixture, 'en')
const logger = pino({ level: 'silent' })

/** A TTS that answers in two 24 kHz chunks, 10 ms of audio per character, and can be told to fail. */
class CountingTts implements TtsProvider {
  readonly name = 'counting'
  readonly asked: string[] = []
  failOn?: string
  async *synthesize(r: TtsRequest): AsyncIterable<TtsChunk> {
    this.asked.push(r.text)
    if (r.text === this.failOn) throw new Error('synthesis failed')
    const n = r.text.length * 240
    yield { sampleRate: 24000, pcm: new Int16Array(n / 2).fill(1000) }
    yield { sampleRate: 24000, pcm: new Int16Array(n / 2).fill(-1000) }
  }
  async close(): Promise<void> {}
}

t.test('the opening prompt first, then the rest; audio at 16 kHz', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'scenario-prompts-'))
  const tts = new CountingTts()
  const prompts = new ScenarioPrompts(tts, dir, 'en', 'en | counting', logger)
  t.notOk(prompts.ready(fixture))
  await prompts.warm([fixture], { opening: true })
  t.same(tts.asked, [texts[0]], 'only the opening prompt')
  t.ok(prompts.ready(fixture), 'ready once the opening prompt is')
  t.equal(prompts.get(texts[1]), undefined)
  await prompts.warm([fixture])
  t.same(tts.asked, texts, 'then each other prompt once, in order')
  const pcm = prompts.get(texts[0])!
  t.equal(pcm.length, texts[0].length * 160, '10 ms per character at 16 kHz')
  t.ok(pcm[10] > 0 && pcm[pcm.length - 10] < 0, 'both chunks, in order')
  t.equal(readdirSync(dir).filter((f) => f.endsWith('.wav')).length, texts.length, 'each prompt on disk')
})

t.test('a restart reads the disk; another voice synthesises again', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'scenario-prompts-'))
  await new ScenarioPrompts(new CountingTts(), dir, 'en', 'en | counting', logger).warm([fixture])
  const again = new CountingTts()
  const restarted = new ScenarioPrompts(again, dir, 'en', 'en | counting', logger)
  await restarted.warm([fixture])
  t.same(again.asked, [], 'nothing synthesised after a restart')
  t.equal(restarted.get(texts[0])!.length, texts[0].length * 160)
  const other = new CountingTts()
  await new ScenarioPrompts(other, dir, 'en', 'en | counting voice-b', logger).warm([fixture])
  t.same(other.asked, texts, 'a different voice does not get the old audio')
})

t.test('a prompt that fails is left for the call; the others are warmed', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'scenario-prompts-'))
  const tts = new CountingTts()
  tts.failOn = texts[2]
  const prompts = new ScenarioPrompts(tts, dir, 'en', 'en | counting', logger)
  await prompts.warm([fixture])
  t.equal(prompts.get(texts[2]), undefined)
  t.same(
    texts.filter((x) => !prompts.get(x)),
    [texts[2]],
  )
  tts.failOn = undefined
  await prompts.warm([fixture])
  t.ok(prompts.get(texts[2]), 'tried again at the next warm (a reload)')
})

t.test('a scenario without the server language is skipped', async (t) => {
  const tts = new CountingTts()
  const prompts = new ScenarioPrompts(tts, mkdtempSync(path.join(os.tmpdir(), 'scenario-prompts-')), 'en', 'en | counting', logger)
  await prompts.warm([{ ...fixture, languages: ['ru'] }])
  t.same(tts.asked, [])
})

t.test('a reloaded scenario keeps the audio of what it still says and drops the rest', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'scenario-prompts-'))
  const tts = new CountingTts()
  const prompts = new ScenarioPrompts(tts, dir, 'en', 'en | counting', logger)
  await prompts.warm([fixture])
  const old = fixture.prompts.redirect!.en!
  t.ok(prompts.get(old), 'the redirect prompt is ready')
  const edited = structuredClone(fixture)
  edited.prompts.redirect!.en = 'A sales manager will call you back about that.'
  tts.asked.length = 0
  await prompts.warm([edited])
  t.same(tts.asked, ['A sales manager will call you back about that.'], 'only the new text is synthesised')
  t.equal(prompts.get(old), undefined, 'the text it no longer says is gone from memory')
  t.ok(prompts.get(texts[0]), 'the texts it still says stay')
})

t.test('a prompt made for one call: its audio within the budget, nothing past it, never on disk', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'scenario-prompts-'))
  const tts = new CountingTts()
  const prompts = new ScenarioPrompts(tts, dir, 'en', 'en | counting', logger)
  const pcm = await prompts.synthesizeNow('Hello, Anna!', 1000)
  t.equal(pcm?.length, 'Hello, Anna!'.length * 160, 'ready in time: the audio at 16 kHz')
  t.equal(readdirSync(dir).filter((f) => f.endsWith('.wav')).length, 0, 'a caller-specific text is not cached')
  t.equal(prompts.get('Hello, Anna!'), undefined)
  class SlowTts extends CountingTts {
    override async *synthesize(r: TtsRequest): AsyncIterable<TtsChunk> {
      await new Promise((res) => setTimeout(res, 500))
      yield* super.synthesize(r)
    }
  }
  const slow = new ScenarioPrompts(new SlowTts(), dir, 'en', 'en | slow', logger)
  const started = Date.now()
  t.equal(await slow.synthesizeNow('Hello, Anna!', 100), undefined, 'not ready within the budget: nothing')
  t.ok(Date.now() - started < 400, `given up at the budget (${Date.now() - started} ms)`)
  const failing = new CountingTts()
  failing.failOn = 'Hello, Boris!'
  t.equal(await new ScenarioPrompts(failing, dir, 'en', 'en | counting', logger).synthesizeNow('Hello, Boris!', 1000), undefined, 'a failed synthesis: nothing')
})
