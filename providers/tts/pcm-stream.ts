// Turns a provider's 16-bit little-endian PCM byte stream, cut anywhere (even mid-sample), into
// TtsChunks at the rate the caller asked for.
import { REALTIME, Resampler } from '../../codecs/resample.ts'
import type { TtsChunk } from '../types.ts'

export class PcmStream {
  private carry: number | undefined // the low byte of a sample whose high byte is in the next chunk
  private readonly resampler?: Resampler

  constructor(
    readonly fromRate: number,
    readonly toRate: number,
  ) {
    // chunks are small and arrive over the network: the per-packet quality keeps each call short
    if (fromRate !== toRate) this.resampler = new Resampler(fromRate, toRate, REALTIME)
  }

  /** The chunk for these bytes, or undefined while they do not yet complete a sample. */
  push(bytes: Uint8Array): TtsChunk | undefined {
    const lead = this.carry === undefined ? 0 : 1
    const count = (bytes.length + lead) >> 1
    if (count === 0) {
      if (bytes.length) this.carry = bytes[0]
      return undefined
    }
    const pcm = new Int16Array(count)
    if (this.carry !== undefined) pcm[0] = (((bytes[0] << 8) | this.carry) << 16) >> 16
    for (let i = lead, s = lead; s < count; i += 2, s++) pcm[s] = (((bytes[i + 1] << 8) | bytes[i]) << 16) >> 16
    this.carry = (bytes.length + lead) % 2 === 1 ? bytes[bytes.length - 1] : undefined
    return this.out(pcm)
  }

  /** Samples already decoded (eSpeak hands over an Int16Array). */
  pushSamples(pcm: Int16Array): TtsChunk | undefined {
    return this.out(pcm)
  }

  /** The resampler's tail at the end of the stream (a dangling odd byte is dropped). */
  end(): TtsChunk | undefined {
    this.carry = undefined
    const tail = this.resampler?.flush()
    return tail?.length ? { pcm: tail, sampleRate: this.toRate } : undefined
  }

  private out(pcm: Int16Array): TtsChunk | undefined {
    const res = this.resampler ? this.resampler.process(pcm) : pcm
    return res.length ? { pcm: res, sampleRate: this.toRate } : undefined
  }
}
