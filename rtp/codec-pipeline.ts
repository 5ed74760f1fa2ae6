import type { AudioCodec } from '../codecs/codec.ts'
import { PcmConcealer } from '../codecs/plc.ts'
import { HalfBandUpsampler } from '../codecs/halfband.ts'
import { REALTIME, Resampler, resample } from '../codecs/resample.ts'

/** The rate the media server works at inside: VAD, ASR, recordings, prompts. */
export const INTERNAL_RATE = 16000

/** Prompt audio at line rates, alive as long as the 16 kHz original is. */
const lineRateCache = new WeakMap<Int16Array, Map<number, Int16Array>>()

/**
 * 16 kHz audio at a line rate, computed once per audio and rate and kept with the audio. The
 * prompt library calls it at start-up, so that no call pays the milliseconds of a whole-prompt
 * resample between the caller's last word and the answer.
 */
export function atLineRate(pcm: Int16Array, lineRate: number): Int16Array {
  if (lineRate === INTERNAL_RATE) return pcm
  let byRate = lineRateCache.get(pcm)
  if (!byRate) lineRateCache.set(pcm, (byRate = new Map()))
  let line = byRate.get(lineRate)
  if (!line) byRate.set(lineRate, (line = resample(pcm, INTERNAL_RATE, lineRate)))
  return line
}

/** Codecs with their own loss recovery (Opus): in-band FEC and decoder PLC. */
export interface LossAwareCodec extends AudioCodec {
  decodeFec(nextPayload: Uint8Array, out: Int16Array): number
  conceal(out: Int16Array, samples: number): number
}

function lossAware(c: AudioCodec): c is LossAwareCodec {
  return typeof (c as LossAwareCodec).decodeFec === 'function' && typeof (c as LossAwareCodec).conceal === 'function'
}

/**
 * One call's codec at the line's rate on one side, 16 kHz linear PCM on the other.
 * Receiving: decode, conceal lost frames (the codec's own FEC/PLC, else G.711 Appendix I
 * style), resample per packet. Sending: outgoing audio is resampled once per prompt when
 * it is queued (`toLineRate`), so the per-packet work is only the encoder. Buffers are
 * reused; returned views are valid until the next call.
 */
export class CodecPipeline {
  private readonly lineRate: number
  private readonly decoded: Int16Array
  private readonly internal: Int16Array
  // 8 kHz lines (G.711) take the half-band 2x interpolator: a quarter of the multiplies.
  private readonly toInternal: Resampler | HalfBandUpsampler
  private readonly concealer: PcmConcealer | undefined
  // The views handed out, kept while the frame length stays the same (it does, packet after
  // packet): a new view per packet was garbage on the per-packet path.
  private lineView: Int16Array
  private internalView: Int16Array

  constructor(private readonly codec: AudioCodec) {
    this.lineRate = codec.sampleRate
    const maxFrame = Math.ceil((this.lineRate * 120) / 1000) // the longest Opus frame
    this.decoded = new Int16Array(maxFrame)
    this.internal = new Int16Array(Math.ceil((INTERNAL_RATE * 130) / 1000))
    this.toInternal = this.lineRate * 2 === INTERNAL_RATE ? new HalfBandUpsampler(maxFrame) : new Resampler(this.lineRate, INTERNAL_RATE, REALTIME)
    this.concealer = lossAware(codec) ? undefined : new PcmConcealer(this.lineRate)
    this.lineView = this.decoded.subarray(0, 0)
    this.internalView = this.internal.subarray(0, 0)
  }

  private line(n: number): Int16Array {
    if (this.lineView.length !== n) this.lineView = this.decoded.subarray(0, n)
    return this.lineView
  }

  /** A received payload, as 16 kHz PCM. */
  decode(payload: Uint8Array): Int16Array {
    const n = this.codec.decode(payload, this.decoded)
    this.concealer?.good(this.line(n))
    return this.resampleIn(n)
  }

  /** A lost frame of `durationTs` RTP timestamp units, concealed, as 16 kHz PCM. */
  conceal(durationTs: number, next: Uint8Array | undefined): Int16Array {
    const samples = Math.min(this.decoded.length, Math.round((durationTs * this.lineRate) / this.codec.clockRate))
    let n: number
    if (lossAware(this.codec)) {
      n = next ? this.codec.decodeFec(next, this.line(samples)) : this.codec.conceal(this.decoded, samples)
    } else {
      this.concealer!.conceal(this.line(samples))
      n = samples
    }
    return this.resampleIn(n)
  }

  private resampleIn(n: number): Int16Array {
    const m = this.toInternal.processInto(this.line(n), this.internal)
    if (this.internalView.length !== m) this.internalView = this.internal.subarray(0, m)
    return this.internalView
  }

  get sampleRate(): number {
    return this.lineRate
  }

  /** The last decode()'s or conceal()'s audio at the line's rate, before resampling. */
  get lastDecoded(): Int16Array {
    return this.lineView
  }

  /**
   * Outgoing 16 kHz audio at the line's rate. Resampling a whole prompt takes milliseconds,
   * so the result is kept with the prompt: every call playing it at this rate reuses it.
   */
  toLineRate(pcm: Int16Array): Int16Array {
    return atLineRate(pcm, this.lineRate)
  }

  /** One packet's worth of line-rate PCM, encoded into `out`; returns bytes. */
  encode(frame: Int16Array, out: Uint8Array): number {
    return this.codec.encode(frame, out)
  }

  /** See AudioCodec.saveEncoder: before encoding a packet that may yet be dropped. */
  saveEncoder(): void {
    this.codec.saveEncoder()
  }

  /** Takes back what was encoded since saveEncoder(). */
  restoreEncoder(): void {
    this.codec.restoreEncoder()
  }
}
