import t from 'tap'
import { concat, silence, tones } from '../../test/amd/signals.ts'
import { AmdDetector, type AmdDecision, type AmdOptions } from './amd-detector.ts'

const W = 256 // one 32 ms Silero window at 8 kHz
const QUIET = new Int16Array(W)

/** Feeds windows from a script of [speech probability, ms] runs; returns the decision. */
function run(script: Array<[number, number]>, opts: Partial<AmdOptions> = {}): AmdDecision | undefined {
  const amd = new AmdDetector(8000, opts)
  let endMs = 0
  for (const [p, ms] of script) {
    for (let t = 0; t < ms; t += 32) {
      endMs += 32
      const d = amd.push({ pcm: QUIET, endMs, speechProb: p })
      if (d) return d
    }
  }
  return amd.decision
}

t.test('the app_amd rules, on the call timeline', async (t) => {
  t.same(
    run([
      [0, 320],
      [0.9, 448],
      [0, 2000],
    ]),
    { result: 'human', reason: 'short-greeting-then-silence', decisionMs: 320 + 448 + 800 },
    'a short word, then 800 ms of silence: a person',
  )
  t.same(run([[0, 3000]]), { result: 'unknown', reason: 'initial-silence', decisionMs: 2528 }, 'nothing said by 2.5 s: unknown')
  t.same(
    run([
      [0, 224],
      [0.9, 3000],
    ]),
    { result: 'machine', reason: 'long-greeting', decisionMs: 224 + 1504 },
    '1.5 s of voice: a machine',
  )
  const words = Array.from({ length: 6 }, () => [[0.9, 160] as [number, number], [0, 96] as [number, number]]).flat()
  t.same(run(words), { result: 'machine', reason: 'many-words', decisionMs: 3 * 256 + 128 }, 'the fourth word: a machine')
  t.same(
    run([
      [0.9, 64],
      [0, 3000],
    ]),
    { result: 'unknown', reason: 'initial-silence', decisionMs: 2528 },
    'a click (64 ms of voice) is not a word',
  )
  t.same(
    run([
      [0.9, 320],
      [0.4, 640],
      [0, 800],
    ]),
    { result: 'human', reason: 'short-greeting-then-silence', decisionMs: 320 + 640 + 800 },
    'the probability stays speech above speechOff once it was above speechOn',
  )
  const paced = Array.from({ length: 20 }, () => [[0.9, 160] as [number, number], [0, 640] as [number, number]]).flat()
  t.same(
    run(paced, { maxWords: 10 }),
    { result: 'unknown', reason: 'timeout', decisionMs: 3488 },
    'undecided by the last window within the total analysis time: unknown',
  )
})

t.test('a beep decides at once, even in the initial silence', async (t) => {
  const amd = new AmdDetector(8000)
  const audio = concat(silence(500), tones([1000], 500, 6000), silence(500))
  let d: AmdDecision | undefined
  for (let i = 0; i + W <= audio.length && !d; i += W) d = amd.push({ pcm: audio.subarray(i, i + W), endMs: ((i + W) * 1000) / 8000, speechProb: 0 })
  t.equal(d?.result, 'machine')
  t.equal(d?.reason, 'beep')
  t.ok(d && d.decisionMs > 600 && d.decisionMs <= 700, `at ${d?.decisionMs} ms, 100-200 ms into the tone`)
})

t.test('words from a recogniser; one decision only; timeout()', async (t) => {
  const amd = new AmdDetector(8000)
  t.equal(amd.pushTranscript('Да, слушаю, кто это?', 900), undefined, 'four words are a person’s sentence')
  t.same(amd.pushTranscript('Здравствуйте, вы позвонили в компанию', 1200), { result: 'machine', reason: 'many-words', decisionMs: 1200 })
  t.equal(amd.push({ pcm: QUIET, endMs: 4000, speechProb: 0 }), undefined, 'nothing more after the decision')
  t.same(amd.timeout(3500), { result: 'machine', reason: 'many-words', decisionMs: 1200 }, 'timeout() returns the decision made')
  t.same(new AmdDetector(16000).timeout(3500), { result: 'unknown', reason: 'timeout', decisionMs: 3500 }, 'no audio at all: unknown')
})

t.test('after a machine decision: the greeting ends at its beep, or at a long silence', async (t) => {
  const bySilence = new AmdDetector(8000)
  let endMs = 0
  const feed = (amd: AmdDetector, p: number, ms: number, pcm = QUIET) => {
    for (let i = 0; i < ms; i += 32) amd.push({ pcm, endMs: (endMs += 32), speechProb: p })
  }
  feed(bySilence, 0.9, 1600)
  t.equal(bySilence.decision?.reason, 'long-greeting')
  feed(bySilence, 0.9, 1024)
  feed(bySilence, 0, 800) // a pause between sentences
  feed(bySilence, 0.9, 512)
  t.equal(bySilence.greetingEnd, undefined, 'a pause shorter than endOfGreetingSilenceMs is not the end')
  feed(bySilence, 0, 1500)
  t.same(bySilence.greetingEnd, { by: 'silence', atMs: 1600 + 1024 + 800 + 512 + 1216 })

  const byBeep = new AmdDetector(8000)
  endMs = 0
  feed(byBeep, 0.9, 1600)
  feed(byBeep, 0.9, 320)
  const beep = concat(tones([1000], 480, 6000), silence(32))
  for (let i = 0; i + W <= beep.length; i += W) byBeep.push({ pcm: beep.subarray(i, i + W), endMs: (endMs += 32), speechProb: 0 })
  t.match(byBeep.greetingEnd, { by: 'beep' })
  const after = byBeep.greetingEnd!.atMs - 1920 - 480
  t.ok(after >= 0 && after <= 64, `the greeting ends ${after} ms after the beep does`)

  const human = new AmdDetector(8000)
  endMs = 0
  feed(human, 0.9, 300)
  feed(human, 0, 3000)
  t.equal(human.decision?.result, 'human')
  t.equal(human.greetingEnd, undefined, 'a person has no greeting to wait for')
})
