import type { RtpPortPair } from '../../rtp/port-pool.ts'
import { RtpRelay, type RelayCounts } from '../../rtp/rtp-relay.ts'
import type { SrtpContext } from '../../rtp/srtp/srtp-context.ts'

/** Where one side's phone receives media, and the socket pair of ours that it sends to. */
export interface BridgeSide {
  ports: RtpPortPair
  rtp: { address: string; port: number }
  rtcp: { address: string; port: number }
  /** the phone's SIP address, trusted as a media source too (see RelaySide) */
  signallingAddress?: string
  rtcpMux: boolean
  /** The RTP payload types this phone negotiated: the codec's, and telephone-event's if any. */
  payloadTypes: ReadonlySet<number>
  /** this phone's SRTP keys, when its leg is SRTP (each leg has its own) */
  srtp?: SrtpContext
}

export interface BridgeCounts {
  callerToSeller: number
  sellerToCaller: number
  /** datagrams from neither phone's address */
  dropped: number
  /** packets under a payload type the receiving phone did not negotiate (telephone-event) */
  filtered: number
  /** SRTP/SRTCP packets that failed authentication (a keyed phone's leg) */
  unauthenticated: number
}

/**
 * A caller put through to a seller by the server itself (the caller's phone refused the REFER):
 * the caller's socket pair and the seller leg's, with RTP relayed unchanged between them and
 * RTCP too, on its own sockets when neither side muxes it and inside the RTP relay when both do.
 * No decoding: the seller's leg was offered the caller's codec only. A keyed leg's packets are
 * unprotected on the way in and protected with the other leg's keys on the way out (each leg has
 * its own SDES keys; either may be plain). The sockets stay the owner's.
 */
export class TransferBridge {
  private readonly rtp: RtpRelay
  private readonly rtcp: RtpRelay | undefined

  constructor(caller: BridgeSide, seller: BridgeSide) {
    this.rtp = new RtpRelay(
      { socket: caller.ports.rtp, remote: caller.rtp, signallingAddress: caller.signallingAddress, accepts: caller.payloadTypes, srtp: caller.srtp },
      { socket: seller.ports.rtp, remote: seller.rtp, signallingAddress: seller.signallingAddress, accepts: seller.payloadTypes, srtp: seller.srtp },
    )
    // Both muxed: RTCP rides in the RTP relay. A caller that muxes and a seller that declined it:
    // the caller's RTCP reaches the seller's RTP port and the seller's is not relayed; RTP flows.
    this.rtcp =
      caller.rtcpMux || seller.rtcpMux
        ? undefined
        : new RtpRelay(
            { socket: caller.ports.rtcp, remote: caller.rtcp, signallingAddress: caller.signallingAddress, srtp: caller.srtp },
            { socket: seller.ports.rtcp, remote: seller.rtcp, signallingAddress: seller.signallingAddress, srtp: seller.srtp },
          )
  }

  /** Every RTP datagram (and muxed RTCP) relayed, by the phone that sent it. */
  set onRtp(tap: (msg: Buffer, from: 'caller' | 'seller') => void) {
    this.rtp.onForward = (msg, dir) => tap(msg, dir === 'aToB' ? 'caller' : 'seller')
  }

  start(): void {
    this.rtp.start()
    this.rtcp?.start()
  }

  stop(): void {
    this.rtp.stop()
    this.rtcp?.stop()
  }

  /** Datagrams relayed so far, for the call record: RTP (with muxed RTCP) and RTCP. */
  get counts(): { rtp: BridgeCounts; rtcp?: BridgeCounts } {
    return { rtp: named(this.rtp.counts), ...(this.rtcp && { rtcp: named(this.rtcp.counts) }) }
  }
}

function named(c: RelayCounts): BridgeCounts {
  return { callerToSeller: c.aToB, sellerToCaller: c.bToA, dropped: c.dropped, filtered: c.filtered, unauthenticated: c.unauthenticated }
}
