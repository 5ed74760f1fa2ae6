// Packet loss concealment on linear PCM after ITU-T G.711 Appendix I: a lost frame is rebuilt
// by repeating the last pitch period(s) of the signal, joined by overlap-add, faded out over
// the loss and faded back into the first good frame.
//
// Differences from Appendix I: good frames are passed through undelayed (the caller owns
// them), so the first joint between real and synthetic signal is not overlap-added; the pitch
// search makes that joint continuous for voiced speech. The fade-out reaches zero at
// maxConcealMs (at the default 60 ms it is Appendix I's 20% per 10 ms after the first 10 ms).

const MIN_PITCH_S = 0.005 // 200 Hz
const MAX_PITCH_S = 0.015 // 66.7 Hz
const CORR_S = 0.02 // window matched against its lagged copies
const MAX_PERIODS = 3

export class PcmConcealer {
  private readonly minPitch: number
  private readonly maxPitch: number
  private readonly corrLen: number
  private readonly tenMs: number
  private readonly maxConceal: number
  /** Most recent output, good and concealed, oldest first. */
  private readonly history: Int16Array
  /** History as it was when the loss began: what the synthetic signal repeats. */
  private readonly frozen: Int16Array

  /** Samples concealed in the current loss; 0 while frames are good. */
  private erased = 0
  private pitch = 0
  private ola = 1
  /** Length of the repeated segment (a whole number of pitch periods) and the next one. */
  private segLen = 0
  private nextSegLen = 0
  private pos = 0

  constructor(sampleRate: number, maxConcealMs = 60) {
    this.minPitch = Math.round(sampleRate * MIN_PITCH_S)
    this.maxPitch = Math.round(sampleRate * MAX_PITCH_S)
    this.corrLen = Math.round(sampleRate * CORR_S)
    this.tenMs = Math.round(sampleRate / 100)
    this.maxConceal = Math.round((sampleRate * maxConcealMs) / 1000)
    // Room for three periods plus the overlap before them, and for the pitch search.
    const len = Math.max(MAX_PERIODS * this.maxPitch + (this.maxPitch >> 2), this.corrLen + this.maxPitch)
    this.history = new Int16Array(len)
    this.frozen = new Int16Array(len)
  }

  /** Feeds a good frame. After a loss its start is cross-faded (in place) from the concealment. */
  good(frame: Int16Array): void {
    if (this.erased > 0) {
      // Appendix I: a quarter period, 4 ms more per 10 ms lost beyond the first, at most 10 ms.
      const fade = Math.min(frame.length, this.tenMs, this.ola + Math.round((this.tenMs * 4) / 10) * Math.floor((this.erased - 1) / this.tenMs))
      for (let i = 0; i < fade; i++) {
        const w = (i + 1) / (fade + 1)
        frame[i] = Math.round(this.synth() * (1 - w) + frame[i] * w)
      }
      this.erased = 0
    }
    this.remember(frame)
  }

  /** Fills one lost frame. */
  conceal(out: Int16Array): void {
    if (this.erased === 0) this.startLoss()
    for (let i = 0; i < out.length; i++) out[i] = this.synth()
    this.remember(out)
  }

  private startLoss(): void {
    this.frozen.set(this.history)
    this.pitch = this.findPitch()
    this.ola = Math.max(1, this.pitch >> 2)
    this.segLen = this.pitch
    this.nextSegLen = this.pitch
    this.pos = 0
  }

  /** Lag in [minPitch, maxPitch] whose copy of the newest window correlates best (normalized). */
  private findPitch(): number {
    const h = this.history
    const start = h.length - this.corrLen
    let best = this.maxPitch
    let bestScore = 0
    for (let lag = this.minPitch; lag <= this.maxPitch; lag++) {
      let corr = 0
      let energy = 0
      for (let i = start; i < h.length; i++) {
        const x = h[i - lag]
        corr += h[i] * x
        energy += x * x
      }
      if (corr <= 0 || energy === 0) continue
      const score = corr / Math.sqrt(energy)
      if (score > bestScore) {
        bestScore = score
        best = lag
      }
    }
    return best
  }

  /** Next synthetic sample: the frozen segment on repeat, each wrap overlap-added, faded by loss time. */
  private synth(): number {
    const f = this.frozen
    const n = f.length
    const tailStart = this.segLen - this.ola
    if (this.pos === tailStart) {
      // One more period every 10 ms of loss, up to three, for a less buzzy repetition.
      this.nextSegLen = this.pitch * Math.min(MAX_PERIODS, 1 + Math.floor(this.erased / this.tenMs))
    }
    let s = f[n - this.segLen + this.pos]
    if (this.pos >= tailStart) {
      // Fade from this pass's end into what led up to the next pass's start.
      const k = this.pos - tailStart
      const w = (k + 1) / (this.ola + 1)
      s = s * (1 - w) + f[n - this.nextSegLen - this.ola + k] * w
    }
    if (++this.pos === this.segLen) {
      this.pos = 0
      this.segLen = this.nextSegLen
    }
    const gain = this.gain()
    this.erased++
    return gain === 0 ? 0 : Math.round(s * gain)
  }

  private gain(): number {
    const t = this.erased
    if (t >= this.maxConceal) return 0
    if (t < this.tenMs) return 1
    return 1 - (t - this.tenMs) / (this.maxConceal - this.tenMs)
  }

  private remember(frame: Int16Array): void {
    const h = this.history
    if (frame.length >= h.length) {
      h.set(frame.subarray(frame.length - h.length))
      return
    }
    h.copyWithin(0, frame.length)
    h.set(frame, h.length - frame.length)
  }
}
