// The SDP a FreeSWITCH-bridged transfer's seller leg starts from. An endpoint made without SDP
// (3pcc) will not do: FreeSWITCH makes every endpoint as an inbound channel, with SRTP "optional"
// (its default, read before any variable can be set on the channel), so its offer leads with an
// RTP/SAVP line and drachtio-srf's ACK to it settles SRTP for good. Instead the endpoint is made
// from an offer of ours: the caller's media as FreeSWITCH answered it (its codec and
// telephone-event under the caller's payload types), plain RTP, aimed at the discard port until the
// seller's answer takes its place. FreeSWITCH's answer to it is the offer the seller gets: plain
// RTP, the caller's codec only, as in the native mode, so the bridge passes frames through.
import { parse, write } from 'sdp-transform'

/** Port 9 (discard): where the endpoint's RTP would go before the seller answers (nothing is bridged to it yet). */
const NOWHERE_PORT = 9

/** A plain-RTP offer of the caller's stream, from FreeSWITCH's SDP towards the caller. */
export function placeholderOffer(callerSdp: string): string {
  const sdp = parse(callerSdp)
  const audio = sdp.media.find((m) => m.type === 'audio' && m.port !== 0)
  if (!audio) throw new Error("the caller's media has no audio")
  const { crypto: _keys, direction: _direction, ...media } = audio
  sdp.media = [{ ...media, port: NOWHERE_PORT, protocol: 'RTP/AVP', direction: 'sendrecv' }]
  return write(sdp)
}
