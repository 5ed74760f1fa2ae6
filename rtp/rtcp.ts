// RTCP (RFC 3550 section 6): parse compound packets and build SR, RR, SDES and BYE.
//
// Every RTCP packet starts with the same 4-byte header:
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |V=2|P|  count  |      PT       |  length (32-bit words - 1)    |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// A report block (24 bytes, in SR and RR, section 6.4.1):
//  | SSRC of source | fraction lost (8) | cumulative lost (signed 24) |
//  | extended highest sequence number received | interarrival jitter |
//  | last SR (LSR) | delay since last SR (DLSR) |
//
// Datagrams come from the network, so parseRtcp never throws: it returns an error code.

export const RTCP_SR = 200
export const RTCP_RR = 201
export const RTCP_SDES = 202
export const RTCP_BYE = 203
export const RTCP_APP = 204

export const SDES_CNAME = 1

export type RtcpError =
  'too-short' | 'bad-version' | 'bad-first-packet' | 'bad-length' | 'bad-padding' | 'bad-report-count' | 'bad-sdes' | 'bad-bye' | 'bad-app'

export interface ReportBlock {
  ssrc: number
  /** Fraction of packets lost since the previous report, in 1/256 (0..255). */
  fractionLost: number
  /** Packets lost since the start; signed 24-bit, negative when duplicates outnumber losses. */
  cumulativeLost: number
  extendedHighestSeq: number
  /** Interarrival jitter in RTP timestamp units. */
  jitter: number
  /** Middle 32 bits of the NTP timestamp of the last SR from this source; 0 if none yet. */
  lsr: number
  /** Delay since that SR in 1/65536 s; 0 if none yet. */
  dlsr: number
}

export interface SenderInfo {
  ntpSec: number
  ntpFrac: number
  rtpTimestamp: number
  packetCount: number
  /** Payload octets sent (headers and padding excluded). */
  octetCount: number
}

export interface RtcpSenderReport extends SenderInfo {
  kind: 'sr'
  type: typeof RTCP_SR
  ssrc: number
  reports: ReportBlock[]
}

export interface RtcpReceiverReport {
  kind: 'rr'
  type: typeof RTCP_RR
  ssrc: number
  reports: ReportBlock[]
}

export interface SdesItem {
  /** 1 CNAME, 2 NAME, 3 EMAIL, 4 PHONE, 5 LOC, 6 TOOL, 7 NOTE, 8 PRIV. */
  type: number
  text: string
}

export interface SdesChunk {
  ssrc: number
  items: SdesItem[]
  /** The CNAME item's text, the one item every compound packet carries. */
  cname?: string
}

export interface RtcpSdes {
  kind: 'sdes'
  type: typeof RTCP_SDES
  chunks: SdesChunk[]
}

export interface RtcpBye {
  kind: 'bye'
  type: typeof RTCP_BYE
  ssrcs: number[]
  reason?: string
}

export interface RtcpApp {
  kind: 'app'
  type: typeof RTCP_APP
  subtype: number
  ssrc: number
  /** Four ASCII characters. */
  name: string
  data: Buffer
}

/** Any other packet type (RTPFB 205, PSFB 206, XR 207, ...), kept whole for whoever needs it. */
export interface RtcpUnknown {
  kind: 'unknown'
  type: number
  /** The count/format field of the header (FMT for feedback messages). */
  count: number
  /** The whole packet, header included, padding removed; a view into the datagram. */
  raw: Buffer
}

export type RtcpPacket = RtcpSenderReport | RtcpReceiverReport | RtcpSdes | RtcpBye | RtcpApp | RtcpUnknown

const HEADER = 4
const REPORT_BLOCK = 24
const SR_FIXED = 28 // header + SSRC + 20 bytes of sender info
const RR_FIXED = 8 // header + SSRC

/** Parse a compound RTCP datagram, validated as RFC 3550 appendix A.2 describes. */
export function parseRtcp(buf: Buffer): RtcpPacket[] | RtcpError {
  if (buf.length < HEADER) return 'too-short'
  const pt0 = buf[1]
  if (pt0 !== RTCP_SR && pt0 !== RTCP_RR) return 'bad-first-packet'

  const packets: RtcpPacket[] = []
  let off = 0
  while (off < buf.length) {
    if (buf.length - off < HEADER) return 'bad-length'
    const b0 = buf[off]
    if (b0 >> 6 !== 2) return 'bad-version'
    const size = (buf.readUInt16BE(off + 2) + 1) * 4
    const end = off + size
    if (end > buf.length) return 'bad-length'
    let contentEnd = end
    if (b0 & 0x20) {
      // Only the last packet of a compound may be padded (A.2).
      if (end !== buf.length) return 'bad-padding'
      const pad = buf[end - 1]
      if (pad === 0 || pad > size - HEADER) return 'bad-padding'
      contentEnd = end - pad
    }
    const p = parseOne(buf.subarray(off, contentEnd), b0 & 0x1f, buf[off + 1])
    if (typeof p === 'string') return p
    packets.push(p)
    off = end
  }
  return packets
}

