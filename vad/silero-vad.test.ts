import * as ort from 'onnxruntime-node'
import t from 'tap'
import { speechAndVad } from '../test/helpers/speech-and-vad.ts'
import { SILERO, sileroModelPath } from './silero-model.ts'
import { SileroVad, WINDOW_MS, type VadRate } from './silero-vad.ts'

// A fixed-seed generator, so the noise cases are the same on every run.
function noise(n: number, dbfs: number, seed = 1): Int16Array {
  const out = new Int16Array(n)
  const amp = 32768 * 10 ** (dbfs / 20) * Math.sqrt(3) // uniform noise: rms = amp / sqrt(3)
  let x = seed
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    out[i] = Math.round(((x / 2 ** 32) * 2 - 1) * amp)
  }
  return out
}

function mix(a: Int16Array, b: Int16Array): Int16Array {
  const out = new Int16Array(a.length)
  for (let i = 0; i < a.length; i++) out[i] = Math.max(-32768, Math.min(32767, a[i] + (b[i] ?? 0)))
  return out
}

async function probabilities(vad: SileroVad, rate: VadRate, pcm: Int16Array): Promise<number[]> {
  const probs: number[] = []
  const s = vad.open(rate, (p, i) => (probs[i] = p))
  // Real-time order: one window at a time, then a tick, like the timer would.
  const w = rate === 16000 ? 512 : 256
  for (let i = 0; i + w <= pcm.length; i += w) {
    s.push(pcm.subarray(i, i + w))
    await vad.tick()
  }
  s.close()
  return probs
}

const share = (ps: number[], pred: (p: number) => boolean) => ps.filter(pred).length / ps.length
const TWO_CLIPS = ['One two three four five six.', 'Здравствуйте, меня зовут Иван.'] as const

t.test('Silero VAD decisions on speech, silence, noise and noisy speech', async (t) => {
  const { vad, speak } = await speechAndVad(t)
  const text = 'Good afternoon, I would like to know the price of your product for a team of twenty people.'
  const speech16 = await speak(text, 'en')

  const ps = await probabilities(vad, 16000, speech16)
  t.ok(share(ps, (p) => p > 0.5) > 0.6, `speech: ${Math.round(share(ps, (p) => p > 0.5) * 100)}% of windows above 0.5`)

  const silence = await probabilities(vad, 16000, new Int16Array(16000 * 2))
  t.ok(
    silence.every((p) => p === 0),
    'digital silence: every window gated to 0',
  )
  t.equal(vad.stats.gated >= silence.length, true, 'the gate skipped inference')

  const hiss = await probabilities(vad, 16000, noise(16000 * 3, -35))
  t.ok(share(hiss, (p) => p < 0.5) > 0.9, `white noise at -35 dBFS: ${Math.round(share(hiss, (p) => p < 0.5) * 100)}% of windows below 0.5`)

  const noisy = await probabilities(vad, 16000, mix(speech16, noise(speech16.length, -35, 7)))
  t.ok(share(noisy, (p) => p > 0.5) > 0.5, `speech + noise: ${Math.round(share(noisy, (p) => p > 0.5) * 100)}% of windows above 0.5`)

  const speech8 = await speak(text, 'en', 8000)
  const ps8 = await probabilities(vad, 8000, speech8)
  t.ok(share(ps8, (p) => p > 0.5) > 0.6, `8 kHz speech: ${Math.round(share(ps8, (p) => p > 0.5) * 100)}% of windows above 0.5`)
})

t.test('a batch gives every stream the result it would get alone (own recurrent state)', async (t) => {
  const { vad, speak } = await speechAndVad(t)
  const pa = await speak(TWO_CLIPS[0], 'en')
  const pb = await speak(TWO_CLIPS[1], 'ru')
  const alone = [await probabilities(vad, 16000, pa), await probabilities(vad, 16000, pb)]

  const together: number[][] = [[], []]
  const streams = [vad.open(16000, (p, i) => (together[0][i] = p)), vad.open(16000, (p, i) => (together[1][i] = p))]
  const runsBefore = vad.stats.runs
  for (let i = 0; i + 512 <= Math.max(pa.length, pb.length); i += 512) {
    if (i + 512 <= pa.length) streams[0].push(pa.subarray(i, i + 512))
    if (i + 512 <= pb.length) streams[1].push(pb.subarray(i, i + 512))
    await vad.tick()
  }
  t.ok(vad.stats.maxBatch >= 2, 'the windows were run as one batch')
  t.ok(vad.stats.runs - runsBefore < alone[0].length + alone[1].length, 'fewer runs than windows')
  for (const k of [0, 1]) {
    t.equal(together[k].length, alone[k].length)
    const worst = Math.max(...together[k].map((p, i) => Math.abs(p - alone[k][i])))
    t.ok(worst < 1e-4, `stream ${k}: largest difference ${worst.toExponential(1)}`)
  }
  for (const s of streams) s.close()
  t.equal(vad.streamCount, 0)
})

