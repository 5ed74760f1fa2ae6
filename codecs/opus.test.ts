import t from 'tap'
import { speechLike } from '../test/helpers/speech-like.ts'
import { spectralSnrDb } from '../test/helpers/spectral-snr.ts'
import { createCodec } from './index.ts'
import { OpusCodec, type OpusSampleRate } from './opus.ts'

function tone(rate: number, freq: number, seconds: number): Int16Array {
  const s = new Int16Array(rate * seconds)
  for (let i = 0; i < s.length; i++) s[i] = Math.round(8000 * Math.sin((2 * Math.PI * freq * i) / rate))
  return s
}

/** Encodes `signal` in 20 ms frames; returns the packets. */
function encodeAll(codec: OpusCodec, signal: Int16Array): Uint8Array[] {
  const frame = codec.sampleRate / 50
  const buf = new Uint8Array(1500)
  const packets: Uint8Array[] = []
  for (let f = 0; f + frame <= signal.length; f += frame) packets.push(buf.slice(0, codec.encode(signal.subarray(f, f + frame), buf)))
  return packets
}

/** Normalised cross-correlation of `ref` with `out` delayed by `lag`, over [from, to). */
function correlation(ref: Int16Array, out: Int16Array, lag: number, from: number, to: number): number {
  let xy = 0
  let xx = 0
  let yy = 0
  for (let i = from; i < to && i + lag < out.length; i++) {
    xy += ref[i] * out[i + lag]
    xx += ref[i] ** 2
    yy += out[i + lag] ** 2
  }
  return xy / Math.sqrt(xx * yy)
}

/** The codec delay: lag of best correlation within 20 ms. */
function delayOf(ref: Int16Array, out: Int16Array, rate: number): number {
  let best = -Infinity
  let lag = 0
  for (let d = 0; d < rate / 50; d++) {
    const c = correlation(ref, out, d, rate / 4, ref.length - rate / 50)
    if (c > best) {
      best = c
      lag = d
    }
  }
  return lag
}

for (const rate of [48000, 16000, 8000] as OpusSampleRate[]) {
  t.test(`${rate} Hz round trip: the decoded signal follows the input`, async (t) => {
    const codec = new OpusCodec({ sampleRate: rate })
    t.equal(codec.clockRate, 48000)
    t.equal(codec.sampleRate, rate)
    // SILK models speech perceptually rather than matching the waveform, hence the lower bar
    // for the harmonic signal; its envelope also pins the delay down (a tone's repeats).
    const cases = [
      ['speech-like', speechLike(rate, 2), 0.75],
      ['1 kHz tone', tone(rate, 1000, 1), 0.95],
    ] as const
    for (const [label, signal, min] of cases) {
      const out = new Int16Array(signal.length)
      let at = 0
      for (const p of encodeAll(codec, signal)) at += codec.decode(p, out.subarray(at, at + rate / 50))
      const lag = delayOf(signal, out, rate)
      const c = correlation(signal, out, lag, rate / 4, signal.length - rate / 50)
      t.ok(c > min, `${label}: correlation ${c.toFixed(3)} at a delay of ${lag} samples`)
      // 6.5 ms: the encoder's look-ahead (4 ms SILK + 2.5 ms CELT overlap).
      if (label === 'speech-like') t.ok(Math.abs(lag - rate * 0.0065) <= rate * 0.0005, `delay ${(lag / rate) * 1000} ms`)
    }
  })
}

for (const rate of [48000, 16000, 8000] as OpusSampleRate[])
  t.test(`${rate} Hz: in-band FEC recovers a dropped frame better than silence and than PLC`, async (t) => {
    const frame = rate / 50
    const signal = speechLike(rate, 2)
    const packets = encodeAll(new OpusCodec({ sampleRate: rate }), signal)
    const lost = 54 // loud (envelope peak), so voice activity detection marks it for FEC
    const run = (recover: (codec: OpusCodec, out: Int16Array) => number): Int16Array => {
      const codec = new OpusCodec({ sampleRate: rate })
      const out = new Int16Array(signal.length)
      let short = 0
      for (let k = 0; k < packets.length; k++) {
        const slot = out.subarray(k * frame, (k + 1) * frame)
        if ((k === lost ? recover(codec, slot) : codec.decode(packets[k], slot)) !== frame) short++
      }
      t.equal(short, 0, 'every frame, recovered or not, is a whole 20 ms')
      return out
    }
    const clean = run((c, out) => c.decode(packets[lost], out))
    const fec = run((c, out) => c.decodeFec(packets[lost + 1], out))
    const plc = run((c, out) => c.conceal(out, frame))
    // Error against the clean decoding over the lost frame (same delay, so no alignment needed).
    const err = (x: Int16Array): number => {
      let e = 0
      for (let i = lost * frame; i < (lost + 1) * frame; i++) e += (x[i] - clean[i]) ** 2
      return e
    }
    const silence = err(new Int16Array(signal.length))
    t.ok(err(fec) < silence / 4, `FEC error ${(10 * Math.log10(err(fec) / silence)).toFixed(1)} dB relative to silence`)
    t.ok(
      err(fec) * 4 < err(plc),
      `FEC at least 6 dB better than PLC: FEC ${(10 * Math.log10(err(fec) / silence)).toFixed(1)} dB, PLC ${(10 * Math.log10(err(plc) / silence)).toFixed(1)} dB`,
    )
  })

