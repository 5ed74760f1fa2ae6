import {
  buildBye,
  buildCompound,
  buildReceiverReport,
  buildSdes,
  buildSenderReport,
  ntpFromUnixMs,
  ntpMiddle32,
  parseRtcp,
  type ReportBlock,
  type RtcpError,
} from './rtcp.ts'

/** What the receive side knows about the peer's RTP stream (RFC 3550 appendix A.1, A.8). */
export interface ReceptionSource {
  ssrc: number | undefined
  expected: number
  received: number
  extendedHighestSeq: number
  /** Interarrival jitter in RTP timestamp units. */
  jitterTs: number
}

/** The peer's report about our stream. */
export interface RemoteReport {
  atMs: number
  /** 0..1 */
  fractionLost: number
  cumulativeLost: number
  jitterMs: number
  /** Round trip, when the peer echoed one of our SRs (LSR != 0). */
  rttMs?: number
  fromSsrc: number
}

/** Middle-32 NTP units (1/65536 s) per millisecond. */
const UNITS_PER_MS = 65536 / 1000

/** RFC 3550 section 6.3.1 minimum interval; with two members and audio bandwidth it always wins. */
const T_MIN_MS = 5000

/** Sends our SR/RR and reads the peer's, for one call. */
export class RtcpReporter {
  private readonly ssrc: number
  private readonly cname: string
  private readonly clockRate: number
  private readonly now: () => number

  private packetsSent = 0
  private octetsSent = 0
  private sentSinceReport = false
  private lastRtpTimestamp = 0
  private lastRtpAtMs = 0

  /** Counts at the previous report, for the fraction lost over the interval (A.3). */
  private prior: { ssrc: number; expected: number; received: number } | undefined
  /** The peer's last SR, echoed back as LSR/DLSR. */
  private peerSr: { ssrc: number; lsr: number; atMs: number } | undefined
  private lastRemote: RemoteReport | undefined
  private initial = true

  constructor(opts: { ssrc: number; cname: string; clockRate: number; now?: () => number }) {
    this.ssrc = opts.ssrc >>> 0
    this.cname = opts.cname
    this.clockRate = opts.clockRate
    this.now = opts.now ?? Date.now
  }

  get remote(): RemoteReport | undefined {
    return this.lastRemote
  }

  /** Call per RTP packet sent; `octets` is the payload size (the SR octet count excludes headers). */
  onRtpSent(octets: number, rtpTimestamp: number): void {
    this.packetsSent++
    this.octetsSent += octets
    this.sentSinceReport = true
    this.lastRtpTimestamp = rtpTimestamp
    this.lastRtpAtMs = this.now()
  }

  buildReport(source: ReceptionSource): Buffer {
    const now = this.now()
    const reports = source.ssrc === undefined ? [] : [this.reportBlock(source.ssrc, source, now)]
    let head: Buffer
    if (this.sentSinceReport) {
      const ntp = ntpFromUnixMs(now)
      // The SR's RTP timestamp names the same instant as its NTP timestamp (section 6.4.1),
      // so the last packet's timestamp is carried forward by the time since it was sent.
      const elapsedTs = Math.round(((now - this.lastRtpAtMs) * this.clockRate) / 1000)
      head = buildSenderReport({
        ssrc: this.ssrc,
        ntpSec: ntp.sec,
        ntpFrac: ntp.frac,
        rtpTimestamp: (this.lastRtpTimestamp + elapsedTs) >>> 0,
        packetCount: this.packetsSent,
        octetCount: this.octetsSent,
        reports,
      })
    } else {
      head = buildReceiverReport({ ssrc: this.ssrc, reports })
    }
    this.sentSinceReport = false
    return buildCompound([head, buildSdes(this.ssrc, this.cname)])
  }

  buildBye(): Buffer {
    // A BYE still goes in a compound led by an (empty) RR (section 6.1).
    return buildCompound([buildReceiverReport({ ssrc: this.ssrc }), buildSdes(this.ssrc, this.cname), buildBye([this.ssrc])])
  }

  onRtcp(buf: Buffer): RemoteReport | null | RtcpError {
    const packets = parseRtcp(buf)
    if (typeof packets === 'string') return packets
    const now = this.now()
    let found: RemoteReport | null = null
    for (const p of packets) {
      if (p.kind !== 'sr' && p.kind !== 'rr') continue
      if (p.kind === 'sr') this.peerSr = { ssrc: p.ssrc, lsr: ntpMiddle32(p.ntpSec, p.ntpFrac), atMs: now }
      const block = p.reports.find((r) => r.ssrc === this.ssrc)
      if (block) found = this.remoteReport(p.ssrc, block, now)
    }
    if (found) this.lastRemote = found
    return found
  }

  nextIntervalMs(): number {
    // The first report goes after half the minimum (section 6.3.1); then T_MIN randomised by
    // 0.5..1.5 and divided by e - 3/2 to offset the timer reconsideration bias (section 6.3.1).
    const td = this.initial ? T_MIN_MS / 2 : T_MIN_MS
    this.initial = false
    return (td * (0.5 + Math.random())) / (Math.E - 1.5)
  }

  private reportBlock(ssrc: number, s: ReceptionSource, now: number): ReportBlock {
    const prior = this.prior?.ssrc === ssrc ? this.prior : { expected: 0, received: 0 }
    const expectedInterval = s.expected - prior.expected
    const lostInterval = expectedInterval - (s.received - prior.received)
    this.prior = { ssrc, expected: s.expected, received: s.received }
    const sr = this.peerSr?.ssrc === ssrc ? this.peerSr : undefined
    return {
      ssrc,
      fractionLost: expectedInterval <= 0 || lostInterval <= 0 ? 0 : Math.floor((lostInterval * 256) / expectedInterval),
      cumulativeLost: s.expected - s.received,
      extendedHighestSeq: s.extendedHighestSeq,
      jitter: Math.floor(s.jitterTs),
      lsr: sr?.lsr ?? 0,
      dlsr: sr ? Math.floor((now - sr.atMs) * UNITS_PER_MS) : 0,
    }
  }

  private remoteReport(fromSsrc: number, b: ReportBlock, now: number): RemoteReport {
    const report: RemoteReport = {
      atMs: now,
      fractionLost: b.fractionLost / 256,
      cumulativeLost: b.cumulativeLost,
      jitterMs: (b.jitter * 1000) / this.clockRate,
      fromSsrc,
    }
    if (b.lsr !== 0) {
      const nowNtp = ntpFromUnixMs(now)
      // Modular arithmetic on the 16.16 seconds field (section 6.4.1); a "negative" result
      // means a bogus LSR/DLSR, so no RTT.
      const units = (ntpMiddle32(nowNtp.sec, nowNtp.frac) - b.lsr - b.dlsr) >>> 0
      if (units < 0x80000000) report.rttMs = units / UNITS_PER_MS
    }
    return report
  }
}
