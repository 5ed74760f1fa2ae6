// Band-limited sample rate conversion by a Kaiser-windowed sinc (polyphase form).
//
// For rates from -> to reduced to L/M (L = to/g, M = from/g), output sample k sits at input
// time k*M/L. Its fractional part is always one of p/L, p = 0..L-1, so the kernel is sampled
// once per phase into a table and every output is a dot product of 2*half input samples with
// one row. The low-pass cutoff follows the lower of the two Nyquist frequencies, which makes
// the same kernel the anti-aliasing filter when decimating and the anti-imaging filter when
// interpolating.

// Stopband begins exactly at the lower Nyquist frequency; the passband ends 15% below it
// (3.4 kHz for 8 kHz telephony audio, the classic telephone band edge).
export interface ResamplerQuality {
  /** Transition width as a fraction of the lower Nyquist frequency. */
  transition: number
  /** Stopband attenuation in dB (Kaiser's formulas hold above 50 dB). */
  stopbandDb: number
}

/** For prompts and recordings, resampled once: beyond 16-bit audio's useful range. */
export const HIGH_QUALITY: ResamplerQuality = { transition: 0.15, stopbandDb: 80 }
/**
 * For the per-packet media path: about half the taps of HIGH_QUALITY. 60 dB is still far
 * below G.711's own noise (about 38 dB SNR); the passband of 8 kHz audio ends at 3.2 kHz.
 */
export const REALTIME: ResamplerQuality = { transition: 0.2, stopbandDb: 60 }
// A larger L means a huge phase table; common audio rates stay far below (22050 -> 8000 is 160).
const MAX_PHASES = 4096

interface Kernel {
  /** Taps per output sample (2 * half). */
  taps: number
  half: number
  /** L rows of `taps` coefficients, row p for fractional position p/L. */
  coefs: Float32Array
}

const kernelCache = new Map<string, Kernel>()

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b]
  return a
}

/** Modified Bessel function of the first kind, order 0 (power series; converges fast for x < 30). */
export function besselI0(x: number): number {
  let sum = 1
  let term = 1
  const q = (x * x) / 4
  for (let k = 1; term > 1e-12 * sum; k++) {
    term *= q / (k * k)
    sum += term
  }
  return sum
}

function designKernel(L: number, M: number, q: ResamplerQuality): Kernel {
  const key = `${L}/${M}/${q.transition}/${q.stopbandDb}`
  const cached = kernelCache.get(key)
  if (cached) return cached
  // All frequencies in cycles per input sample.
  const lowNyquist = 0.5 * Math.min(1, L / M)
  const cutoff = lowNyquist * (1 - q.transition / 2) // -6 dB point, middle of the transition band
  const deltaOmega = 2 * Math.PI * q.transition * lowNyquist
  const order = Math.ceil((q.stopbandDb - 8) / (2.285 * deltaOmega)) // Kaiser's length estimate
  const beta = 0.1102 * (q.stopbandDb - 8.7) // Kaiser's empirical formula for A > 50 dB
  const half = Math.ceil(order / 2)
  const taps = 2 * half
  const coefs = new Float32Array(L * taps)
  const i0Beta = besselI0(beta)
  for (let p = 0; p < L; p++) {
    const row = p * taps
    let sum = 0
    for (let j = 0; j < taps; j++) {
      // Distance from the output instant (frac p/L past input sample ip) to input ip - half + 1 + j.
      const tau = p / L + half - 1 - j
      const r = tau / half
      const window = r * r >= 1 ? 0 : besselI0(beta * Math.sqrt(1 - r * r)) / i0Beta
      const x = 2 * cutoff * tau
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x)
      const h = 2 * cutoff * sinc * window
      coefs[row + j] = h
      sum += h
    }
    // Unit DC gain in every phase; otherwise phase-to-phase gain ripple would add spurs.
    for (let j = 0; j < taps; j++) coefs[row + j] /= sum
  }
  const kernel = { taps, half, coefs }
  kernelCache.set(key, kernel)
  return kernel
}

/**
 * Streaming resampler for 16-bit mono PCM. Output sample k is aligned with input time
 * k * from / to (no added delay in the signal's own timeline); producing it needs `half`
 * input samples of look-ahead, so output lags input by that much until `flush()` pads the
 * end with silence. Chunking never changes the result: any split of the input followed by
 * `flush()` yields exactly the samples `resample()` does.
 */
export class Resampler {
  readonly fromRate: number
  readonly toRate: number
  private readonly L: number
  private readonly M: number
  private readonly kernel: Kernel | null // null when the rates are equal: plain copy
  // Input samples with global index histStart .. histStart + histLen - 1, kept as floats so
  // the dot product below does no integer-to-float conversion per tap.
  private hist: Float32Array
  private histStart = 0
  private histLen = 0
  private ip = 0 // input index at or just before the next output instant
  private phase = 0 // next output instant is ip + phase / L
  private inputCount = 0

