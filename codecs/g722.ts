// ITU-T G.722 at 64 kbit/s (mode 1): wideband (16 kHz) audio as two 8 kHz sub-bands.
//
// A 24-tap quadrature mirror filter splits the input into a lower band (0-4 kHz) and a
// higher band (4-8 kHz, spectrally inverted by the decimation). The lower band is coded by
// 6-bit ADPCM, the higher band by 2-bit ADPCM; each 8 kHz sample pair becomes one octet
// (higher-band code in the top 2 bits, RFC 3551). Both ADPCM loops use the recommendation's
// backward-adaptive predictor: 2 poles and 6 zeros, sign-sign adaptation. The lower band
// adapts its predictor and scale factor on the 4-bit core of its code (the embedded-coding
// structure of G.722), so the decoder tracks the encoder exactly; the 6-bit code only refines
// the decoder's output.
//
// Fixed-point arithmetic follows the recommendation's integer formulation (coefficients in
// Q13/Q14/Q15 as tabulated), so output is bit-exact across platforms and with other
// implementations of the recommendation (checked against FFmpeg's, see g722.test.ts).

import type { AudioCodec } from './codec.ts'

/** QMF coefficients h(0..23), scaled by 2^13 (they sum to 8192). */
const QMF = [3, -11, -11, 53, 12, -156, 32, 362, -210, -805, 951, 3876, 3876, 951, -805, -210, 362, 32, -156, 12, 53, -11, -11, 3]

/** Lower band 6-bit quantiser decision levels (times the scale factor, Q12). */
const Q6 = [
  0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940, 1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919,
]
/** Interval index (1..30) to 6-bit code, negative and positive differences. */
const ILN = [0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4]
const ILP = [0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32]
/** 6-bit inverse quantiser output (Q15 of the scale factor); codes 0-3 are unused. */
const QM6 = [
  -136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232, -9360, -8576, -7856, -7192, -6576, -6000, -5456, -4944, -4464,
  -4008, -3576, -3168, -2776, -2400, -2032, -1688, -1360, -1040, -728, 24808, 21904, 19008, 16704, 14984, 13512, 12280, 11192, 10232, 9360, 8576, 7856, 7192,
  6576, 6000, 5456, 4944, 4464, 4008, 3576, 3168, 2776, 2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136,
]
/** 4-bit inverse quantiser (the code's top 4 bits), used by the lower band's adaptation. */
const QM4 = [0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584, 1200, 0]
/** 4-bit code to magnitude class, and the class's log scale-factor multiplier. */
const RL42 = [0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0]
const WL = [-60, -30, 58, 172, 334, 538, 1198, 3042]

/** Higher band: the single decision level, codes for (negative, positive) x (inner, outer). */
const Q2 = 564
const IHN = [0, 1, 0]
const IHP = [0, 3, 2]
const QM2 = [-7408, -1616, 7408, 1616]
const RH2 = [2, 1, 2, 1]
const WH = [0, -214, 798]

/** 2^(i/32) * 2048: the mantissa of the log-to-linear scale factor conversion. */
const ILB = [
  2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834, 2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520,
  3597, 3676, 3756, 3838, 3922, 4008,
]

function sat16(x: number): number {
  return x > 32767 ? 32767 : x < -32768 ? -32768 : x
}

/** The sub-band signals are 15-bit quantities in the recommendation. */
function sat15(x: number): number {
  return x > 16383 ? 16383 : x < -16384 ? -16384 : x
}

/** Signs agree, zero counting as positive (the recommendation's sign-bit comparison). */
function sameSign(x: number, y: number): boolean {
  return (x ^ y) >= 0
}

/** One sub-band's ADPCM state: log scale factor and the pole-zero predictor. */
class SubBand {
  /** Log-domain scale factor and its linear value. */
  nb = 0
  det: number
  /** Signal estimate for the next sample and its zero-section part. */
  s = 0
  sz = 0
  /** Reconstructed signal and partial reconstructed signal (difference + sz), 1 and 2 back. */
  r1 = 0
  r2 = 0
  p1 = 0
  p2 = 0
  a1 = 0
  a2 = 0
  /** Zero-section coefficients and the quantised differences 1..6 samples back. */
  readonly b = new Int32Array(6)
  readonly d = new Int32Array(6)
  private readonly nbMax: number
  private readonly shiftBase: number