t.test('the default complexity codes speech within 3 dB of complexity 10 (spectrally)', async (t) => {
  const rate = 16000
  const signal = speechLike(rate, 3)
  const snr = (complexity?: number): number => {
    const codec = new OpusCodec({ sampleRate: rate, complexity })
    const out = new Int16Array(signal.length)
    let at = 0
    for (const p of encodeAll(codec, signal)) at += codec.decode(p, out.subarray(at, at + rate / 50))
    // Spectral, not waveform: SILK does not keep the waveform (test/helpers/spectral-snr.ts).
    return spectralSnrDb(signal, out, rate, rate * 0.0065, rate / 4)
  }
  const [byDefault, before, best] = [snr(), snr(5), snr(10)]
  t.ok(byDefault > 15, `spectral SNR ${byDefault.toFixed(1)} dB at the default complexity`)
  t.ok(byDefault > best - 3, `against ${best.toFixed(1)} dB at complexity 10 (${before.toFixed(1)} dB at 5, the default until December 2026)`)
  t.equal(createCodec('opus', { opusComplexity: 7 }) instanceof OpusCodec, true, 'createCodec passes the configured complexity on')
})

t.test('garbage payloads are concealed and counted, never thrown', async (t) => {
  const codec = new OpusCodec({ sampleRate: 16000 })
  const out = new Int16Array(320 * 6)
  for (const p of encodeAll(codec, speechLike(16000, 0.2))) codec.decode(p, out)
  const garbage = [Uint8Array.of(0xff, 0xff, 0xff, 0xff), Uint8Array.of(0x03), Uint8Array.of(0x0b, 0xff, 0xff, 0xff), new Uint8Array(5000).fill(0x55)]
  for (const g of garbage) t.equal(codec.decode(g, out), 320)
  t.equal(codec.invalidPackets, garbage.length)
  let lcg = 1
  let odd = 0
  for (let i = 0; i < 200; i++) {
    const p = new Uint8Array(1 + (i % 60))
    for (let j = 0; j < p.length; j++) p[j] = (lcg = (Math.imul(lcg, 1103515245) + 12345) >>> 0) >>> 24
    const n = codec.decode(p, out)
    if (!(n > 0 && n <= out.length)) odd++
  }
  t.equal(odd, 0, 'random bytes decode to some samples or are concealed')
})

t.test('DTX: the encoder sends 1-2 byte packets in silence; they and empty payloads decode quietly', async (t) => {
  const rate = 16000
  const enc = new OpusCodec({ sampleRate: rate, dtx: true })
  const dec = new OpusCodec({ sampleRate: rate })
  const signal = new Int16Array(rate * 2)
  signal.set(speechLike(rate, 0.5))
  const packets = encodeAll(enc, signal)
  const tiny = packets.filter((p) => p.length <= 2)
  t.ok(tiny.length > 20, `${tiny.length} of ${packets.length} packets are DTX`)
  const out = new Int16Array(320)
  let peak = 0
  for (const p of packets.slice(-20)) {
    t.equal(dec.decode(p, out), 320)
    for (const v of out) peak = Math.max(peak, Math.abs(v))
  }
  t.ok(peak < 500, `peak ${peak} during DTX`)
  t.equal(dec.decode(Uint8Array.of(0x78), out), 320, 'a bare TOC byte')
  t.equal(dec.decode(new Uint8Array(0), out), 320, 'an empty payload conceals one frame')
  t.equal(dec.invalidPackets, 0)
})

t.test('caller mistakes are RangeErrors', async (t) => {
  const codec = new OpusCodec({ sampleRate: 16000 })
  t.throws(() => codec.encode(new Int16Array(321), new Uint8Array(1500)), RangeError, 'not a frame size')
  t.throws(() => codec.conceal(new Int16Array(320), 100), RangeError, 'not a multiple of 2.5 ms')
  t.throws(() => codec.conceal(new Int16Array(160), 320), RangeError, 'does not fit')
  const p = encodeAll(codec, speechLike(16000, 0.04))[0]
  t.throws(() => codec.decode(p, new Int16Array(100)), RangeError, 'output too small for the packet')
  t.throws(() => new OpusCodec({ sampleRate: 44100 as OpusSampleRate }), RangeError)
})

t.test('createCodec builds it by SDP name, at the 16 kHz internal rate', async (t) => {
  const c = createCodec('opus')
  t.ok(c instanceof OpusCodec)
  t.same([c.name, c.clockRate, c.sampleRate], ['opus', 48000, 16000])
})
