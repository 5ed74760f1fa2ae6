// In-band DTMF detection for trunks that send key presses as tones inside the audio rather
// than as RFC 4733 telephone-events.
//
// The signal is cut into blocks of 105 samples at 8 kHz (210 at 16 kHz), 13.1 ms: at that
// length the Goertzel response of each DTMF frequency has its first null close to the
// neighbouring frequency of its group, so rows and columns separate cleanly. Each block is
// checked in the manner of ITU-T Q.24: the strongest row and column tones must be above a
// minimum level, within the twist limits of each other, well above the other tones of their
// group, and together hold most of the block's energy (which rejects speech, music, noise and
// harmonics: all of them spread energy over other frequencies). A key is reported once two
// consecutive blocks agree (a tone of 40 ms always spans two whole blocks; one shorter than
// 19.7 ms never fills three quarters of two blocks) and is released after two blocks
// without it, so a long press is one digit and a repeated key needs a real gap.

import { goertzelCoef, goertzelPower } from './goertzel.ts'

const ROWS = [697, 770, 852, 941]
const COLS = [1209, 1336, 1477, 1633]
const KEYS = ['123A', '456B', '789C', '*0#D']

const BLOCK_MS = 13.125
/** Weakest tone accepted, as a sine amplitude in 16-bit units: about -35 dBm0 (G.711 scale). */
const MIN_AMPLITUDE = 400
/** Row stronger than column by at most 8 dB ("normal" twist), column stronger by at most 4 dB. */
const NORMAL_TWIST = 10 ** (8 / 10)
const REVERSE_TWIST = 10 ** (4 / 10)
/** The chosen tone of a group must beat the others of that group by 8 dB. */
const GROUP_MARGIN = 10 ** (8 / 10)
/** The two tones must hold this share of the block's energy. */
const MIN_TONE_SHARE = 0.75
/** Consecutive blocks to accept a key, and without it to release it. */
const HITS_TO_ACCEPT = 2
const MISSES_TO_RELEASE = 2

export class DtmfToneDetector {
  private readonly blockSize: number
  /** Goertzel coefficients 2cos(2 pi f / fs): rows 0-3, columns 4-7. */
  private readonly coefs = new Float64Array(8)
  private readonly power = new Float64Array(8)
  /** Goertzel power of a MIN_AMPLITUDE sine over one block: (A N / 2)^2. */
  private readonly minPower: number
  private readonly block: Int16Array
  private fill = 0
  private lastKey: string | null = null
  private hits = 0
  /** The key reported and not yet released. */
  private active: string | null = null
  private misses = 0
  /** Reused for every push: valid until the next call. */
  private readonly events: string[] = []

  constructor(sampleRate: number) {
    if (sampleRate !== 8000 && sampleRate !== 16000) throw new RangeError(`DtmfToneDetector: unsupported rate ${sampleRate}`)
    this.blockSize = Math.round((sampleRate * BLOCK_MS) / 1000)
    this.block = new Int16Array(this.blockSize)
    ;[...ROWS, ...COLS].forEach((f, i) => {
      this.coefs[i] = goertzelCoef(f, sampleRate)
    })
    this.minPower = ((MIN_AMPLITUDE * this.blockSize) / 2) ** 2
  }

  /**
   * Feeds audio of any length; returns the keys whose press was recognised within it, in
   * order, one event per press. The returned array is reused by the next call.
   */
  push(pcm: Int16Array): string[] {
    this.events.length = 0
    for (let i = 0; i < pcm.length;) {
      const take = Math.min(pcm.length - i, this.blockSize - this.fill)
      this.block.set(pcm.subarray(i, i + take), this.fill)
      this.fill += take
      i += take
      if (this.fill === this.blockSize) {
        this.fill = 0
        this.track(this.classify())
      }
    }
    return this.events
  }

  /** The key this block holds, or null. */
  private classify(): string | null {
    const { block, coefs, power } = this
    const n = this.blockSize
    let energy = 0
    for (let i = 0; i < n; i++) energy += block[i] * block[i]
    for (let k = 0; k < 8; k++) power[k] = goertzelPower(block, coefs[k])
    const row = strongest(power, 0)
    const col = strongest(power, 4)
    const pr = power[row]
    const pc = power[col]
    if (pr < this.minPower || pc < this.minPower) return null
    if (pc * NORMAL_TWIST < pr || pr * REVERSE_TWIST < pc) return null
    for (let k = 0; k < 4; k++) {
      if (k !== row && power[k] * GROUP_MARGIN > pr) return null
      if (k + 4 !== col && power[k + 4] * GROUP_MARGIN > pc) return null
    }
    // A sine's Goertzel power times 2/N is its energy over the block.
    if (((pr + pc) * 2) / n < MIN_TONE_SHARE * energy) return null
    return KEYS[row][col - 4]
  }

  private track(key: string | null): void {
    this.hits = key !== null && key === this.lastKey ? this.hits + 1 : key === null ? 0 : 1
    this.lastKey = key
    if (key === this.active) this.misses = 0
    else if (++this.misses >= MISSES_TO_RELEASE) this.active = null
    if (key !== null && key !== this.active && this.hits >= HITS_TO_ACCEPT) {
      this.active = key
      this.misses = 0
      this.events.push(key)
    }
  }
}

function strongest(power: Float64Array, from: number): number {
  let best = from
  for (let k = from + 1; k < from + 4; k++) if (power[k] > power[best]) best = k
  return best
}
