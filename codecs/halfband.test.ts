import t from 'tap'
import { toneAmplitude as goertzel } from '../test/helpers/tone.ts'
import { HalfBandUpsampler } from './halfband.ts'

// Analytic references: a sine at 8 kHz upsampled must equal the same sine sampled at 16 kHz,
// delayed by the filter's look-ahead; tones near 4 kHz must not leave images above it.

function sine(freq: number, rate: number, n: number, amp = 10000, delay = 0): Float64Array {
  const x = new Float64Array(n)
  for (let i = 0; i < n; i++) x[i] = amp * Math.sin((2 * Math.PI * freq * (i - delay)) / rate)
  return x
}

function toInt16(x: Float64Array): Int16Array {
  return Int16Array.from(x, (v) => Math.round(v))
}

function upsample(x: Int16Array, chunk = 160): Int16Array {
  const up = new HalfBandUpsampler()
  const out = new Int16Array(2 * x.length)
  for (let i = 0; i < x.length; i += chunk) up.processInto(x.subarray(i, i + chunk), out.subarray(2 * i))
  return out
}

t.test('a 1 kHz sine comes out as the 16 kHz sine, delayed by the look-ahead', async (t) => {
  const up = new HalfBandUpsampler()
  const out = upsample(toInt16(sine(1000, 8000, 8000)))
  t.equal(out.length, 16000, 'exactly twice the input')
  const ref = sine(1000, 16000, 16000, 10000, 2 * up.delaySamples)
  let sig = 0
  let err = 0
  for (let i = 1600; i < 14400; i++) {
    sig += ref[i] * ref[i]
    err += (out[i] - ref[i]) ** 2
  }
  const snr = 10 * Math.log10(sig / err)
  t.ok(snr > 50, `SNR ${snr.toFixed(1)} dB > 50 dB`)
})

t.test('passband flat to 3.4 kHz, images of 3.4 kHz at 4.6 kHz stopped', async (t) => {
  for (const f of [300, 1000, 2000, 3000, 3400]) {
    const out = upsample(toInt16(sine(f, 8000, 8000))).subarray(1600, 14400)
    const gainDb = 20 * Math.log10(goertzel(out, f, 16000) / 10000)
    t.ok(Math.abs(gainDb) < 0.2, `${f} Hz gain ${gainDb.toFixed(3)} dB`)
  }
  const out = upsample(toInt16(sine(3400, 8000, 8000))).subarray(1600, 14400)
  const imageDb = 20 * Math.log10(goertzel(out, 8000 - 3400, 16000) / 10000)
  t.ok(imageDb < -55, `image at 4.6 kHz ${imageDb.toFixed(1)} dB < -55 dB`)
})

t.test('chunking never changes the output; reset returns to silence', async (t) => {
  const x = toInt16(sine(440, 8000, 1600))
  const whole = upsample(x, 1600)
  t.same(upsample(x, 160), whole, '20 ms packets')
  t.same(upsample(x, 7), whole, 'odd-sized chunks')
  const up = new HalfBandUpsampler(16)
  const out = new Int16Array(3200)
  up.processInto(x, out) // grows its buffer beyond the initial chunk size
  t.same(out, whole, 'buffer grows for a larger chunk')
  up.reset()
  up.processInto(x, out)
  t.same(out, whole, 'after reset, same as new')
  t.throws(() => up.processInto(x, new Int16Array(10)), RangeError)
})
