/** The counters an RTP session feeds (the server's Metrics has them as prom-client counters). */
export interface RtpMetrics {
  rtpIn: { inc(): void }
  rtpOut: { inc(): void }
  rtpDropped: { labels(reason: string): { inc(): void } }
}

/** The same counters as plain numbers: a media worker has no registry of its own and reports them. */
export class RtpCounters implements RtpMetrics {
  packetsIn = 0
  packetsOut = 0
  dropped: Record<string, number> = {}
  readonly rtpIn = { inc: (): void => void this.packetsIn++ }
  readonly rtpOut = { inc: (): void => void this.packetsOut++ }
  readonly rtpDropped = {
    labels: (reason: string) => ({ inc: (): void => void (this.dropped[reason] = (this.dropped[reason] ?? 0) + 1) }),
  }

  reset(): void {
    this.packetsIn = 0
    this.packetsOut = 0
    this.dropped = {}
  }
}
