import t from 'tap'
import { toneAmplitude as goertzel } from '../test/helpers/tone.ts'
import { REALTIME, resample, Resampler } from './resample.ts'

// Reference values here are analytic: a sine of known frequency and amplitude, measured with
// the Goertzel algorithm (single-bin DFT power) and zero-crossing counts. The filter is
// specified to pass up to 85% of the lower Nyquist frequency, stop from the lower Nyquist
// frequency on with 80 dB attenuation, and add no delay to the signal's timeline.

function sine(freq: number, rate: number, seconds: number, amp = 10000): Int16Array {
  const x = new Int16Array(Math.round(rate * seconds))
  for (let i = 0; i < x.length; i++) x[i] = Math.round(amp * Math.sin((2 * Math.PI * freq * i) / rate))
  return x
}

// Edges carry the filter's start-up and the silence flush() pads with; measure the middle.
function middle(x: Int16Array): Int16Array {
  const edge = Math.floor(x.length / 10)
  return x.subarray(edge, x.length - edge)
}

function rms(x: Int16Array): number {
  let s = 0
  for (let i = 0; i < x.length; i++) s += x[i] * x[i]
  return Math.sqrt(s / x.length)
}

function db(ratio: number): number {
  return 20 * Math.log10(ratio)
}

function zeroCrossings(x: Int16Array): number {
  let n = 0
  for (let i = 1; i < x.length; i++) if (x[i - 1] < 0 !== x[i] < 0) n++
  return n
}

const PAIRS: Array<[number, number]> = [
  [8000, 16000],
  [16000, 8000],
  [22050, 8000],
  [8000, 48000],
  [48000, 8000],
  [16000, 48000],
  [48000, 16000],
]

t.test('a 1 kHz sine keeps its frequency and amplitude (within 1 dB)', async (t) => {
  for (const [from, to] of PAIRS) {
    const x = sine(1000, from, 1)
    const y = resample(x, from, to)
    t.equal(y.length, Math.ceil((x.length * to) / from), `${from}->${to} length`)
    const mid = middle(y)
    // 1 kHz = 2000 zero crossings per second; the middle 80% spans 0.8 s.
    const seconds = mid.length / to
    t.ok(Math.abs(zeroCrossings(mid) - 2000 * seconds) <= 2, `${from}->${to} zero crossings ${zeroCrossings(mid)}`)
    const at1k = goertzel(mid, 1000, to)
    t.ok(at1k > 10 * goertzel(mid, 900, to) && at1k > 10 * goertzel(mid, 1100, to), `${from}->${to} peak at 1 kHz`)
    const gain = db(rms(mid) / rms(middle(x)))
    t.ok(Math.abs(gain) < 1, `${from}->${to} gain ${gain.toFixed(3)} dB`)
  }
})

t.test('no added delay: output sample k is the sine at time k/to', async (t) => {
  for (const [from, to] of PAIRS) {
    const y = resample(sine(1000, from, 1), from, to)
    const edge = Math.floor(y.length / 10)
    let worst = 0
    for (let k = edge; k < y.length - edge; k++) {
      const expected = 10000 * Math.sin((2 * Math.PI * 1000 * k) / to)
      worst = Math.max(worst, Math.abs(y[k] - expected))
    }
    t.ok(worst < 10, `${from}->${to} worst deviation ${worst.toFixed(1)} (of 10000)`)
  }
})

t.test('anti-aliasing when decimating', async (t) => {
  const pass = rms(middle(resample(sine(1000, 16000, 1), 16000, 8000)))
  // 3.9 kHz lies in the transition band just under the 4 kHz output Nyquist frequency.
  const edge = rms(middle(resample(sine(3900, 16000, 1), 16000, 8000)))
  t.ok(db(edge / pass) < -20, `3.9 kHz at 16k->8k: ${db(edge / pass).toFixed(1)} dB vs passband`)
  // 6 kHz cannot exist at 8 kHz; unfiltered it would alias to 2 kHz.
  for (const [from, to] of [
    [16000, 8000],
    [22050, 8000],
    [48000, 8000],
  ]) {
    const x = sine(6000, from, 1)
    const y = middle(resample(x, from, to))
    const level = db(Math.max(rms(y), 1e-3) / rms(middle(x)))
    t.ok(level < -40, `6 kHz at ${from}->${to}: ${level.toFixed(1)} dB`)
  }
  // Just past the stopband edge the design promises far more than 40 dB.
  const past = middle(resample(sine(4300, 16000, 1), 16000, 8000))
  t.ok(db(Math.max(rms(past), 1e-3) / pass) < -60, '4.3 kHz at 16k->8k below -60 dB')
})

