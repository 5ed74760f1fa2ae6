import { seqDiff } from './seq.ts'

/** What a telecom engineer asks of a call's RTP: counts, loss, and what was thrown away. */
export class RtpStats {
  packetsIn = 0
  octetsIn = 0
  packetsOut = 0
  octetsOut = 0
  rtcpIn = 0
  ssrc: number | undefined
  private baseSeq = 0
  /** Highest sequence number seen, extended with a cycle count (RFC 3550 §A.1). */
  private extendedMax = 0
  readonly dropped: Record<string, number> = {}

  onPacket(ssrc: number, seq: number, octets: number): void {
    if (ssrc !== this.ssrc) {
      this.ssrc = ssrc
      this.baseSeq = seq
      this.extendedMax = seq
      this.packetsIn = 0
    }
    const d = seqDiff(seq, this.extendedMax & 0xffff)
    if (d > 0) this.extendedMax += d
    this.packetsIn++
    this.octetsIn += octets
  }

  countDrop(reason: string): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1
  }

  get expected(): number {
    return this.ssrc === undefined ? 0 : this.extendedMax - this.baseSeq + 1
  }

  toJSON(): object {
    return {
      packetsIn: this.packetsIn,
      octetsIn: this.octetsIn,
      packetsOut: this.packetsOut,
      octetsOut: this.octetsOut,
      expectedIn: this.expected,
      lostIn: Math.max(0, this.expected - this.packetsIn),
      rtcpIn: this.rtcpIn,
      ssrcIn: this.ssrc,
      dropped: this.dropped,
    }
  }
}
