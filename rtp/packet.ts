// RTP fixed header (RFC 3550 section 5.1):
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |V=2|P|X|  CC   |M|     PT      |       sequence number         |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                           timestamp                           |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |           synchronization source (SSRC) identifier            |
//  +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//  |            contributing source (CSRC) identifiers             |
//  |                             ....                              |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// parseRtp runs for every received datagram: it reads fields in place and allocates only the
// result object and the payload view. CSRCs and the extension body stay in the buffer,
// located by offsets.

export interface RtpPacket {
  version: number
  padding: boolean
  extension: boolean
  marker: boolean
  payloadType: number
  sequenceNumber: number
  timestamp: number
  ssrc: number
  csrcCount: number
  /** Header extension profile identifier (RFC 3550 section 5.3.1); 0 without extension. */
  extensionProfile: number
  /** Offset of the extension body (after its 4-byte header) in the buffer; 0 without extension. */
  extensionOffset: number
  /** Length of the extension body in bytes; 0 without extension. */
  extensionLength: number
  /** Bytes before the payload: fixed header, CSRC list and extension. */
  headerLength: number
  /** Padding bytes removed from the end, including the count byte; 0 without padding. */
  paddingLength: number
  /** View into the datagram (shares its memory); valid while the datagram buffer is. */
  payload: Buffer
}

export type RtpParseError = 'too-short' | 'bad-version' | 'bad-padding' | 'bad-extension' | 'bad-csrc'

export const RTP_HEADER_BYTES = 12

export function parseRtp(buf: Buffer): RtpPacket | RtpParseError {
  const len = buf.length
  if (len < RTP_HEADER_BYTES) return 'too-short'
  const b0 = buf[0]
  const version = b0 >> 6
  if (version !== 2) return 'bad-version'
  const csrcCount = b0 & 0x0f
  let off = RTP_HEADER_BYTES + 4 * csrcCount
  if (off > len) return 'bad-csrc'

  const extension = (b0 & 0x10) !== 0
  let extensionProfile = 0
  let extensionOffset = 0
  let extensionLength = 0
  if (extension) {
    if (off + 4 > len) return 'bad-extension'
    extensionProfile = (buf[off] << 8) | buf[off + 1]
    extensionLength = 4 * ((buf[off + 2] << 8) | buf[off + 3]) // length field counts 32-bit words
    extensionOffset = off + 4
    off = extensionOffset + extensionLength
    if (off > len) return 'bad-extension'
  }

  const padding = (b0 & 0x20) !== 0
  let paddingLength = 0
  if (padding) {
    // The last octet counts the padding including itself (RFC 3550 section 5.1), so 0 is invalid.
    paddingLength = buf[len - 1]
    if (paddingLength === 0 || paddingLength > len - off) return 'bad-padding'
  }

  const b1 = buf[1]
  return {
    version,
    padding,
    extension,
    marker: (b1 & 0x80) !== 0,
    payloadType: b1 & 0x7f,
    sequenceNumber: (buf[2] << 8) | buf[3],
    timestamp: ((buf[4] << 24) | (buf[5] << 16) | (buf[6] << 8) | buf[7]) >>> 0,
    ssrc: ((buf[8] << 24) | (buf[9] << 16) | (buf[10] << 8) | buf[11]) >>> 0,
    csrcCount,
    extensionProfile,
    extensionOffset,
    extensionLength,
    headerLength: off,
    paddingLength,
    payload: buf.subarray(off, len - paddingLength),
  }
}

/** The i-th CSRC identifier of a packet that parseRtp accepted (0 <= i < csrcCount). */
export function rtpCsrc(buf: Buffer, i: number): number {
  return buf.readUInt32BE(RTP_HEADER_BYTES + 4 * i)
}

export interface RtpHeaderFields {
  marker: boolean
  payloadType: number
  sequenceNumber: number
  timestamp: number
  ssrc: number
}

/**
 * Writes a 12-byte header (version 2, no padding, extension or CSRCs) at the start of `out`,
 * typically a buffer reused for every packet of a stream. Returns 12. Sequence number and
 * timestamp are taken modulo 2^16 and 2^32.
 */
export function writeRtpHeader(out: Buffer, h: RtpHeaderFields): number {
  if (out.length < RTP_HEADER_BYTES) throw new RangeError('RTP header needs 12 bytes')
  if ((h.payloadType & ~0x7f) !== 0) throw new RangeError(`RTP payload type ${h.payloadType} out of range 0..127`)
  const seq = h.sequenceNumber & 0xffff
  const ts = h.timestamp >>> 0
  const ssrc = h.ssrc >>> 0
  out[0] = 0x80
  out[1] = (h.marker ? 0x80 : 0) | h.payloadType
  out[2] = seq >> 8
  out[3] = seq & 0xff
  out[4] = ts >>> 24
  out[5] = (ts >> 16) & 0xff
  out[6] = (ts >> 8) & 0xff
  out[7] = ts & 0xff
  out[8] = ssrc >>> 24
  out[9] = (ssrc >> 16) & 0xff
  out[10] = (ssrc >> 8) & 0xff
  out[11] = ssrc & 0xff
  return RTP_HEADER_BYTES
}

/**
 * True when a datagram on a multiplexed RTP/RTCP port is RTCP (RFC 5761 section 4): RTCP
 * packet types 192..223 occupy the second octet where RTP has marker + payload type, a range
 * RTP payload types must avoid when muxing.
 */
export function isRtcp(buf: Uint8Array): boolean {
  return buf.length >= 4 && buf[0] >> 6 === 2 && buf[1] >= 192 && buf[1] <= 223
}