function parseOne(pkt: Buffer, count: number, type: number): RtcpPacket | RtcpError {
  switch (type) {
    case RTCP_SR: {
      if (pkt.length < SR_FIXED + count * REPORT_BLOCK) return 'bad-report-count'
      return {
        kind: 'sr',
        type: RTCP_SR,
        ssrc: pkt.readUInt32BE(4),
        ntpSec: pkt.readUInt32BE(8),
        ntpFrac: pkt.readUInt32BE(12),
        rtpTimestamp: pkt.readUInt32BE(16),
        packetCount: pkt.readUInt32BE(20),
        octetCount: pkt.readUInt32BE(24),
        reports: readBlocks(pkt, SR_FIXED, count),
      }
    }
    case RTCP_RR: {
      if (pkt.length < RR_FIXED + count * REPORT_BLOCK) return 'bad-report-count'
      return { kind: 'rr', type: RTCP_RR, ssrc: pkt.readUInt32BE(4), reports: readBlocks(pkt, RR_FIXED, count) }
    }
    case RTCP_SDES:
      return parseSdes(pkt, count)
    case RTCP_BYE: {
      let off = HEADER + 4 * count
      if (off > pkt.length) return 'bad-bye'
      const ssrcs: number[] = []
      for (let i = HEADER; i < off; i += 4) ssrcs.push(pkt.readUInt32BE(i))
      if (off >= pkt.length) return { kind: 'bye', type: RTCP_BYE, ssrcs }
      const len = pkt[off++]
      if (off + len > pkt.length) return 'bad-bye'
      return { kind: 'bye', type: RTCP_BYE, ssrcs, reason: pkt.toString('utf8', off, off + len) }
    }
    case RTCP_APP: {
      if (pkt.length < 12) return 'bad-app'
      return {
        kind: 'app',
        type: RTCP_APP,
        subtype: count,
        ssrc: pkt.readUInt32BE(4),
        name: pkt.toString('latin1', 8, 12),
        data: pkt.subarray(12),
      }
    }
    default:
      return { kind: 'unknown', type, count, raw: pkt }
  }
}

function readBlocks(pkt: Buffer, off: number, count: number): ReportBlock[] {
  const blocks: ReportBlock[] = []
  for (let i = 0; i < count; i++, off += REPORT_BLOCK) {
    blocks.push({
      ssrc: pkt.readUInt32BE(off),
      fractionLost: pkt[off + 4],
      cumulativeLost: pkt.readIntBE(off + 5, 3),
      extendedHighestSeq: pkt.readUInt32BE(off + 8),
      jitter: pkt.readUInt32BE(off + 12),
      lsr: pkt.readUInt32BE(off + 16),
      dlsr: pkt.readUInt32BE(off + 20),
    })
  }
  return blocks
}

// Each chunk: SSRC, then items (type, length, text) ended by a zero type octet and padded with
// zeros to the next 32-bit boundary (section 6.5).
function parseSdes(pkt: Buffer, count: number): RtcpSdes | RtcpError {
  const chunks: SdesChunk[] = []
  let off = HEADER
  for (let c = 0; c < count; c++) {
    if (off + 4 > pkt.length) return 'bad-sdes'
    const chunk: SdesChunk = { ssrc: pkt.readUInt32BE(off), items: [] }
    off += 4
    for (;;) {
      if (off >= pkt.length) return 'bad-sdes'
      const itemType = pkt[off]
      if (itemType === 0) break
      if (off + 2 > pkt.length) return 'bad-sdes'
      const len = pkt[off + 1]
      if (off + 2 + len > pkt.length) return 'bad-sdes'
      const text = pkt.toString('utf8', off + 2, off + 2 + len)
      chunk.items.push({ type: itemType, text })
      if (itemType === SDES_CNAME) chunk.cname = text
      off += 2 + len
    }
    off = (off + 4) & ~3 // the terminating zero plus padding to the boundary
    if (off > pkt.length) return 'bad-sdes'
    chunks.push(chunk)
  }
  return { kind: 'sdes', type: RTCP_SDES, chunks }
}

// --- Builders -------------------------------------------------------------------------------

function writeHeader(buf: Buffer, count: number, type: number): void {
  buf[0] = 0x80 | count
  buf[1] = type
  buf.writeUInt16BE(buf.length / 4 - 1, 2)
}

function checkBlocks(reports: readonly ReportBlock[]): void {
  if (reports.length > 31) throw new RangeError('at most 31 report blocks fit one SR/RR')
}

