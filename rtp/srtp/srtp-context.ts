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
