import t from 'tap'
import { BargeInHold } from './barge-in-hold.ts'

const FRAME = 320 // 20 ms at 16 kHz
const tone = (amp: number, hz: number, from: number) =>
  Int16Array.from({ length: FRAME }, (_, i) => Math.round(amp * Math.sin((2 * Math.PI * hz * (from + i)) / 16000)))
const silence = new Int16Array(FRAME)

function line(minSpeechMs = 60) {
  const holds: number[] = []
  const hold = new BargeInHold({ minSpeechMs, echo: { tailMs: 400, marginDb: 6 }, frameMs: 20 }, (onsetMs) => holds.push(onsetMs))
  let clock = 0
  let n = 0
  /** one 20 ms tick: the bot's frame out, the caller's chunk in */
  const tick = (bot: Int16Array, caller: Int16Array) => {
    clock += 20
    n += FRAME
    hold.onBotFrame(bot)
    return hold.onCallerAudio(caller, 0, clock - 20, clock)
  }
  return { hold, holds, tick, at: () => clock, samples: () => n }
}

t.test("the caller's loud audio over a watched prompt holds it once, from its onset, after the minimum", async (t) => {
  const { hold, holds, tick, at, samples } = line()
  hold.watch(true)
  for (let i = 0; i < 10; i++) tick(silence, silence)
  const onset = at()
  for (let i = 0; i < 2; i++) t.equal(tick(silence, tone(8000, 1000, samples())), true, "the caller's voice is near-end")
  t.same(holds, [], 'not before 60 ms of it')
  tick(silence, tone(8000, 1000, samples()))
  t.same(holds, [onset], 'held at 60 ms, back-dated to the onset')
  for (let i = 0; i < 10; i++) tick(silence, tone(8000, 1000, samples()))
  t.equal(holds.length, 1, 'once for the run')
  hold.released() // the main thread resumed it: a new run holds again
  for (let i = 0; i < 3; i++) tick(silence, silence)
  for (let i = 0; i < 3; i++) tick(silence, tone(8000, 1000, samples()))
  t.equal(holds.length, 2, 'released, the next run holds again')
})

t.test('no hold while not watched, below the loud level, or for a click', async (t) => {
  const { hold, holds, tick, samples } = line()
  for (let i = 0; i < 10; i++) tick(silence, tone(8000, 1000, samples()))
  t.same(holds, [], 'a prompt that may not be interrupted is never held')
  hold.watch(true)
  hold.setLoudDb(-10)
  for (let i = 0; i < 10; i++) tick(silence, tone(3000, 1000, samples()))
  t.same(holds, [], "audio under the endpointer's loud level does not hold")
  hold.setLoudDb(-60)
  tick(silence, tone(8000, 1000, samples()))
  tick(silence, silence)
  t.same(holds, [], 'a 20 ms click does not hold')
})

t.test("the bot's own voice coming back on the line does not hold its prompt", async (t) => {
  const { hold, holds, tick, samples } = line()
  hold.watch(true)
  // 3 s of talk with its echo 10 dB down two frames later: the gate learns the path, then holds nothing.
  const sent: Int16Array[] = []
  let echoed = 0
  for (let i = 0; i < 150; i++) {
    const bot = i % 25 < 15 ? tone(12000, 300 + (i % 7) * 50, samples()) : silence // syllables and pauses
    sent.push(bot)
    const back = sent.length > 2 ? sent[sent.length - 3].map((s) => Math.round(s * 0.316)) : silence
    if (!tick(bot, back as Int16Array) && i > 60) echoed++
  }
  t.same(
    holds.filter((ms) => ms >= 1200),
    [],
    'no hold once the echo path is learnt (the first 1.2 s train it)',
  )
  t.ok(echoed > 20, `the echo is told apart from the caller (${echoed} frames)`)
})
