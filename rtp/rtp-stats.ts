import type { JitterStats } from './jitter-buffer.ts'
import type { RemoteReport } from './rtcp-reporter.ts'

/** What a telecom engineer asks of a call's RTP: counts both ways and what was thrown away. */
export class RtpStats {
  packetsIn = 0
  octetsIn = 0
  packetsOut = 0
  octetsOut = 0
  rtcpIn = 0
  rtcpOut = 0
  ssrc: number | undefined
  readonly dropped: Record<string, number> = {}

  countDrop(reason: string): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1
  }

  toJSON(jitter: JitterStats, remote: RemoteReport | undefined): object {
    return {
      packetsIn: this.packetsIn,
      octetsIn: this.octetsIn,
      packetsOut: this.packetsOut,
      octetsOut: this.octetsOut,
      ssrcIn: this.ssrc,
      dropped: this.dropped,
      jitterBuffer: { ...jitter },
      rtcp: { in: this.rtcpIn, out: this.rtcpOut, remote },
    }
  }
}
