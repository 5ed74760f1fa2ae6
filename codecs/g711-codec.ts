import type { AudioCodec } from './codec.ts'

/** The payload format both G.711 laws share: one byte per 8 kHz sample, no state. */
export abstract class G711Codec implements AudioCodec {
  abstract readonly name: string
  readonly clockRate = 8000
  readonly sampleRate = 8000
  protected abstract toLinear(byte: number): number
  protected abstract fromLinear(sample: number): number

  decode(payload: Uint8Array, out: Int16Array): number {
    const n = payload.length
    if (out.length < n) throw new RangeError(`${this.name} decode: output holds ${out.length} samples, payload has ${n}`)
    for (let i = 0; i < n; i++) out[i] = this.toLinear(payload[i])
    return n
  }

  encode(pcm: Int16Array, out: Uint8Array): number {
    const n = pcm.length
    if (out.length < n) throw new RangeError(`${this.name} encode: output holds ${out.length} bytes, input has ${n} samples`)
    for (let i = 0; i < n; i++) out[i] = this.fromLinear(pcm[i])
    return n
  }

  /** Nothing to keep: each sample is coded on its own. */
  saveEncoder(): void {}

  restoreEncoder(): void {}
}