function writeBlocks(buf: Buffer, off: number, reports: readonly ReportBlock[]): void {
  for (const r of reports) {
    buf.writeUInt32BE(r.ssrc >>> 0, off)
    buf[off + 4] = Math.min(255, Math.max(0, Math.floor(r.fractionLost)))
    // The field saturates rather than wraps (section 6.4.1).
    buf.writeIntBE(Math.min(0x7fffff, Math.max(-0x800000, Math.trunc(r.cumulativeLost))), off + 5, 3)
    buf.writeUInt32BE(r.extendedHighestSeq >>> 0, off + 8)
    buf.writeUInt32BE(r.jitter >>> 0, off + 12)
    buf.writeUInt32BE(r.lsr >>> 0, off + 16)
    buf.writeUInt32BE(r.dlsr >>> 0, off + 20)
    off += REPORT_BLOCK
  }
}

export function buildSenderReport(sr: SenderInfo & { ssrc: number; reports?: readonly ReportBlock[] }): Buffer {
  const reports = sr.reports ?? []
  checkBlocks(reports)
  const buf = Buffer.alloc(SR_FIXED + reports.length * REPORT_BLOCK)
  writeHeader(buf, reports.length, RTCP_SR)
  buf.writeUInt32BE(sr.ssrc >>> 0, 4)
  buf.writeUInt32BE(sr.ntpSec >>> 0, 8)
  buf.writeUInt32BE(sr.ntpFrac >>> 0, 12)
  buf.writeUInt32BE(sr.rtpTimestamp >>> 0, 16)
  buf.writeUInt32BE(sr.packetCount >>> 0, 20)
  buf.writeUInt32BE(sr.octetCount >>> 0, 24)
  writeBlocks(buf, SR_FIXED, reports)
  return buf
}

export function buildReceiverReport(rr: { ssrc: number; reports?: readonly ReportBlock[] }): Buffer {
  const reports = rr.reports ?? []
  checkBlocks(reports)
  const buf = Buffer.alloc(RR_FIXED + reports.length * REPORT_BLOCK)
  writeHeader(buf, reports.length, RTCP_RR)
  buf.writeUInt32BE(rr.ssrc >>> 0, 4)
  writeBlocks(buf, RR_FIXED, reports)
  return buf
}

/** One SDES chunk with a single CNAME item. */
export function buildSdes(ssrc: number, cname: string): Buffer {
  const text = Buffer.from(cname, 'utf8')
  if (text.length > 255) throw new RangeError('CNAME longer than 255 bytes')
  // header + SSRC + type + length + text + at least one zero octet, rounded up to 32 bits
  const buf = Buffer.alloc((HEADER + 4 + 2 + text.length + 1 + 3) & ~3)
  writeHeader(buf, 1, RTCP_SDES)
  buf.writeUInt32BE(ssrc >>> 0, 4)
  buf[8] = SDES_CNAME
  buf[9] = text.length
  text.copy(buf, 10)
  return buf
}

export function buildBye(ssrcs: readonly number[], reason?: string): Buffer {
  if (ssrcs.length > 31) throw new RangeError('at most 31 SSRCs fit one BYE')
  const text = reason === undefined ? undefined : Buffer.from(reason, 'utf8')
  if (text && text.length > 255) throw new RangeError('BYE reason longer than 255 bytes')
  const reasonBytes = text ? (1 + text.length + 3) & ~3 : 0
  const buf = Buffer.alloc(HEADER + 4 * ssrcs.length + reasonBytes)
  writeHeader(buf, ssrcs.length, RTCP_BYE)
  ssrcs.forEach((s, i) => buf.writeUInt32BE(s >>> 0, HEADER + 4 * i))
  if (text) {
    const off = HEADER + 4 * ssrcs.length
    buf[off] = text.length
    text.copy(buf, off + 1)
  }
  return buf
}

/** Concatenate packets into one datagram; the first must be an SR or RR (section 6.1). */
export function buildCompound(parts: readonly Buffer[]): Buffer {
  const first = parts[0]?.[1]
  if (first !== RTCP_SR && first !== RTCP_RR) throw new RangeError('a compound packet starts with an SR or RR')
  return Buffer.concat(parts)
}

// --- NTP time (section 4) -------------------------------------------------------------------

/** Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01). */
const NTP_UNIX_OFFSET = 2_208_988_800

/** 64-bit NTP timestamp of a Unix time in ms; seconds wrap modulo 2^32 (era 1 starts in 2036). */
export function ntpFromUnixMs(ms: number): { sec: number; frac: number } {
  const whole = Math.floor(ms / 1000)
  return {
    sec: (whole + NTP_UNIX_OFFSET) % 2 ** 32,
    frac: Math.floor(((ms - whole * 1000) / 1000) * 2 ** 32) >>> 0,
  }
}

/** The middle 32 bits of an NTP timestamp (16.16 fixed point seconds), as LSR carries it. */
export function ntpMiddle32(sec: number, frac: number): number {
  return (((sec & 0xffff) << 16) | (frac >>> 16)) >>> 0
}
