import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { BroadcastChannel } from 'node:worker_threads'
import ESpeakNg from 'espeak-ng'
import { EspeakTts } from './espeak-engine.ts'

const FRAME_MS = 20

// Share of 20 ms frames that are loud, and of those that are also periodic at a speech pitch
// (normalised autocorrelation peak over 70..400 Hz): noise is loud but not voiced.
function frameStats(pcm: Int16Array, sampleRate: number) {
  const n = Math.round((sampleRate * FRAME_MS) / 1000)
  let frames = 0
  let loud = 0
  let voiced = 0
  for (let at = 0; at + n <= pcm.length; at += n, frames++) {
    let energy = 0
    for (let i = 0; i < n; i++) energy += pcm[at + i] ** 2
    if (Math.sqrt(energy / n) < 500) continue
    loud++
    let best = 0
    for (let lag = Math.floor(sampleRate / 400); lag <= Math.ceil(sampleRate / 70); lag++) {
      let c = 0
      let a = 0
      let b = 0
      for (let i = 0; i + lag < n; i++) {
        c += pcm[at + i] * pcm[at + i + lag]
        a += pcm[at + i] ** 2
        b += pcm[at + i + lag] ** 2
      }
      if (a > 0 && b > 0) best = Math.max(best, c / Math.sqrt(a * b))
    }
    if (best > 0.6) voiced++
  }
  return { loud: loud / frames, voiced: voiced / frames }
}

function rms(pcm: Int16Array): number {
  let sum = 0
  for (const s of pcm) sum += s * s
  return Math.sqrt(sum / pcm.length)
}

// Longest pause of a 5 ms timer while `work` runs: the media loop's view of it.
async function maxTimerGap(work: () => Promise<unknown>): Promise<number> {
  let last = performance.now()
  let max = 0
  const timer = setInterval(() => {
    const now = performance.now()
    max = Math.max(max, now - last)
    last = now
  }, 5)
  try {
    await work()
    // one more tick so a block at the very end is seen too
    await new Promise((resolve) => setTimeout(resolve, 10))
  } finally {
    clearInterval(timer)
  }
  return max
}

t.test('frame statistics tell speech from noise', async (t) => {
  const noise = new Int16Array(22050).map(() => (Math.random() - 0.5) * 6000)
  t.equal(frameStats(noise, 22050).voiced, 0)
})

t.test('real synthesis', async (t) => {
  const tts = new EspeakTts()
  t.teardown(() => tts.close())

  for (const [voice, text] of [
    ['ru', 'Здравствуйте! Меня зовут Анна, я помогу вам выбрать тариф.'],
    ['en', 'Hello, this is the sales assistant. How can I help you today?'],
  ] as const) {
    const { sampleRate, pcm } = await tts.synthesize(text, voice)
    t.equal(sampleRate, 22050, `${voice}: sample rate`)
    t.ok(pcm instanceof Int16Array, `${voice}: Int16Array`)
    t.ok(pcm.length / sampleRate > 0.5, `${voice}: ${(pcm.length / sampleRate).toFixed(2)} s of audio`)
    t.ok(rms(pcm) > 500, `${voice}: RMS ${rms(pcm).toFixed(0)} well above silence`)
    const { loud, voiced } = frameStats(pcm, sampleRate)
    t.ok(loud > 0.4, `${voice}: ${(loud * 100).toFixed(0)}% of frames loud`)
    t.ok(voiced > 0.25, `${voice}: ${(voiced * 100).toFixed(0)}% of frames voiced`)
  }

  const [a, b] = await Promise.all([tts.synthesize('One.', 'en'), tts.synthesize('Два.', 'ru')])
  t.ok(a.pcm.length > 0 && b.pcm.length > 0, 'concurrent requests are both answered')

  const fast = await tts.synthesize('Hello, how can I help you today?', 'en', 300)
  const slow = await tts.synthesize('Hello, how can I help you today?', 'en', 120)
  t.ok(slow.pcm.length > fast.pcm.length * 1.5, 'rate changes speed')

  const leading = await tts.synthesize('-5 degrees', 'en')
  t.ok(leading.pcm.length / leading.sampleRate > 0.5, 'text starting with "-" is spoken, not taken as an option')

  await t.rejects(tts.synthesize('hi', 'de' as 'en'), /unknown voice "de"/)
  await t.rejects(tts.synthesize('hi', 'en', 5), /rate must be/)
  t.ok((await tts.synthesize('Still here.', 'en')).pcm.length > 0, 'an error does not break the worker')
})

t.test('synthesis does not block the event loop', async (t) => {
  const tts = new EspeakTts()
  t.teardown(() => tts.close())
  const text = 'Спасибо за звонок. Оставьте, пожалуйста, ваше имя и номер телефона.'

  // On a busy machine other processes also delay timers, at random; blocking delays every run.
  // So the best of three runs is asserted. Worker start-up (esbuild and WASM compile threads
  // competing for cores) is reported, not asserted.
  const cold = await maxTimerGap(() => tts.synthesize(text, 'ru'))
  t.comment(`first request, worker start included: max timer gap ${cold.toFixed(1)} ms`)
  const warm: number[] = []
  for (let i = 0; i < 3; i++) warm.push(await maxTimerGap(() => tts.synthesize(text, 'ru')))
  t.ok(Math.min(...warm) < 100, `warm worker: max timer gaps ${warm.map((g) => g.toFixed(1)).join(', ')} ms`)

  // control: the same synthesis on the main thread stalls the loop beyond that bound (150 to
  // 210 ms on a 2026 EPYC, most of it WASM instantiation; a '> 150' control flaked there)
  const inline = await maxTimerGap(() => ESpeakNg({ arguments: ['-v', 'ru', '-w', '/out.wav', text], print() {}, printErr() {} }))
  t.ok(inline > 100, `on the main thread the loop stalls ${inline.toFixed(0)} ms`)
})