  constructor(nbMax: number, shiftBase: number) {
    this.nbMax = nbMax
    this.shiftBase = shiftBase
    this.det = this.scale()
  }

  /** Takes over `from`'s adaptive state (both bands of one kind, so the limits match). */
  copyFrom(from: SubBand): void {
    this.nb = from.nb
    this.det = from.det
    this.s = from.s
    this.sz = from.sz
    this.r1 = from.r1
    this.r2 = from.r2
    this.p1 = from.p1
    this.p2 = from.p2
    this.a1 = from.a1
    this.a2 = from.a2
    this.b.set(from.b)
    this.d.set(from.d)
  }

  /** Scale factor adaptation: leaky log-domain integrator of the code's multiplier. */
  adaptScale(w: number): void {
    const nb = ((this.nb * 127) >> 7) + w
    this.nb = nb < 0 ? 0 : nb > this.nbMax ? this.nbMax : nb
    this.det = this.scale()
  }

  private scale(): number {
    const mant = ILB[(this.nb >> 6) & 31]
    const shift = this.shiftBase - (this.nb >> 11)
    return (shift < 0 ? mant << -shift : mant >> shift) << 2
  }

  /** Feeds the quantised difference `dq` through the predictor; sets `s` for the next sample. */
  update(dq: number): void {
    const p = sat16(dq + this.sz)
    const r = sat15(this.s + dq)
    // Zero section: sign-sign adaptation with leakage 2^-8; no step when the difference is 0.
    const { b, d } = this
    const step = dq === 0 ? 0 : 128
    for (let i = 0; i < 6; i++) b[i] = ((b[i] * 255) >> 8) + (sameSign(dq, d[i]) ? step : -step)
    for (let i = 5; i > 0; i--) d[i] = d[i - 1]
    d[0] = dq
    // Pole section: a2 first (its step depends on the old a1), then a1 within the stability
    // triangle |a1| <= 1 - 2^-4 - a2, |a2| <= 0.75.
    const f = sat16(this.a1 * 4)
    let a2 = ((sameSign(p, this.p1) ? -f : f) >> 7) + (sameSign(p, this.p2) ? 128 : -128) + ((this.a2 * 127) >> 7)
    a2 = a2 > 12288 ? 12288 : a2 < -12288 ? -12288 : a2
    let a1 = (sameSign(p, this.p1) ? 192 : -192) + ((this.a1 * 255) >> 8)
    const lim = 15360 - a2
    a1 = a1 > lim ? lim : a1 < -lim ? -lim : a1
    this.a1 = a1
    this.a2 = a2
    this.p2 = this.p1
    this.p1 = p
    this.r2 = this.r1
    this.r1 = r
    // Prediction for the next sample.
    let sz = 0
    for (let i = 0; i < 6; i++) sz += (b[i] * (d[i] * 2)) >> 15
    sz = sat16(sz)
    const sp = sat16(((a1 * (r * 2)) >> 15) + ((a2 * (this.r2 * 2)) >> 15))
    this.sz = sz
    this.s = sat16(sp + sz)
  }
}

/** Lower band: 18432 caps the log scale factor, scale base 8 (initial det 32). */
function lowerBand(): SubBand {
  return new SubBand(18432, 8)
}

/** Higher band: 22528 caps the log scale factor, scale base 10 (initial det 8). */
function higherBand(): SubBand {
  return new SubBand(22528, 10)
}

/**
 * G.722 at 64 kbit/s. One instance per direction per call: encoder and decoder each keep
 * their own filter and ADPCM state. RTP clock rate is 8000 (RFC 3551 keeps G.722's
 * historical 8 kHz clock) while the PCM is 16 kHz: one octet per 16 kHz sample pair.
 *
 * Level: 16-bit PCM maps onto the sub-bands' 15-bit range (QMF output >> 14, synthesis
 * >> 11), the convention of the widely deployed stacks, so levels survive interworking.
 */
export class G722Codec implements AudioCodec {
  readonly name = 'G722'
  readonly clockRate = 8000
  readonly sampleRate = 16000

  private readonly encLow = lowerBand()
  private readonly encHigh = higherBand()
  /** Analysis filter input, newest first: tx[k] = x(j - k). */
  private readonly tx = new Int32Array(24)
  /** The encoder state saveEncoder() kept. */
  private readonly savedLow = lowerBand()
  private readonly savedHigh = higherBand()
  private readonly savedTx = new Int32Array(24)

