// The voicemail beep: a sustained, steady, near-pure tone somewhere in 400-2500 Hz.
//
// The audio is cut into 32 ms blocks every 16 ms, and each block is measured by a Goertzel bank
// on the block's own DFT bins (31.25 Hz apart at 8 and 16 kHz) across the band. Because the
// bins are orthogonal, the strongest bin and its two neighbours hold nearly all of a pure
// tone's energy wherever it falls between bins, and little of anything else's: speech spreads
// its energy over harmonics and formants, noise over everything, DTMF over two tones (each at
// most about half). A beep is a run of such blocks whose peak stays within a bin of itself.

import { goertzelCoef, goertzelPower } from '../../codecs/goertzel.ts'

export interface BeepOptions {
  /** Band the tone must lie in, Hz. */
  minHz: number
  maxHz: number
  /** Shortest tone reported, ms. */
  minMs: number
  /** Share of the block's energy the peak bin and its two neighbours must hold. */
  minToneShare: number
  /** Weakest tone, as a sine amplitude in 16-bit units (about -40 dBFS). */
  minAmplitude: number
}

export const BEEP_DEFAULTS: BeepOptions = { minHz: 400, maxHz: 2500, minMs: 120, minToneShare: 0.8, minAmplitude: 330 }

const BLOCK_MS = 32
const HOP_MS = 16

export interface Beep {
  /** End of the block that completed the beep's minimum length, in ms of audio pushed. */
  atMs: number
  hz: number
}

export class BeepDetector {
  private readonly opts: BeepOptions
  private readonly blockSize: number
  private readonly hop: number
  /** Bins from one below the band to one above it, so every bin in the band has neighbours. */
  private readonly firstBin: number
  private readonly coefs: Float64Array
  private readonly power: Float64Array
  private readonly minPower: number
  /** Blocks in a row needed: their span (first start to last end) covers minMs. */
  private readonly hitsNeeded: number
  private readonly buf: Float64Array
  private fill = 0
  private samplesSeen = 0
  private hits = 0
  private lastBin = -1
  /** A beep was reported and its tone goes on. */
  private tone = false

  constructor(
    private readonly sampleRate: 8000 | 16000,
    opts: Partial<BeepOptions> = {},
  ) {
    this.opts = { ...BEEP_DEFAULTS, ...opts }
    this.blockSize = (sampleRate * BLOCK_MS) / 1000
    this.hop = (sampleRate * HOP_MS) / 1000
    const binHz = 1000 / BLOCK_MS
    this.firstBin = Math.ceil(this.opts.minHz / binHz) - 1
    const lastBin = Math.floor(this.opts.maxHz / binHz) + 1
    this.coefs = new Float64Array(lastBin - this.firstBin + 1)
    this.coefs.forEach((_, i) => (this.coefs[i] = goertzelCoef((this.firstBin + i) * binHz, sampleRate)))
    this.power = new Float64Array(this.coefs.length)
    this.minPower = ((this.opts.minAmplitude * this.blockSize) / 2) ** 2
    this.hitsNeeded = Math.max(1, Math.ceil((this.opts.minMs - BLOCK_MS) / HOP_MS) + 1)
    this.buf = new Float64Array(this.blockSize)
  }

  /** A reported beep is still sounding (a message is said once it has stopped). */
  get sounding(): boolean {
    return this.tone
  }

  /** Feeds audio of any length; returns a beep once it is complete (once per beep), else null. */
  push(pcm: Int16Array): Beep | null {
    let found: Beep | null = null
    for (let i = 0; i < pcm.length; i++) {
      this.buf[this.fill++] = pcm[i]
      this.samplesSeen++
      if (this.fill < this.blockSize) continue
      const hz = this.toneOf()
      if (hz === null) this.tone = false
      else if (!this.tone && this.hits >= this.hitsNeeded) {
        this.tone = true
        found = { atMs: (this.samplesSeen * 1000) / this.sampleRate, hz }
      }
      this.buf.copyWithin(0, this.hop)
      this.fill -= this.hop
    }
    return found
  }

  /** The tone's frequency if this block continues a steady pure tone, else null. */
  private toneOf(): number | null {
    const { buf, power, coefs } = this
    let energy = 0
    for (let i = 0; i < buf.length; i++) energy += buf[i] * buf[i]
    let peak = 1
    for (let k = 0; k < coefs.length; k++) {
      power[k] = goertzelPower(buf, coefs[k])
      if (k > 0 && k < coefs.length - 1 && power[k] > power[peak]) peak = k
    }
    const tone = ((power[peak - 1] + power[peak] + power[peak + 1]) * 2) / buf.length
    const pure = power[peak] >= this.minPower && tone >= this.opts.minToneShare * energy
    const bin = this.firstBin + peak
    this.hits = !pure ? 0 : Math.abs(bin - this.lastBin) <= 1 ? this.hits + 1 : 1
    this.lastBin = pure ? bin : -1
    return pure ? (bin * 1000) / BLOCK_MS : null
  }
}
