import t from 'tap'
import { PcmConcealer } from './plc.ts'

// A 200 Hz tone at 8 kHz (period 40 samples, amplitude 10000) in 20 ms frames. The largest
// step between adjacent samples of the tone itself is A * 2 * sin(pi * 200 / 8000) = 0.157 A;
// a click is a step above that. It is a cosine, so every frame starts at a peak: a recovery
// without a fade would jump by the attenuation lost (0.2 A after 20 ms, A after 60 ms).

const RATE = 8000
const FRAME = 160
const AMP = 10000
const TONE_STEP = 2 * AMP * Math.sin((Math.PI * 200) / RATE)

function tone(frameIndex: number): Int16Array {
  const f = new Int16Array(FRAME)
  for (let i = 0; i < FRAME; i++) f[i] = Math.round(AMP * Math.cos((2 * Math.PI * 200 * (frameIndex * FRAME + i)) / RATE))
  return f
}

/** Normalized cross-correlation. */
function correlation(a: Int16Array, b: Int16Array): number {
  let ab = 0
  let aa = 0
  let bb = 0
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i]
    aa += a[i] * a[i]
    bb += b[i] * b[i]
  }
  return aa === 0 || bb === 0 ? 0 : ab / Math.sqrt(aa * bb)
}

function peak(x: Int16Array): number {
  let m = 0
  for (const v of x) m = Math.max(m, Math.abs(v))
  return m
}

function maxStep(x: Int16Array): number {
  let m = 0
  for (let i = 1; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - x[i - 1]))
  return m
}

/** Plays 10 frames of tone with the frames in `lost` concealed; returns the whole output. */
function play(lost: Set<number>, plc = new PcmConcealer(RATE)): { out: Int16Array; frames: Int16Array[] } {
  const frames: Int16Array[] = []
  for (let k = 0; k < 10; k++) {
    const f = tone(k)
    if (lost.has(k)) plc.conceal(f)
    else plc.good(f)
    frames.push(f)
  }
  const out = new Int16Array(10 * FRAME)
  frames.forEach((f, k) => out.set(f, k * FRAME))
  return { out, frames }
}

t.test('a 20 ms loss is bridged by the tone', async (t) => {
  const { out, frames } = play(new Set([5]))
  t.ok(correlation(frames[5], tone(5)) > 0.99, `concealed frame follows the tone (${correlation(frames[5], tone(5))})`)
  t.ok(peak(out) <= AMP, 'never above the history peak')
  t.ok(maxStep(out) <= TONE_STEP * 1.1, `no click (largest step ${maxStep(out)}, tone ${TONE_STEP.toFixed(0)})`)
  t.ok(correlation(frames[6], tone(6)) > 0.99, 'recovery frame is the tone')
})

t.test('a 60 ms loss fades out to silence and recovers without a click', async (t) => {
  const { out, frames } = play(new Set([4, 5, 6]))
  t.ok(correlation(frames[4], tone(4)) > 0.99, 'first concealed frame follows the tone')
  // 20% per 10 ms after the first 10 ms: the last concealed frame is quieter than the first.
  t.ok(peak(frames[6]) < peak(frames[4]) * 0.5, `attenuated (${peak(frames[6])} vs ${peak(frames[4])})`)
  t.ok(Math.abs(frames[6][FRAME - 1]) <= AMP / 50, 'close to silence at 60 ms')
  t.ok(peak(out) <= AMP)
  t.ok(maxStep(out) <= TONE_STEP * 1.1, `no click (largest step ${maxStep(out)})`)
})

t.test('exactly zero after maxConcealMs of consecutive loss', async (t) => {
  const { frames } = play(new Set([3, 4, 5, 6, 7]))
  t.ok(peak(frames[5]) > 0)
  t.equal(peak(frames[6]), 0, '60-80 ms of loss')
  t.equal(peak(frames[7]), 0, '80-100 ms of loss')
  // Back from silence: the good frame fades in from zero.
  t.ok(Math.abs(frames[8][0]) <= AMP / 50 && maxStep(frames[8]) <= TONE_STEP * 1.1, 'fade-in from silence')

  const short = play(new Set([3, 4, 5]), new PcmConcealer(RATE, 40)).frames
  t.equal(peak(short[5]), 0, 'maxConcealMs is configurable (40 ms)')
  t.ok(peak(short[4]) > 0)
})

t.test('bounded by the history peak on noise', async (t) => {
  // Deterministic noise (LCG), peak exactly 12000.
  let seed = 1
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1
  const plc = new PcmConcealer(RATE)
  let histPeak = 0
  for (let k = 0; k < 5; k++) {
    const f = new Int16Array(FRAME)
    for (let i = 0; i < FRAME; i++) f[i] = Math.round(12000 * rand())
    histPeak = Math.max(histPeak, peak(f))
    plc.good(f)
  }
  const out = new Int16Array(FRAME)
  for (let k = 0; k < 4; k++) {
    plc.conceal(out)
    t.ok(peak(out) <= histPeak, `frame ${k}: ${peak(out)} <= ${histPeak}`)
  }
})

t.test('silence in, silence out; concealment without any history is silence', async (t) => {
  const plc = new PcmConcealer(16000)
  const out = new Int16Array(320).fill(7)
  plc.conceal(out)
  t.equal(peak(out), 0)
  plc.good(new Int16Array(320))
  plc.conceal(out)
  t.equal(peak(out), 0)
})
