import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { speechAndVad } from '../../test/helpers/speech-and-vad.ts'
import { BargeInHold } from '../../vad/barge-in-hold.ts'
import { SileroVad } from '../../vad/silero-vad.ts'
import type { AsrProvider } from '../../providers/types.ts'
import { Listener, type BargeInEvent } from './listener.ts'

const CHUNK = 320 // 20 ms at 16 kHz, as the jitter buffer hands it over

function openListener(
  t: Test,
  vad: SileroVad,
  now: () => number,
  onBargeIn: (ev: BargeInEvent) => void,
  onLoudDb: (db: number) => void = () => {},
  more: Partial<ConstructorParameters<typeof Listener>[0]> = {},
): Listener {
  const listener = new Listener({
    vad,
    sampleRate: 16000,
    turn: { minSpeechMs: 96, endSilenceMs: 500, maxUtteranceMs: 10000, noInputMs: 5000, interDigitMs: 3000 },
    bargeIn: { minSpeechMs: 60, confirmMs: 400 },
    clipDir: mkdtempSync(path.join(os.tmpdir(), 'listener-')),
    now,
    onBargeIn,
    onLoudDb,
    onError: (err) => t.fail(err.message),
    ...more,
  })
  t.teardown(() => listener.close())
  return listener
}

/** The listener and the media session's half of barge-in (step one, the echo gate), wired as a
 *  call wires them, on a simulated clock. */
function openLine(t: Test, vad: SileroVad, now: () => number, events: BargeInEvent[]) {
  let listener: Listener | undefined
  const hold = new BargeInHold({ minSpeechMs: 60, echo: { tailMs: 400, marginDb: 6 }, frameMs: 20 }, (onsetMs) => listener!.held(onsetMs, now()))
  listener = openListener(
    t,
    vad,
    now,
    (ev) => {
      if (ev.stage !== 'held') hold.released()
      events.push(ev)
    },
    (db) => hold.setLoudDb(db),
  )
  return {
    listener,
    prompt(interruptible: boolean) {
      listener.promptStarted(interruptible)
      hold.watch(interruptible)
    },
    promptEnded() {
      listener.promptEnded()
      hold.watch(false)
    },
    /** 20 ms of the bot's audio out and of the caller's in */
    chunk(bot: Int16Array, caller: Int16Array) {
      hold.onBotFrame(bot)
      listener.onAudio(caller, hold.onCallerAudio(caller, 0, now() - 20, now()))
    },
  }
}

t.test('barge-in: held then confirmed on speech, resumed after a beep, never on a non-interruptible prompt', async (t) => {
  const { vad, speak } = await speechAndVad(t)
  const speech = await speak('Подождите, пожалуйста, у меня вопрос.', 'ru')
  // A beep: 160 ms of a 1 kHz tone, then silence. Loud enough to hold, not speech to confirm.
  const burst = Int16Array.from({ length: 2560 }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 1000 * i) / 16000)))

  let clock = 0
  const events: BargeInEvent[] = []
  const line = openLine(t, vad, () => clock, events)
  const silentBot = new Int16Array(CHUNK)
  const play = async (pcm: Int16Array) => {
    for (let i = 0; i + CHUNK <= pcm.length; i += CHUNK) {
      clock += 20
      line.chunk(silentBot, pcm.subarray(i, i + CHUNK)) // a clean line: the bot's audio never comes back
      await vad.tick()
    }
  }
  await play(new Int16Array(16000)) // a second of silence first

  line.prompt(false)
  await play(speech)
  await play(new Int16Array(16000))
  line.promptEnded()
  t.same(events, [], 'a non-interruptible prompt is never interrupted')

  line.prompt(true)
  await play(burst)
  await play(new Int16Array(16000))
  line.promptEnded()
  t.same(
    events.map((e) => e.stage),
    ['held', 'resumed'],
    'a beep holds the prompt, then it resumes',
  )

  events.length = 0
  line.prompt(true)
  const onsetAt = clock
  await play(speech)
  line.promptEnded()
  t.same(
    events.map((e) => e.stage),
    ['held', 'confirmed'],
    'speech holds, then confirms',
  )
  const held = events[0]
  t.ok(held.onsetMs >= onsetAt - 32 && held.onsetMs <= onsetAt + 64, `onset ${held.onsetMs - onsetAt} ms from the first speech chunk`)
  // The hold works on 20 ms chunks by energy: the 60 ms minimum after the first loud chunk, no model wait.
  t.ok(held.atMs - onsetAt <= 100, `held ${held.atMs - onsetAt} ms after the speech began (simulated clock)`)
})

