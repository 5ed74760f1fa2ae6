import type { RemoteInfo, Socket } from 'node:dgram'
import type { SrtpContext } from './srtp/srtp-context.ts'

/** One side of a relay: our socket that this side's peer sends to, and where the peer receives. */
export interface RelaySide {
  socket: Socket
  /** From the peer's SDP; it follows the peer's real source once it sends (symmetric RTP). */
  remote: { address: string; port: number }
  /** The peer's SIP address: its media may come from there while its SDP names another (a phone
   *  behind NAT writes its private address), as the call's own RTP session allows. */
  signallingAddress?: string
  /** RTP payload types this side's peer negotiated; others sent to it are dropped (RTCP passes). */
  accepts?: ReadonlySet<number>
  /** The peer speaks SRTP with these keys: what it sends is unprotected before it goes on, what
   *  goes to it is protected (the other side may be plain, or keyed otherwise). */
  srtp?: SrtpContext
}

export interface RelayCounts {
  /** Datagrams forwarded from side a's peer to side b's, and back. */
  aToB: number
  bToA: number
  /** Datagrams from addresses that are neither peer. */
  dropped: number
  /** RTP packets not forwarded because the receiving peer did not negotiate their payload type. */
  filtered: number
  /** SRTP/SRTCP packets from a keyed peer that failed authentication or replay checks. */
  unauthenticated: number
}

/**
 * A packet-level bridge between two remote media endpoints: every datagram a's peer sends to
 * a.socket leaves b.socket for b's peer unchanged (SSRC, sequence numbers, timestamps and
 * payload as they came), and the other way round; a side with SRTP keys has its packets
 * unprotected on the way in and protected on the way out. No decoding, no clock: the two ends must
 * share a codec; a side that lists the payload types it takes gets no others (a caller's
 * telephone-event never reaches a seller whose answer left it out). Use one relay for RTP and,
 * when wanted, a second one for the RTCP sockets.
 * Packets from a source address other than the peer's (its SDP's, or its SIP one) are dropped;
 * the sockets stay the owner's (stop() detaches, it does not close them).
 */
export class RtpRelay {
  readonly counts: RelayCounts = { aToB: 0, bToA: 0, dropped: 0, filtered: 0, unauthenticated: 0 }
  /** Every datagram forwarded, after it was sent, in the clear (a recording's tap). */
  onForward: (msg: Buffer, dir: 'aToB' | 'bToA') => void = () => {}
  private readonly onA = (msg: Buffer, from: RemoteInfo) => this.forward(msg, from, this.a, this.b, 'aToB')
  private readonly onB = (msg: Buffer, from: RemoteInfo) => this.forward(msg, from, this.b, this.a, 'bToA')
  private running = false

  constructor(
    private readonly a: RelaySide,
    private readonly b: RelaySide,
  ) {
    if (a.socket === b.socket) throw new Error('a relay needs two different sockets')
    this.a = { ...a, remote: { ...a.remote } }
    this.b = { ...b, remote: { ...b.remote } }
  }

  start(): void {
    if (this.running) return
    this.running = true
    this.a.socket.on('message', this.onA)
    this.b.socket.on('message', this.onB)
  }

  stop(): void {
    if (!this.running) return
    this.running = false
    this.a.socket.off('message', this.onA)
    this.b.socket.off('message', this.onB)
  }

  /** Where each peer is sent to now (after latching). */
  get remotes(): { a: RelaySide['remote']; b: RelaySide['remote'] } {
    return { a: { ...this.a.remote }, b: { ...this.b.remote } }
  }

  private forward(msg: Buffer, from: RemoteInfo, inSide: RelaySide, outSide: RelaySide, dir: 'aToB' | 'bToA'): void {
    if (from.address !== inSide.remote.address && from.address !== inSide.signallingAddress) {
      this.counts.dropped++
      return
    }
    // RFC 5761: a second byte of 192-223 is RTCP (muxed on this port), which is not filtered.
    const rtcp = msg.length > 1 && msg[1] >= 192 && msg[1] <= 223
    const clear = inSide.srtp ? (rtcp ? inSide.srtp.rtcpIn : inSide.srtp.rtpIn).unprotect(msg) : msg
    if (typeof clear === 'string') {
      this.counts.unauthenticated++ // and the port does not latch onto a forger
      return
    }
    inSide.remote.address = from.address
    inSide.remote.port = from.port
    if (outSide.accepts && !rtcp && !outSide.accepts.has(clear[1] & 0x7f)) {
      this.counts.filtered++
      return
    }
    this.counts[dir]++
    outSide.socket.send(outSide.srtp ? protect(outSide.srtp, clear, rtcp) : clear, outSide.remote.port, outSide.remote.address)
    this.onForward(clear, dir)
  }
}

/** A fresh buffer (the datagram's own is the socket's until it is sent): the packet protected. */
function protect(srtp: SrtpContext, packet: Buffer, rtcp: boolean): Buffer {
  if (rtcp) return srtp.rtcpOut.protect(packet)
  const out = Buffer.alloc(packet.length + srtp.rtpOut.overhead)
  packet.copy(out)
  srtp.rtpOut.protect(out, packet.length)
  return out
}
