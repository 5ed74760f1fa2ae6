import type { RemoteInfo, Socket } from 'node:dgram'

/** One side of a relay: our socket that this side's peer sends to, and where the peer receives. */
export interface RelaySide {
  socket: Socket
  /** From the peer's SDP; the port follows the peer's real source once it sends (symmetric RTP). */
  remote: { address: string; port: number }
}

export interface RelayCounts {
  /** Datagrams forwarded from side a's peer to side b's, and back. */
  aToB: number
  bToA: number
  /** Datagrams from addresses that are neither peer. */
  dropped: number
}

/**
 * A packet-level bridge between two remote media endpoints: every datagram a's peer sends to
 * a.socket leaves b.socket for b's peer unchanged (SSRC, sequence numbers, timestamps and
 * payload as they came), and the other way round. No decoding, no clock: the two ends must
 * share a codec. Use one relay for RTP and, when wanted, a second one for the RTCP sockets.
 * Packets from a source address other than the peer's are dropped; the sockets stay the
 * owner's (stop() detaches, it does not close them).
 */
export class RtpRelay {
  readonly counts: RelayCounts = { aToB: 0, bToA: 0, dropped: 0 }
  private readonly onA = (msg: Buffer, from: RemoteInfo) => this.forward(msg, from, this.a, this.b, 'aToB')
  private readonly onB = (msg: Buffer, from: RemoteInfo) => this.forward(msg, from, this.b, this.a, 'bToA')
  private running = false

  constructor(private readonly a: RelaySide, private readonly b: RelaySide) {
    if (a.socket === b.socket) throw new Error('a relay needs two different sockets')
    this.a = { socket: a.socket, remote: { ...a.remote } }
    this.b = { socket: b.socket, remote: { ...b.remote } }
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
    this.counts[dir]++
    outSide.socket.send(msg, outSide.remote.port, outSide.remote.address)
  }
}
