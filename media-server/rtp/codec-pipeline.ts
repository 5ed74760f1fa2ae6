import type { AudioCodec } from '../../codecs/codec.ts'
import { PcmConcealer } from '../../codecs/plc.ts'
import { Resampler } from '../../codecs/resample.ts'

/** The rate the media server works at inside: VAD, ASR, recordings, prompts. */
export const INTERNAL_RATE = 16000

/** Codecs with their own loss recovery (Opus): in-band FEC and decoder PLC. */
export interface LossAwareCodec extends AudioCodec {
  decodeFec(nextPayload: Uint8Array, out: Int16Array): number
  conceal(out: Int16Array, samples: number): number
}

function lossAware(c: AudioCodec): c is LossAwareCodec {
  return typeof (c as LossAwareCodec).decodeFec === 'function' && typeof (c as LossAwareCodec).conceal === 'function'
}

/**
 * One call's codec at the line's rate on one side, 16 kHz linear PCM on the other:
 * decode, conceal lost frames (the codec's own FEC/PLC, else G.711 Appendix I style),
 * resample, and the reverse for sending. Buffers are reused; returned views are valid
 * until the next call.
 */
export class CodecPipeline {
  private readonly lineRate: number
  private readonly decoded: Int16Array
  private readonly internal: Int16Array
  private readonly toInternal: Resampler
  private readonly toLine: Resampler
  private readonly concealer: PcmConcealer | undefined
  private readonly lineFrame: Int16Array
  /** Line-rate samples waiting to be encoded (the resampler's output count wobbles). */
  private readonly fifo: Int16Array
  private fifoLength = 0

  constructor(private readonly codec: AudioCodec, ptimeMs: number) {
    this.lineRate = codec.sampleRate
    const maxFrame = Math.ceil((this.lineRate * 120) / 1000) // the longest Opus frame
    this.decoded = new Int16Array(maxFrame)
    this.internal = new Int16Array(Math.ceil((INTERNAL_RATE * 130) / 1000))
    this.toInternal = new Resampler(this.lineRate, INTERNAL_RATE)
    this.toLine = new Resampler(INTERNAL_RATE, this.lineRate)
    this.concealer = lossAware(codec) ? undefined : new PcmConcealer(this.lineRate)
    this.lineFrame = new Int16Array((this.lineRate * ptimeMs) / 1000)
    this.fifo = new Int16Array(this.lineFrame.length * 3)
  }

  /** A received payload, as 16 kHz PCM. */
  decode(payload: Uint8Array): Int16Array {
    const n = this.codec.decode(payload, this.decoded)
    this.concealer?.good(this.decoded.subarray(0, n))
    return this.resampleIn(n)
  }

  /** A lost frame of `durationTs` RTP timestamp units, concealed, as 16 kHz PCM. */
  conceal(durationTs: number, next: Uint8Array | undefined): Int16Array {
    const samples = Math.min(this.decoded.length, Math.round((durationTs * this.lineRate) / this.codec.clockRate))
    let n: number
    if (lossAware(this.codec)) {
      n = next ? this.codec.decodeFec(next, this.decoded.subarray(0, samples)) : this.codec.conceal(this.decoded, samples)
    } else {
      this.concealer!.conceal(this.decoded.subarray(0, samples))
      n = samples
    }
    return this.resampleIn(n)
  }

  private resampleIn(n: number): Int16Array {
    const m = this.toInternal.processInto(this.decoded.subarray(0, n), this.internal)
    return this.internal.subarray(0, m)
  }

  /** One packet's worth of 16 kHz PCM, encoded for the line into `out`; returns bytes. */
  encode(frame: Int16Array, out: Uint8Array): number {
    const free = this.fifo.subarray(this.fifoLength)
    this.fifoLength += this.toLine.processInto(frame, free)
    // The resampler lags by half its filter at the start: pad once, never drop.
    if (this.fifoLength < this.lineFrame.length) {
      this.fifo.copyWithin(this.lineFrame.length - this.fifoLength, 0, this.fifoLength)
      this.fifo.fill(0, 0, this.lineFrame.length - this.fifoLength)
      this.fifoLength = this.lineFrame.length
    }
    this.lineFrame.set(this.fifo.subarray(0, this.lineFrame.length))
    this.fifo.copyWithin(0, this.lineFrame.length, this.fifoLength)
    this.fifoLength -= this.lineFrame.length
    return this.codec.encode(this.lineFrame, out)
  }
}
