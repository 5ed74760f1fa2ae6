import type { RemoteInfo, Socket } from 'node:dgram'

/** One side of a relay: our socket that this side's peer sends to, and where the peer receives. */
export interface RelaySide {
  socket: Socket
  /** From the peer's SDP; the port follows the peer's real source once it sends (symmetric RTP). */
  remote: { address: string; port: number }
  /** RTP payload types this side's peer negotiated; others sent to it are dropped (RTCP passes). */
  accepts?: ReadonlySet<number>
}

export interface RelayCounts {
  /** Datagrams forwarded from side a's peer to side b's, and back. */
  aToB: number
  bToA: number
  /** Datagrams from addresses that are neither peer. */
  dropped: number
  /** RTP packets not forwarded because the receiving peer did not negotiate their payload type. */
  filtered: number
}

/**
 * A packet-level bridge between two remote media endpoints: every datagram a's peer sends to
 * a.socket leaves b.socket for b's peer unchanged (SSRC, sequence numbers, timestamps and
 * payload as they came), and the other way round. No decoding, no clock: the two ends must
 * share a codec; a side that lists the payload types it takes gets no others (a caller's
 * telephone-event never reaches a seller whose answer left it out). Use one relay for RTP and,
 * when wanted, a second one for the RTCP sockets.
 * Packets from a source address other than the peer's are dropped; the sockets stay the
 * owner's (stop() detaches, it does not close them).
 */
export class RtpRelay {
  readonly counts: RelayCounts = { aToB: 0, bToA: 0, dropped: 0, filtered: 0 }
  /** Every datagram forwarded, after it was sent (a recording's tap). */
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
    if (from.address !== inSide.remote.address) {
      this.counts.dropped++
      return
    }
    inSide.remote.port = from.port
    // RFC 5761: a second byte of 192-223 is RTCP (muxed on this port), which is not filtered.
    if (outSide.accepts && msg.length > 1 && (msg[1] < 192 || msg[1] > 223) && !outSide.accepts.has(msg[1] & 0x7f)) {
      this.counts.filtered++
      return
    }
    this.counts[dir]++
    outSide.socket.send(msg, outSide.remote.port, outSide.remote.address)
    this.onForward(msg, dir)
  }
}
