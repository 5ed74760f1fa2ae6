import t from 'tap'
import { resample } from '../codecs/resample.ts'
import { EspeakTts } from '../media-server/tts/espeak.ts'
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

t.test('Silero VAD decisions on speech, silence, noise and noisy speech', async (t) => {
  const tts = new EspeakTts()
  const vad = await SileroVad.load({ tickMs: 1000 })
  t.teardown(async () => {
    tts.close()
    await vad.close()
  })
  const spoken = await tts.synthesize('Good afternoon, I would like to know the price of your product for a team of twenty people.', 'en')
  const speech16 = resample(spoken.pcm, spoken.sampleRate, 16000)

  const ps = await probabilities(vad, 16000, speech16)
  t.ok(share(ps, (p) => p > 0.5) > 0.6, `speech: ${Math.round(share(ps, (p) => p > 0.5) * 100)}% of windows above 0.5`)

  const silence = await probabilities(vad, 16000, new Int16Array(16000 * 2))
  t.ok(silence.every((p) => p === 0), 'digital silence: every window gated to 0')
  t.equal(vad.stats.gated >= silence.length, true, 'the gate skipped inference')

  const hiss = await probabilities(vad, 16000, noise(16000 * 3, -35))
  t.ok(share(hiss, (p) => p < 0.5) > 0.9, `white noise at -35 dBFS: ${Math.round(share(hiss, (p) => p < 0.5) * 100)}% of windows below 0.5`)

  const noisy = await probabilities(vad, 16000, mix(speech16, noise(speech16.length, -35, 7)))
  t.ok(share(noisy, (p) => p > 0.5) > 0.5, `speech + noise: ${Math.round(share(noisy, (p) => p > 0.5) * 100)}% of windows above 0.5`)

  const speech8 = resample(spoken.pcm, spoken.sampleRate, 8000)
  const ps8 = await probabilities(vad, 8000, speech8)
  t.ok(share(ps8, (p) => p > 0.5) > 0.6, `8 kHz speech: ${Math.round(share(ps8, (p) => p > 0.5) * 100)}% of windows above 0.5`)
})

t.test('a batch gives every stream the result it would get alone (own recurrent state)', async (t) => {
  const tts = new EspeakTts()
  const vad = await SileroVad.load({ tickMs: 1000 })
  t.teardown(async () => {
    tts.close()
    await vad.close()
  })
  const a = await tts.synthesize('One two three four five six.', 'en')
  const b = await tts.synthesize('Здравствуйте, меня зовут Иван.', 'ru')
  const pa = resample(a.pcm, a.sampleRate, 16000)
  const pb = resample(b.pcm, b.sampleRate, 16000)
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
