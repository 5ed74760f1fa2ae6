// Both directions of one call's SRTP and SRTCP, built from the keying SDES agreed.
import type { SrtpKeying } from './crypto-suite.ts'
import { SrtcpReceiver, SrtcpSender } from './srtcp-transform.ts'
import { SrtpReceiver, SrtpSender } from './srtp-transform.ts'

export interface SrtpContext {
  rtpOut: SrtpSender
  rtpIn: SrtpReceiver
  rtcpOut: SrtcpSender
  rtcpIn: SrtcpReceiver
}

/**
 * The call's keys for relaying another source's packets to the peer (a bridged transfer): the
 * receivers and the SRTCP sender go on as they were (their replay and index state is the peer's
 * view), the RTP sender is fresh, since the relayed stream is a new SSRC whose roll-over counter
 * starts at 0 for the peer.
 */
export function relayContext(keying: SrtpKeying, ctx: SrtpContext): SrtpContext {
  return { ...ctx, rtpOut: new SrtpSender(keying.suite, Buffer.from(keying.local, 'base64')) }
}

export function srtpContext(keying: SrtpKeying): SrtpContext {
  const local = Buffer.from(keying.local, 'base64')
  const remote = Buffer.from(keying.remote, 'base64')
  return {
    rtpOut: new SrtpSender(keying.suite, local),
    rtpIn: new SrtpReceiver(keying.suite, remote),
    rtcpOut: new SrtcpSender(keying.suite, local),
    rtcpIn: new SrtcpReceiver(keying.suite, remote),
  }
}