t.test('keypad answers end at the terminator or at maxDigits, not after the pause', async (t) => {
  const vad = await SileroVad.load({ tickMs: 1000 })
  t.teardown(() => vad.close())
  const listener = openListener(
    t,
    vad,
    () => 0,
    () => {},
  )
  const race = (p: Promise<unknown>) => Promise.race([p, new Promise((r) => setTimeout(() => r('still waiting'), 200))])

  const menu = listener.listen({ digits: true, maxDigits: 1, slot: 'menu' })
  listener.onDigit('2')
  t.same(await race(menu), { kind: 'digits', digits: '2', atMs: 0 }, 'a one-key menu answers at the key press')

  const code = listener.listen({ digits: true, maxDigits: 6, slot: 'code' })
  for (const d of '12#') listener.onDigit(d)
  t.same(await race(code), { kind: 'digits', digits: '12', atMs: 0 }, 'the terminator ends it and is not part of it')

  const star = listener.listen({ digits: true, terminator: '*', slot: 'code' })
  for (const d of '4#') listener.onDigit(d)
  t.equal(await race(star), 'still waiting', "with '*' as the terminator, '#' is a digit and the answer waits")
  listener.onDigit('*')
  t.same(await star, { kind: 'digits', digits: '4#', atMs: 0 })

  listener.onDigit('7') // typed ahead, during the next prompt
  listener.onDigit('8')
  const ahead = listener.listen({ digits: true, maxDigits: 1, slot: 'menu' })
  t.same(await race(ahead), { kind: 'digits', digits: '7', atMs: 0 }, 'type-ahead: the first key is the menu choice')
})

t.test('an answer ends on the packet that completes the end silence, whatever the window phase', async (t) => {
  const { vad, speak } = await speechAndVad(t)
  const speech = await speak('Иван Петров', 'ru')
  const late: number[] = []
  // The speech starts at a different offset against the 32 ms windows and 20 ms packets each time.
  for (let phase = 0; phase < 8; phase++) {
    let clock = 0
    const listener = openListener(
      t,
      vad,
      () => clock,
      () => {},
    )
    const line = new Int16Array(16000 + phase * 64 + speech.length + 16000)
    line.set(speech, 16000 + phase * 64)
    const answer = listener.listen({ digits: false, slot: 'name' })
    let got: Awaited<typeof answer> | undefined
    void answer.then((a) => (got = a))
    for (let i = 0; i + CHUNK <= line.length && !got; i += CHUNK) {
      clock += 20
      listener.onAudio(line.subarray(i, i + CHUNK), true)
      await vad.tick()
    }
    got ??= await answer // the clip is written before the answer resolves
    t.equal(got?.kind, 'speech', `phase ${phase}: an utterance`)
    if (got?.kind !== 'speech') continue
    late.push(got.detectedMs - got.endMs - 500)
  }
  t.comment(`end declared after the 500 ms silence by: ${late.join(', ')} ms`)
  t.ok(
    late.every((ms) => ms >= 0 && ms < 20),
    'never early, and at most one packet late',
  )
})

t.test('a window watcher gets every VAD window (its audio, end, probability) and the recogniser’s text, until unset', async (t) => {
  const { vad, speak } = await speechAndVad(t)
  const speech = await speak('Алло, слушаю.', 'ru')
  const audio = new Int16Array(speech.length + 16000) // a second of silence after it
  audio.set(speech)
  // A recogniser that gives a partial at once and its final when the utterance ends.
  const asr: AsrProvider = {
    name: 'fake',
    close: async () => {},
    stream: () => {
      let ended!: () => void
      const end = new Promise<void>((resolve) => (ended = resolve))
      return {
        write() {},
        end: () => ended(),
        cancel: () => ended(),
        async *results() {
          yield { text: 'алло', final: false }
          await end
          yield { text: 'алло слушаю', final: true }
        },
      }
    },
  }
  let now = 0
  const listener = openListener(
    t,
    vad,
    () => now,
    () => {},
    () => {},
    { asr: { provider: asr, language: 'ru-RU', finalTimeoutMs: 1000 } },
  )
  const windows: Array<{ pcm: Int16Array; endMs: number; speechProb: number }> = []
  const texts: string[] = []
  listener.watchWindows({ window: (w) => windows.push({ ...w, pcm: w.pcm.slice() }), transcript: (text) => texts.push(text) })
  const half = audio.length / 2 - ((audio.length / 2) % CHUNK)
  for (let i = 0; i + CHUNK <= audio.length; i += CHUNK) {
    if (i === half) listener.watchWindows(undefined)
    now = ((i + CHUNK) * 1000) / 16000
    listener.onAudio(audio.subarray(i, i + CHUNK), true)
    await vad.tick()
  }
  await new Promise((r) => setImmediate(r))
  t.equal(windows.length, Math.floor(half / 512), `the windows of the first half only: ${windows.length}`)
  t.ok(
    windows.every((w, i) => w.endMs === ((i + 1) * 512 * 1000) / 16000 && w.pcm.every((s, k) => s === audio[i * 512 + k])),
    'each with its own samples and its end on the timeline',
  )
  t.ok(
    windows.some((w) => w.speechProb > 0.5),
    'and the model’s probability',
  )
  t.same(texts, ['алло'], 'the partial text came while watched; the final after it was unset does not')
})
