import type { AudioCodec } from './codec.ts';
import { linearToUlaw, ulawToLinear } from './g711.ts';

/** G.711 mu-law, RTP/AVP static payload type 0 (RFC 3551): one byte per 8 kHz sample. */
export class PcmuCodec implements AudioCodec {
  readonly name = 'PCMU';
  readonly clockRate = 8000;
  readonly sampleRate = 8000;

  decode(payload: Uint8Array, out: Int16Array): number {
    const n = payload.length;
    if (out.length < n) throw new RangeError(`PCMU decode: output holds ${out.length} samples, payload has ${n}`);
    for (let i = 0; i < n; i++) out[i] = ulawToLinear(payload[i]);
    return n;
  }

  encode(pcm: Int16Array, out: Uint8Array): number {
    const n = pcm.length;
    if (out.length < n) throw new RangeError(`PCMU encode: output holds ${out.length} bytes, input has ${n} samples`);
    for (let i = 0; i < n; i++) out[i] = linearToUlaw(pcm[i]);
    return n;
  }
}