/**
 * silero-vad's own OnnxWrapper (utils_vad.py), one window at a time: the window prefixed by the
 * previous window's last 64 (16 kHz) or 32 (8 kHz) samples, the state carried, batch 1.
 */
async function reference(rate: VadRate, pcm: Int16Array): Promise<number[]> {
  const session = await ort.InferenceSession.create(sileroModelPath())
  const W = SILERO.window[rate]
  const C = SILERO.context[rate]
  let context = new Float32Array(C)
  let state: ort.Tensor = new ort.Tensor('float32', new Float32Array(2 * SILERO.stateWidth), [2, 1, SILERO.stateWidth])
  const sr = new ort.Tensor('int64', BigInt64Array.from([BigInt(rate)]), [1])
  const out: number[] = []
  for (let i = 0; i + W <= pcm.length; i += W) {
    const x = new Float32Array(C + W)
    x.set(context)
    for (let k = 0; k < W; k++) x[C + k] = pcm[i + k] / 32768
    context = x.slice(W)
    const r = await session.run({ input: new ort.Tensor('float32', x, [1, C + W]), state, sr })
    state = r.stateN as ort.Tensor
    out.push((r.output.data as Float32Array)[0])
  }
  await session.release()
  return out
}

t.test('batched streams score as silero-vad itself does, window by window, at 8 and 16 kHz', async (t) => {
  const { vad, speak } = await speechAndVad(t)
  for (const rate of [8000, 16000] as const) {
    // Over line noise at -50 dBFS, so that no window is gated and the model runs on every one.
    const clips = [await speak(TWO_CLIPS[0], 'en', rate), await speak(TWO_CLIPS[1], 'ru', rate)].map((pcm) => mix(pcm, noise(pcm.length, -50, rate)))
    const W = SILERO.window[rate]
    const got: number[][] = [[], []]
    const streams = clips.map((_, k) => vad.open(rate, (p, i) => (got[k][i] = p)))
    // Pushed in 20 ms chunks (not whole windows), as the jitter buffer hands them over.
    const chunk = rate / 50
    for (let i = 0; i < Math.max(...clips.map((c) => c.length)); i += chunk) {
      clips.forEach((c, k) => i < c.length && streams[k].push(c.subarray(i, Math.min(c.length, i + chunk))))
      await vad.tick()
    }
    for (const [k, c] of clips.entries()) {
      const want = await reference(rate, c)
      t.equal(got[k].length, Math.floor(c.length / W), `${rate} Hz, clip ${k}: every window answered`)
      const worst = Math.max(...want.map((p, i) => Math.abs(p - got[k][i])))
      t.ok(worst < 1e-4, `${rate} Hz, clip ${k}: largest difference from the reference ${worst.toExponential(1)} over ${want.length} windows`)
      t.ok(
        want.some((p) => p > 0.5),
        `${rate} Hz, clip ${k}: the reference hears speech (the comparison is not between two silences)`,
      )
    }
    for (const s of streams) s.close()
  }
})

t.test('after 256 ms of clear silence a stream starts afresh; a shorter pause keeps its state', async (t) => {
  const { vad, speak } = await speechAndVad(t)
  const speech = await speak('Подождите, пожалуйста.', 'ru')
  // Up to its last loud sample (eSpeak ends on silence of its own), in whole windows, so that
  // the pause is exactly the silence put in.
  let end = speech.length
  while (end > 0 && Math.abs(speech[end - 1]) < 1000) end--
  const words = speech.subarray(0, end - (end % 512))
  const tone = Int16Array.from({ length: 512 * 5 }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 1000 * i) / 16000)))
  const last = async (pcm: Int16Array) => (await probabilities(vad, 16000, pcm)).slice(-5)
  const concat = (...parts: Int16Array[]) => {
    const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0))
    parts.reduce((at, p) => (out.set(p, at), at + p.length), 0)
    return out
  }
  const fresh = await last(tone)
  const afterLongPause = await last(concat(words, new Int16Array(512 * 8), tone))
  const afterShortPause = await last(concat(words, new Int16Array(512 * 3), tone))
  t.same(afterLongPause, fresh, 'speech, 8 silent windows, a tone: the tone scores as on a fresh stream')
  t.not(afterShortPause.join(), fresh.join(), 'speech, 3 silent windows, a tone: the state of the words carries over')
})

