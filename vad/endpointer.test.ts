import t from 'tap'
import { Endpointer } from './endpointer.ts'
import { EnergyDetector } from './energy-detector.ts'

const opts = { minSpeechMs: 100, endSilenceMs: 300, maxUtteranceMs: 2000 }

/** Feeds a pattern of 20 ms frames ('s' speech, '.' silence) and collects the events. */
function run(pattern: string, o = opts) {
  const ep = new Endpointer(o)
  const events = []
  for (let i = 0; i < pattern.length; i++) {
    const ev = ep.push(pattern[i] === 's', i * 20, 20)
    if (ev) events.push(ev)
  }
  return events
}

t.test('an utterance is back-dated to its first speech frame and ends at its last', async (t) => {
  const ev = run('.....' + 's'.repeat(20) + '.'.repeat(20))
  t.same(ev, [
    { type: 'start', atMs: 100 },
    { type: 'end', startMs: 100, endMs: 500, truncated: false },
  ])
})

t.test('a click shorter than the minimum speech never starts an utterance', async (t) => {
  t.same(run('..ss..sss....'), [])
})

t.test('a short pause inside speech does not end the utterance', async (t) => {
  const ev = run('s'.repeat(10) + '.'.repeat(10) + 's'.repeat(10) + '.'.repeat(20))
  t.equal(ev.length, 2)
  t.same(ev[1], { type: 'end', startMs: 0, endMs: 600, truncated: false })
})

t.test('a long utterance is cut at the maximum length', async (t) => {
  const ev = run('s'.repeat(200))
  t.same(ev[1], { type: 'end', startMs: 0, endMs: 2000, truncated: true })
})

t.test('energy detector: silence and quiet noise are not speech, a loud tone is', async (t) => {
  const d = new EnergyDetector()
  const silence = new Int16Array(160)
  const noise = Int16Array.from({ length: 160 }, () => Math.round((Math.random() - 0.5) * 60))
  const tone = Int16Array.from({ length: 160 }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 8000)))
  for (let i = 0; i < 20; i++) t.notOk(d.isSpeech(i % 2 ? silence : noise))
  t.ok(d.isSpeech(tone))
  t.ok(EnergyDetector.levelDb(tone) > -20)
  t.equal(EnergyDetector.levelDb(silence), -120)
})
