import { G711Codec } from './g711-codec.ts'
import { alawToLinear, linearToAlaw } from './g711.ts'

/** G.711 A-law, RTP/AVP static payload type 8 (RFC 3551). */
export class PcmaCodec extends G711Codec {
  readonly name = 'PCMA'
  protected toLinear = alawToLinear
  protected fromLinear = linearToAlaw
}