  private readonly decLow = lowerBand()
  private readonly decHigh = higherBand()
  /** Synthesis filter inputs, newest first: difference and sum of the decoded sub-bands. */
  private readonly rxd = new Int32Array(12)
  private readonly rxs = new Int32Array(12)

  encode(pcm: Int16Array, out: Uint8Array): number {
    const n = pcm.length
    if (n % 2 !== 0) throw new RangeError(`G722 encode: ${n} samples is not a whole number of sample pairs`)
    const bytes = n / 2
    if (out.length < bytes) throw new RangeError(`G722 encode: output holds ${out.length} bytes, ${bytes} needed`)
    const tx = this.tx
    const low = this.encLow
    const high = this.encHigh
    for (let k = 0; k < bytes; k++) {
      tx.copyWithin(2, 0, 22)
      tx[1] = pcm[2 * k]
      tx[0] = pcm[2 * k + 1]
      let even = 0
      let odd = 0
      for (let i = 0; i < 24; i += 2) {
        even += QMF[i] * tx[i]
        odd += QMF[i + 1] * tx[i + 1]
      }
      const xl = sat16((even + odd) >> 14)
      const xh = sat16((even - odd) >> 14)

      // Lower band: 6-bit quantisation of the prediction error.
      const el = sat16(xl - low.s)
      const mag = el >= 0 ? el : -(el + 1)
      let m = 1
      while (m < 30 && mag >= (Q6[m] * low.det) >> 12) m++
      const il = el < 0 ? ILN[m] : ILP[m]
      const dl = (low.det * QM4[il >> 2]) >> 15
      low.adaptScale(WL[RL42[il >> 2]])
      low.update(dl)

      // Higher band: 2-bit quantisation.
      const eh = sat16(xh - high.s)
      const hmag = eh >= 0 ? eh : -(eh + 1)
      const mh = hmag >= (Q2 * high.det) >> 12 ? 2 : 1
      const ih = eh < 0 ? IHN[mh] : IHP[mh]
      const dh = (high.det * QM2[ih]) >> 15
      high.adaptScale(WH[RH2[ih]])
      high.update(dh)

      out[k] = (ih << 6) | il
    }
    return bytes
  }

  /** ADPCM has no resync: a packet the far end never decodes would leave its decoder's
   *  predictor and step size off from ours until loud audio happens to realign them. */
  saveEncoder(): void {
    this.savedLow.copyFrom(this.encLow)
    this.savedHigh.copyFrom(this.encHigh)
    this.savedTx.set(this.tx)
  }

  restoreEncoder(): void {
    this.encLow.copyFrom(this.savedLow)
    this.encHigh.copyFrom(this.savedHigh)
    this.tx.set(this.savedTx)
  }

  decode(payload: Uint8Array, out: Int16Array): number {
    const n = payload.length * 2
    if (out.length < n) throw new RangeError(`G722 decode: output holds ${out.length} samples, payload has ${n}`)
    const low = this.decLow
    const high = this.decHigh
    const rxd = this.rxd
    const rxs = this.rxs
    for (let k = 0; k < payload.length; k++) {
      const code = payload[k]
      const il = code & 63
      const ih = code >> 6

      // Output uses the full 6-bit code; the predictor sees only its 4-bit core, as in the encoder.
      const rl = sat15(low.s + ((low.det * QM6[il]) >> 15))
      const dl = (low.det * QM4[il >> 2]) >> 15
      low.adaptScale(WL[RL42[il >> 2]])
      low.update(dl)

      const dh = (high.det * QM2[ih]) >> 15
      const rh = sat15(high.s + dh)
      high.adaptScale(WH[RH2[ih]])
      high.update(dh)

      rxd.copyWithin(1, 0, 11)
      rxs.copyWithin(1, 0, 11)
      rxd[0] = rl - rh
      rxs[0] = rl + rh
      let even = 0
      let odd = 0
      for (let i = 0; i < 12; i++) {
        even += QMF[2 * i] * rxd[i]
        odd += QMF[2 * i + 1] * rxs[i]
      }
      out[2 * k] = sat16(even >> 11)
      out[2 * k + 1] = sat16(odd >> 11)
    }
    return n
  }
}
