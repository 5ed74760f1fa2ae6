import { G711Codec } from './g711-codec.ts'
import { linearToUlaw, ulawToLinear } from './g711.ts'

/** G.711 mu-law, RTP/AVP static payload type 0 (RFC 3551). */
export class PcmuCodec extends G711Codec {
  readonly name = 'PCMU'
  protected toLinear = ulawToLinear
  protected fromLinear = linearToUlaw
}
