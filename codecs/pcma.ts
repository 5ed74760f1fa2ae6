import type { AudioCodec } from './codec.ts';
import { alawToLinear, linearToAlaw } from './g711.ts';

/** G.711 A-law, RTP/AVP static payload type 8 (RFC 3551): one byte per 8 kHz sample. */
export class PcmaCodec implements AudioCodec {
  readonly name = 'PCMA';
  readonly clockRate = 8000;
  readonly sampleRate = 8000;

  decode(payload: Uint8Array, out: Int16Array): number {
    const n = payload.length;
    if (out.length < n) throw new RangeError(`PCMA decode: output holds ${out.length} samples, payload has ${n}`);
    for (let i = 0; i < n; i++) out[i] = alawToLinear(payload[i]);
    return n;
  }

  encode(pcm: Int16Array, out: Uint8Array): number {
    const n = pcm.length;
    if (out.length < n) throw new RangeError(`PCMA encode: output holds ${out.length} bytes, input has ${n} samples`);
    for (let i = 0; i < n; i++) out[i] = linearToAlaw(pcm[i]);
    return n;
  }
}
