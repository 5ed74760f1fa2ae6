import t from 'tap'
import { speechAndVad } from '../test/helpers/speech-and-vad.ts'
import { Endpointer, type EndpointEvent } from './endpointer.ts'
import { levelDb } from './level.ts'
import { WINDOW_MS } from './silero-vad.ts'

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

t.test('Silero + endpointer: utterance boundaries within one window of the truth', async (t) => {
  const { vad, speak } = await speechAndVad(t)
  for (const [text, lang] of [
    ['Please call me back tomorrow after lunch.', 'en'],
    ['Перезвоните мне завтра после обеда.', 'ru'],
  ] as const) {
    const speech = trim(await speak(text, lang))
    // Truth: the speech starts 1000 ms in (plus an offset inside a window) and lasts speech.length.
    const lead = 16000 + 200
    const signal = new Int16Array(lead + speech.length + 16000 * 2)
    signal.set(speech, lead)
    const truth = { start: lead / 16, end: (lead + speech.length) / 16 }
    const ep = new Endpointer({ minSpeechMs: 96, endSilenceMs: 480, maxUtteranceMs: 15000 })
    const events: EndpointEvent[] = []
    let speaking = false
    const stream = vad.open(16000, (p, i) => {
      speaking = p >= 0.5 || (speaking && p >= 0.35)
      const ev = ep.push(speaking, i * WINDOW_MS, WINDOW_MS, levelDb(signal.subarray(i * 512, (i + 1) * 512), 32768))
      if (ev) events.push(ev)
    })
    for (let i = 0; i + 512 <= signal.length; i += 512) {
      stream.push(signal.subarray(i, i + 512))
      await vad.tick()
    }
    stream.close()
    const ends = events.filter((e) => e.type === 'end')
    t.equal(ends.length, 1, `${lang}: one utterance`)
    const end = ends[0] as Extract<EndpointEvent, { type: 'end' }>
    t.ok(Math.abs(end.startMs - truth.start) <= WINDOW_MS, `${lang}: start ${end.startMs} ms, truth ${truth.start} ms`)
    t.ok(Math.abs(end.endMs - truth.end) <= WINDOW_MS, `${lang}: end ${end.endMs} ms, truth ${truth.end.toFixed(0)} ms`)
  }
})

/** Speech without eSpeak's leading and trailing near-silence (below -50 dBFS in 10 ms frames). */
function trim(pcm: Int16Array): Int16Array {
  const frame = 160
  const loud = (i: number) => levelDb(pcm.subarray(i, i + frame), 32768) > -50
  let a = 0
  while (a < pcm.length && !loud(a)) a += frame
  let b = pcm.length - frame
  while (b > a && !loud(b)) b -= frame
  return pcm.slice(a, b + frame)
}

t.test('a quiet tail after the last frame completes the end silence early', async (t) => {
  const ep = new Endpointer(opts) // 300 ms end silence
  for (let i = 0; i < 10; i++) ep.push(true, i * 32, 32)
  for (let i = 10; i < 18; i++) t.equal(ep.push(false, i * 32, 32), null) // 256 ms of silence
  t.equal(ep.quietTail(40), null, '256 + 40 ms is not yet the end silence')
  t.same(ep.quietTail(44), { type: 'end', startMs: 0, endMs: 320, truncated: false }, '256 + 44 ms is')
  t.equal(ep.active, false)
  t.equal(ep.quietTail(300), null, 'no utterance, no end')
  t.equal(ep.push(false, 18 * 32, 32), null, 'the window that completes the tail starts nothing')
})