t.test('worker failures become errors, and the next request gets a new worker', async (t) => {
  // A stand-in worker: "crash" kills the thread, "hang" never answers, anything else is a beep.
  // The timeout also covers worker start-up, which under tap's preloads takes over a second.
  const dir = t.testdir()
  const file = join(dir, 'fake-worker.mjs')
  writeFileSync(
    file,
    `import { parentPort } from 'node:worker_threads'
parentPort.on('message', (req) => {
  if (req.text === 'crash') process.exit(3)
  if (req.text === 'hang') return
  parentPort.postMessage({ id: req.id, sampleRate: 8000, pcm: new Int16Array([1, 2, 3]) })
})
`,
  )
  const tts = new EspeakTts({ workerUrl: pathToFileURL(file), timeoutMs: 4000 })
  t.teardown(() => tts.close())

  t.same((await tts.synthesize('ok', 'en')).pcm, new Int16Array([1, 2, 3]))

  const crashed = tts.synthesize('crash', 'en')
  const queued = tts.synthesize('after the crash', 'en')
  await t.rejects(crashed, /espeak worker exited with code 3/)
  t.same((await queued).pcm, new Int16Array([1, 2, 3]), 'a request queued behind the crash is served by a new worker')

  const started = performance.now()
  await t.rejects(tts.synthesize('hang', 'en'), /timed out after 4000 ms/)
  t.ok(performance.now() - started < 8000, 'the timeout fires')
  t.same((await tts.synthesize('ok', 'en')).pcm, new Int16Array([1, 2, 3]), 'served after the timeout')

  const pending = t.rejects(tts.synthesize('hang', 'en'), /closed/, 'in the worker when closed')
  const waiting = t.rejects(tts.synthesize('not yet spoken', 'en'), /closed/, 'queued when closed')
  await tts.close()
  await Promise.all([pending, waiting])
  await t.rejects(tts.synthesize('ok', 'en'), /closed/)
})

t.test('warm() starts the worker before any request, and the first request is served by it', async (t) => {
  // a stand-in worker that says when it started (on a channel EspeakTts does not read) and answers
  // every request with its thread id
  const file = join(t.testdir(), 'started-worker.mjs')
  writeFileSync(
    file,
    `import { BroadcastChannel, parentPort, threadId } from 'node:worker_threads'
const started = new BroadcastChannel('espeak-warm-test')
started.postMessage(threadId)
started.close()
parentPort.on('message', (req) => parentPort.postMessage({ id: req.id, sampleRate: 8000, pcm: new Int16Array([threadId]) }))
`,
  )
  const heard = new BroadcastChannel('espeak-warm-test')
  t.teardown(() => heard.close())
  const started = new Promise<number>((resolve) => (heard.onmessage = (e) => resolve(Number((e as { data: unknown }).data))))
  const tts = new EspeakTts({ workerUrl: pathToFileURL(file) })
  t.teardown(() => tts.close())
  tts.warm()
  tts.warm() // once is enough: no second thread
  const thread = await started
  t.same((await tts.synthesize('first', 'en')).pcm, new Int16Array([thread]), 'the warmed thread answers the first request')
  t.equal(tts.stats.syntheses, 1, 'warming is not a synthesis')
})

t.test('a worker that cannot start fails its requests', async (t) => {
  const tts = new EspeakTts({ workerUrl: pathToFileURL(join(t.testdir(), 'missing-worker.mjs')) })
  t.teardown(() => tts.close())
  await t.rejects(tts.synthesize('hi', 'en'), /exited with code 1/)
})

t.test('a text spoken before comes from the cache; the cache keeps to its size', async (t) => {
  const tts = new EspeakTts({ cacheBytes: 400_000 })
  t.teardown(() => tts.close())
  const text = 'Спасибо, записал. Как к вам обращаться?'
  const [first, same] = await Promise.all([tts.synthesize(text, 'ru'), tts.synthesize(text, 'ru')])
  t.equal(tts.stats.syntheses, 1, 'two requests for the same text while it is synthesised: one synthesis')
  t.same(same.pcm, first.pcm)
  first.pcm.fill(0) // the caller owns its copy: the cached audio is not touched
  const again = await tts.synthesize(text, 'ru')
  t.equal(tts.stats.syntheses, 1, 'asked again later: no synthesis')
  t.ok(
    again.pcm.some((x) => x !== 0),
    'the cached audio is intact',
  )
  await tts.synthesize(text, 'ru', 200)
  await tts.synthesize(text, 'en')
  t.equal(tts.stats.syntheses, 3, 'another rate or voice is another synthesis')
  // ~100-200 kB each at 22 kHz: a few more texts push the oldest out.
  for (const n of ['один', 'два', 'три', 'четыре']) await tts.synthesize(`Номер ${n}, записал, спасибо за звонок.`, 'ru')
  await tts.synthesize(text, 'ru')
  t.equal(tts.stats.syntheses, 8, 'the least recently used text was evicted and is synthesised again')
  t.equal(tts.stats.hits, 2)
})