t.test('windows wait in order while a batch is in the pool; the window is 32 ms', async (t) => {
  const vad = await SileroVad.load({ tickMs: 1000 })
  t.teardown(() => vad.close())
  t.equal(WINDOW_MS, 32)
  const order: number[] = []
  const s = vad.open(16000, (_p, i) => order.push(i))
  const loud = noise(512 * 3, -20, 3)
  s.push(loud) // three windows queue behind each other
  t.equal(s.waiting, 3)
  s.push(new Int16Array(512 * 2)) // silent, but behind loud ones: not answered out of order
  s.push(loud.subarray(0, 512))
  s.push(new Int16Array(512))
  t.same(order, [])
  const modelWindows = vad.stats.windows
  await vad.tick()
  t.same(order, [0, 1, 2, 3, 4, 5, 6])
  t.equal(vad.stats.windows - modelWindows, 4, 'only the loud windows went to the model; the silent ones were answered in turn without it')
  s.close()
})

t.test('a model that fell behind: the backlog drops its oldest windows, and a silent one after a drop never blocks the runs', async (t) => {
  const errors: Error[] = []
  const vad = await SileroVad.load({ tickMs: 1000, onError: (e) => errors.push(e) })
  t.teardown(() => vad.close())
  const order: number[] = []
  const s = vad.open(16000, (_p, i) => order.push(i))
  const loud = noise(512, -20, 5)
  for (let i = 0; i < 64; i++) s.push(loud) // the backlog is full (64 windows)
  s.push(new Int16Array(512)) // silence: window 0 is dropped for it, and it queues behind 1-63
  t.equal(vad.stats.dropped, 1)
  t.equal(s.waiting, 64)
  for (let i = 0; i < 63; i++) s.push(new Int16Array(512)) // more silence: each drop releases the silence behind it
  await vad.tick()
  t.same(errors, [], 'every tick ran (a silent window left at the head made each one throw, and the VAD of every call stopped)')
  t.equal(s.waiting, 0, 'nothing left waiting')
  t.ok(
    order.every((v, i) => i === 0 || v > order[i - 1]),
    'answers in order',
  )
  const other = vad.open(16000, () => {})
  other.push(loud)
  await vad.tick()
  t.equal(other.waiting, 0, 'and the next loud window of another call is answered')
})

t.test('close() during a batch lets it finish, then ends the inference thread', async (t) => {
  const vad = await SileroVad.load({ tickMs: 1000 })
  const noise = Int16Array.from({ length: 512 * 4 }, (_, i) => Math.round(8000 * Math.sin(i * 0.3) + ((i * 7919) % 2000) - 1000))
  for (let i = 0; i < 200; i++) vad.open(16000, () => {}).push(noise)
  const batch = vad.tick() // 800 windows: the model is busy for a while
  await new Promise((r) => setTimeout(r, 5))
  await vad.close()
  await batch
  t.pass('the process survived closing the model mid-run (terminating the thread under it aborts the process)')
  t.ok(vad.stats.runs >= 1 && vad.stats.windows >= 200, `the run in progress finished (${vad.stats.windows} windows); closed streams get no answers`)
})

t.test('close() with windows still waiting in unbatched mode: the runs stop and no new thread starts', async (t) => {
  const vad = await SileroVad.load({ tickMs: 1000, batched: false })
  const loud = noise(512 * 4, -20, 5)
  for (let i = 0; i < 50; i++) vad.open(16000, () => {}).push(loud)
  const backlog = vad.tick() // 200 runs of one window each, one after the other
  await new Promise((r) => setTimeout(r, 20))
  await vad.close()
  await backlog
  const runs = vad.stats.runs
  await new Promise((r) => setTimeout(r, 1500)) // a new thread would have loaded the model by then
  t.ok(runs < 200, `the backlog was cut short (${runs} of 200 runs)`)
  t.equal(vad.stats.runs, runs, 'no run after close (a run after it would have started a new inference thread)')
  t.notOk(process.getActiveResourcesInfo().includes('MessagePort'), 'no inference thread left behind to hold the process open')
})