t.test('anti-imaging when interpolating', async (t) => {
  // Upsampling a 1 kHz tone from 8 kHz leaves spectral images at 8k +- 1k unless filtered.
  const y = middle(resample(sine(1000, 8000, 1), 8000, 16000))
  const image = goertzel(y, 7000, 16000) / goertzel(y, 1000, 16000)
  t.ok(db(image) < -60, `7 kHz image at 8k->16k: ${db(image).toFixed(1)} dB`)
  const z = middle(resample(sine(1000, 8000, 1), 8000, 48000))
  for (const f of [7000, 9000, 15000, 17000]) {
    const r = goertzel(z, f, 48000) / goertzel(z, 1000, 48000)
    t.ok(db(r) < -60, `${f} Hz image at 8k->48k: ${db(r).toFixed(1)} dB`)
  }
})

t.test('DC passes with unit gain in every phase', async (t) => {
  for (const [from, to] of PAIRS) {
    const y = middle(resample(new Int16Array(from).fill(12345), from, to))
    t.ok(
      y.every((v) => v === 12345),
      `${from}->${to}`,
    )
  }
})

t.test('chunked processing equals one-shot processing exactly', async (t) => {
  const noise = new Int16Array(30000)
  let seed = 1
  for (let i = 0; i < noise.length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0
    noise[i] = (seed >>> 16) - 32768
  }
  const sizes = [0, 1, 7, 160, 441, 1, 999, 320, 2, 0, 4000]
  for (const [from, to] of [...PAIRS, [44100, 16000] as [number, number]]) {
    const oneShot = resample(noise, from, to)
    const r = new Resampler(from, to)
    const parts: number[] = []
    let pos = 0
    for (let i = 0; pos < noise.length; i++) {
      const n = Math.min(sizes[i % sizes.length], noise.length - pos)
      parts.push(...r.process(noise.subarray(pos, pos + n)))
      pos += n
    }
    parts.push(...r.flush())
    t.same(Int16Array.from(parts), oneShot, `${from}->${to}`)
  }
})

t.test('processInto writes into a caller buffer; flush resets for reuse', async (t) => {
  const r = new Resampler(8000, 16000)
  const frame = sine(1000, 8000, 0.02)
  const out = new Int16Array(400)
  const n = r.outputLength(frame.length)
  t.equal(r.processInto(frame, out), n)
  t.throws(() => r.processInto(frame, new Int16Array(n - 1)), RangeError)
  // Over a stream, process + flush yields exactly twice the input length.
  let total = n
  for (let i = 0; i < 9; i++) total += r.processInto(frame, out)
  total += r.flush().length
  t.equal(total, 10 * 160 * 2)
  // After flush the resampler starts from silence again, like a new one.
  t.same(r.process(frame), new Resampler(8000, 16000).process(frame))
})

t.test('equal rates copy; invalid rates are rejected', async (t) => {
  const x = Int16Array.from([1, -2, 3])
  t.same(resample(x, 16000, 16000), x)
  t.throws(() => new Resampler(0, 8000), RangeError)
  t.throws(() => new Resampler(8000, 1.5), RangeError)
  t.throws(() => new Resampler(44101, 8000), /filter phases/)
})

t.test('REALTIME quality (the per-packet path): passband flat, aliasing still far below G.711 noise', async (t) => {
  const down = new Resampler(16000, 8000, REALTIME)
  const pass = middle(down.process(sine(1000, 16000, 1)))
  t.ok(Math.abs(db(rms(pass) / rms(middle(sine(1000, 8000, 0.5))))) < 0.1, '1 kHz within 0.1 dB')
  const alias = middle(new Resampler(16000, 8000, REALTIME).process(sine(6000, 16000, 1)))
  const atten = db(rms(alias) / rms(sine(6000, 16000, 1)))
  t.ok(atten < -55, `6 kHz attenuated by ${(-atten).toFixed(0)} dB going to 8 kHz`)
  const up = middle(new Resampler(8000, 16000, REALTIME).process(sine(1000, 8000, 1)))
  t.ok(goertzel(up, 7000, 16000) < goertzel(up, 1000, 16000) / 500, 'upsampling image at 7 kHz below -54 dB')
})