  constructor(fromRate: number, toRate: number, quality: ResamplerQuality = HIGH_QUALITY) {
    for (const r of [fromRate, toRate]) {
      if (!Number.isInteger(r) || r <= 0) throw new RangeError(`Resampler: invalid rate ${r}`)
    }
    const g = gcd(fromRate, toRate)
    this.fromRate = fromRate
    this.toRate = toRate
    this.L = toRate / g
    this.M = fromRate / g
    if (this.L > MAX_PHASES) {
      throw new RangeError(`Resampler: ${fromRate} -> ${toRate} Hz needs ${this.L} filter phases (max ${MAX_PHASES})`)
    }
    this.kernel = fromRate === toRate ? null : designKernel(this.L, this.M, quality)
    this.hist = new Float32Array(0)
    this.reset()
  }

  /** Forgets all buffered input, as if newly constructed. */
  reset(): void {
    const half = this.kernel?.half ?? 1
    // The first outputs look back half - 1 samples before the start: silence.
    if (this.hist.length < half - 1) this.hist = new Float32Array(half - 1)
    else this.hist.fill(0, 0, half - 1)
    this.histStart = -(half - 1)
    this.histLen = half - 1
    this.ip = 0
    this.phase = 0
    this.inputCount = 0
  }

  /** Exactly how many samples `processInto` will write for an input of `inputLength` samples. */
  outputLength(inputLength: number): number {
    if (this.kernel === null) return inputLength
    return this.countThrough(this.histStart + this.histLen - 1 + inputLength - this.kernel.half)
  }

  /** Resamples `input` into a new array (convenient; allocates per call). */
  process(input: Int16Array): Int16Array {
    const out = new Int16Array(this.outputLength(input.length))
    this.processInto(input, out)
    return out
  }

  /**
   * Resamples `input` into `out` without allocating (once the internal history buffer has
   * grown to the largest chunk size). `out` must hold `outputLength(input.length)` samples.
   * Returns the number of samples written.
   */
  processInto(input: Int16Array, out: Int16Array): number {
    const n = this.outputLength(input.length)
    if (out.length < n) throw new RangeError(`Resampler: output holds ${out.length} samples, ${n} needed`)
    if (this.kernel === null) {
      out.set(input)
      return n
    }
    this.append(input, input.length)
    this.inputCount += input.length
    return this.run(out, n)
  }

  /**
   * Ends the stream: pads with silence so the last `half` samples of look-ahead come out,
   * returns the remaining output (up to the instant of the last input sample), then resets.
   */
  flush(): Int16Array {
    if (this.kernel === null) return new Int16Array(0)
    const n = this.countThrough(this.inputCount - 1)
    this.append(null, this.kernel.half)
    const out = new Int16Array(n)
    this.run(out, n)
    this.reset()
    return out
  }

  /** Number of outputs, from the next one on, whose instant falls at or before input index `last`. */
  private countThrough(last: number): number {
    // Output j from now sits at ip + (phase + j*M) / L; it is due while that is < last + 1.
    const span = (last + 1 - this.ip) * this.L - this.phase
    return span > 0 ? Math.ceil(span / this.M) : 0
  }

  /** Appends `count` samples of `input`, or `count` zeros when input is null. */
  private append(input: Int16Array | null, count: number): void {
    const need = this.histLen + count
    if (need > this.hist.length) {
      let size = Math.max(64, this.hist.length)
      while (size < need) size *= 2
      const grown = new Float32Array(size)
      grown.set(this.hist.subarray(0, this.histLen))
      this.hist = grown
    }
    if (input === null) this.hist.fill(0, this.histLen, need)
    else this.hist.set(input, this.histLen)
    this.histLen = need
  }

  private run(out: Int16Array, n: number): number {
    const { taps, half, coefs } = this.kernel as Kernel
    const { L, hist } = this
    const stepInt = Math.floor(this.M / L)
    const stepFrac = this.M % L
    let ip = this.ip
    let phase = this.phase
    for (let o = 0; o < n; o++) {
      const base = ip - half + 1 - this.histStart
      const row = phase * taps
      let acc = 0
      // taps is even (2 * half): two independent sums shorten the dependency chain.
      let acc2 = 0
      for (let j = 0; j < taps; j += 2) {
        acc += hist[base + j] * coefs[row + j]
        acc2 += hist[base + j + 1] * coefs[row + j + 1]
      }
      acc += acc2
      const v = Math.round(acc)
      out[o] = v > 32767 ? 32767 : v < -32768 ? -32768 : v
      ip += stepInt
      phase += stepFrac
      if (phase >= L) {
        phase -= L
        ip++
      }
    }
    this.ip = ip
    this.phase = phase
    // Keep only what the next output still reads: from ip - half + 1 on.
    const drop = ip - half + 1 - this.histStart
    if (drop > 0) {
      hist.copyWithin(0, drop, this.histLen)
      this.histLen -= drop
      this.histStart += drop
    }
    return n
  }
}

/** One-shot resampling of a whole signal; the output has ceil(length * to / from) samples. */
export function resample(input: Int16Array, fromRate: number, toRate: number): Int16Array {
  const r = new Resampler(fromRate, toRate)
  const head = r.process(input)
  const tail = r.flush()
  const out = new Int16Array(head.length + tail.length)
  out.set(head)
  out.set(tail, head.length)
  return out
}
