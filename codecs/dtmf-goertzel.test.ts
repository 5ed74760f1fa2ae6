import t from 'tap'
import { DtmfToneDetector } from './dtmf-goertzel.ts'

const FREQS: Record<string, [number, number]> = {}
'123A456B789C*0#D'.split('').forEach((key, i) => {
  FREQS[key] = [[697, 770, 852, 941][i >> 2], [1209, 1336, 1477, 1633][i & 3]]
})

/** Deterministic pseudo-random numbers in [0, 1), so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

/** Builds a signal from [key or null for silence, milliseconds] segments; each tone at `amplitude` per frequency. */
function dtmf(rate: number, segments: Array<[string | null, number]>, amplitude = 6000): Float64Array {
  const total = segments.reduce((n, [, ms]) => n + Math.round((rate * ms) / 1000), 0)
  const s = new Float64Array(total)
  let at = 0
  for (const [key, ms] of segments) {
    const n = Math.round((rate * ms) / 1000)
    if (key !== null) {
      const [fr, fc] = FREQS[key]
      for (let i = 0; i < n; i++) s[at + i] = amplitude * (Math.sin((2 * Math.PI * fr * i) / rate) + Math.sin((2 * Math.PI * fc * i) / rate))
    }
    at += n
  }
  return s
}

function toPcm(x: Float64Array): Int16Array {
  const out = new Int16Array(x.length)
  for (let i = 0; i < x.length; i++) out[i] = Math.max(-32768, Math.min(32767, Math.round(x[i])))
  return out
}

/** Runs the detector over `pcm` in 20 ms packets and collects every event. */
function detect(rate: number, pcm: Int16Array): string {
  const d = new DtmfToneDetector(rate)
  const step = rate / 50
  let digits = ''
  for (let i = 0; i < pcm.length; i += step) digits += d.push(pcm.subarray(i, i + step)).join('')
  return digits
}

function sequence(keys: string, toneMs: number, gapMs: number): Array<[string | null, number]> {
  const segs: Array<[string | null, number]> = [[null, 30]]
  for (const k of keys) segs.push([k, toneMs], [null, gapMs])
  return segs
}

for (const rate of [8000, 16000]) {
  t.test(`${rate} Hz: every one of the 16 keys`, async (t) => {
    for (const key of Object.keys(FREQS))
      t.equal(
        detect(
          rate,
          toPcm(
            dtmf(rate, [
              [null, 20],
              [key, 60],
              [null, 60],
            ]),
          ),
        ),
        key,
        key,
      )
  })

  t.test(`${rate} Hz: "79161234567#" with 50 ms tones and 50 ms gaps`, async (t) => {
    t.equal(detect(rate, toPcm(dtmf(rate, sequence('79161234567#', 50, 50)))), '79161234567#')
  })

  t.test(`${rate} Hz: the same sequence at 20 dB SNR in white noise, and at low level`, async (t) => {
    const x = dtmf(rate, sequence('79161234567#', 50, 50), 3000)
    // Each tone has power A^2/2; both together A^2. Noise 20 dB below that.
    const sigma = Math.sqrt((3000 * 3000) / 100)
    const r = rng(7)
    for (let i = 0; i < x.length; i++) {
      const g = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()) // Box-Muller
      x[i] += sigma * g
    }
    t.equal(detect(rate, toPcm(x)), '79161234567#')
    t.equal(detect(rate, toPcm(dtmf(rate, sequence('0#D', 50, 50), 600))), '0#D', 'about -31 dBm0 per tone')
  })

  t.test(`${rate} Hz: a long press is one digit; the same key twice with a gap is two`, async (t) => {
    t.equal(
      detect(
        rate,
        toPcm(
          dtmf(rate, [
            [null, 40],
            ['5', 1500],
            [null, 100],
          ]),
        ),
      ),
      '5',
    )
    t.equal(
      detect(
        rate,
        toPcm(
          dtmf(rate, [
            [null, 40],
            ['5', 60],
            [null, 60],
            ['5', 60],
            [null, 60],
          ]),
        ),
      ),
      '55',
    )
    t.equal(
      detect(
        rate,
        toPcm(
          dtmf(rate, [
            [null, 40],
            ['1', 60],
            ['2', 60],
            [null, 60],
          ]),
        ),
      ),
      '12',
      'a key change without a gap',
    )
  })

  t.test(`${rate} Hz: an 18 ms tone is ignored wherever it falls in the blocks`, async (t) => {
    for (let lead = 20; lead < 34; lead++)
      t.equal(
        detect(
          rate,
          toPcm(
            dtmf(rate, [
              [null, lead],
              ['8', 18],
              [null, 100],
            ]),
          ),
        ),
        '',
        `after ${lead} ms`,
      )
  })

  t.test(`${rate} Hz: a 40 ms tone is detected wherever it falls in the blocks`, async (t) => {
    for (let lead = 20; lead < 34; lead++)
      t.equal(
        detect(
          rate,
          toPcm(
            dtmf(rate, [
              [null, lead],
              ['8', 40],
              [null, 100],
            ]),
          ),
        ),
        '8',
        `after ${lead} ms`,
      )
  })

  t.test(`${rate} Hz: no digit from a single tone`, async (t) => {
    for (const f of [697, 941, 1209, 1633]) {
      const n = rate
      const x = new Float64Array(n)
      for (let i = 0; i < n; i++) x[i] = 8000 * Math.sin((2 * Math.PI * f * i) / rate)
      t.equal(detect(rate, toPcm(x)), '', `${f} Hz`)
    }
  })

  t.test(`${rate} Hz: no digit from speech-like signals`, async (t) => {
    // Voiced speech: harmonic series with a gliding pitch (85-260 Hz, male to female range),
    // formant-like emphasis and a syllable envelope, 10 s per voice; plus all of them at once.
    const voices = [
      { f0: 85, glide: 40, formants: [700, 1220] },
      { f0: 120, glide: 60, formants: [800, 1400] },
      { f0: 210, glide: 50, formants: [900, 1500] },
      { f0: 174, glide: 90, formants: [350, 2300] },
    ]
    const n = rate * 10
    const mix = new Float64Array(n)
    for (const v of voices) {
      const x = new Float64Array(n)
      let phase = 0
      for (let i = 0; i < n; i++) {
        const time = i / rate
        const f0 = v.f0 + v.glide * Math.sin(2 * Math.PI * 0.7 * time)
        phase += (2 * Math.PI * f0) / rate
        const env = Math.max(0, Math.sin(2 * Math.PI * 2.5 * time))
        let s = 0
        for (let h = 1; h * f0 < rate / 2 - 200; h++) {
          const fh = h * f0
          const gain = v.formants.reduce((g, fm) => g + 1 / (1 + ((fh - fm) / 120) ** 2), 0.05)
          s += gain * Math.sin(h * phase)
        }
        x[i] = 6000 * env * s
        mix[i] += x[i] / 2
      }
      t.equal(detect(rate, toPcm(x)), '', `voice at ${v.f0} Hz`)
    }
    t.equal(detect(rate, toPcm(mix)), '', 'all voices at once')
  })
}

t.test('rejects unsupported sample rates', async (t) => {
  t.throws(() => new DtmfToneDetector(48000), RangeError)
})
