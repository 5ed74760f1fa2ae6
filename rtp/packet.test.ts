import t from 'tap'
import { isRtcp, parseRtp, rtpCsrc, writeRtpHeader, type RtpPacket } from './packet.ts'
import { add16, add32 } from './seq.ts'

// Packets are assembled byte by byte from the RFC 3550 section 5.1 header layout (V=2, P, X,
// CC | M, PT | sequence | timestamp | SSRC | CSRC list), section 5.3.1 header extension
// (16-bit profile, 16-bit length in 32-bit words) and the padding rule (last octet counts the
// padding, itself included). Payload types from RFC 3551 (0 = PCMU); 0xBEDE is the RFC 8285
// one-byte extension profile.

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex')
}

function parsed(buf: Buffer): RtpPacket {
  const p = parseRtp(buf)
  if (typeof p === 'string') throw new Error(`unexpected parse error ${p}`)
  return p
}

t.test('plain PCMU packet', async (t) => {
  const payload = Buffer.alloc(160, 0xff)
  const buf = Buffer.concat([hex('80 00 1234 000000a0 deadbeef'), payload])
  const p = parsed(buf)
  t.match(p, {
    version: 2,
    padding: false,
    extension: false,
    marker: false,
    payloadType: 0,
    sequenceNumber: 0x1234,
    timestamp: 160,
    ssrc: 0xdeadbeef,
    csrcCount: 0,
    headerLength: 12,
    paddingLength: 0,
    extensionLength: 0,
  })
  t.equal(p.payload.length, 160)
  buf[12] = 0x7f
  t.equal(p.payload[0], 0x7f, 'payload is a view into the datagram, not a copy')
})

t.test('marker, dynamic payload type and maximum counters', async (t) => {
  const p = parsed(hex('80 e5 ffff ffffffff ffffffff 0a0a0320'))
  t.equal(p.marker, true)
  t.equal(p.payloadType, 101)
  t.equal(p.sequenceNumber, 65535)
  t.equal(p.timestamp, 0xffffffff, 'unsigned, not -1')
  t.equal(p.ssrc, 0xffffffff)
  t.same([...p.payload], [0x0a, 0x0a, 0x03, 0x20])
})

t.test('CSRC list', async (t) => {
  const buf = hex('82 08 0001 00000000 00000001 11111111 22222222 aabb')
  const p = parsed(buf)
  t.equal(p.csrcCount, 2)
  t.equal(p.payloadType, 8)
  t.equal(p.headerLength, 20)
  t.equal(rtpCsrc(buf, 0), 0x11111111)
  t.equal(rtpCsrc(buf, 1), 0x22222222)
  t.same([...p.payload], [0xaa, 0xbb])
})

t.test('header extension', async (t) => {
  const buf = hex('90 00 0002 00000140 00000001 bede 0001 10ff0000 c0c1')
  const p = parsed(buf)
  t.equal(p.extension, true)
  t.equal(p.extensionProfile, 0xbede)
  t.equal(p.extensionOffset, 16)
  t.equal(p.extensionLength, 4)
  t.same([...buf.subarray(p.extensionOffset, p.extensionOffset + p.extensionLength)], [0x10, 0xff, 0, 0])
  t.equal(p.headerLength, 20)
  t.same([...p.payload], [0xc0, 0xc1])
})

t.test('CSRC, extension and padding together', async (t) => {
  // CC=1, X=1, P=1, M=1 PT=0; 3 payload bytes then 3 padding bytes (count 3).
  const buf = hex('b1 80 0003 00000000 00000002 33333333 0001 0000 010203 000003')
  const p = parsed(buf)
  t.match(p, { padding: true, extension: true, marker: true, csrcCount: 1, extensionProfile: 1, extensionLength: 0 })
  t.equal(p.headerLength, 20)
  t.equal(p.paddingLength, 3)
  t.same([...p.payload], [1, 2, 3])
  // Padding may take the whole rest of the packet, leaving an empty payload.
  t.equal(parsed(hex('a0 00 0000 00000000 00000000 00000004')).payload.length, 0)
})

t.test('malformed packets are rejected with error codes', async (t) => {
  t.equal(parseRtp(Buffer.alloc(0)), 'too-short')
  t.equal(parseRtp(hex('80 00 0000 00000000 000000')), 'too-short', '11 bytes')
  t.equal(parseRtp(hex('40 00 0000 00000000 00000000')), 'bad-version', 'version 1')
  t.equal(parseRtp(hex('00 00 0000 00000000 00000000 00')), 'bad-version', 'version 0')
  t.equal(parseRtp(hex('8f 00 0000 00000000 00000000 11111111')), 'bad-csrc', 'CC=15, one CSRC present')
  t.equal(parseRtp(hex('90 00 0000 00000000 00000000 bede')), 'bad-extension', 'extension header cut short')
  t.equal(parseRtp(hex('90 00 0000 00000000 00000000 bede 0002 00000000')), 'bad-extension', 'claims 2 words, has 1')
  t.equal(parseRtp(hex('a0 00 0000 00000000 00000000 0102 00')), 'bad-padding', 'count 0')
  t.equal(parseRtp(hex('a0 00 0000 00000000 00000000 0102 04')), 'bad-padding', 'count beyond payload')
  t.equal(parseRtp(hex('b0 00 0000 00000000 00000000 bede 0000 05')), 'bad-padding', 'padding reaching into extension')
})

t.test('writeRtpHeader builds headers that parse back, wrap-around included', async (t) => {
  const out = Buffer.alloc(172)
  out.fill(0xaa, 12)
  const cases = [
    { marker: true, payloadType: 0, sequenceNumber: 0, timestamp: 0, ssrc: 0x12345678 },
    { marker: false, payloadType: 8, sequenceNumber: 65535, timestamp: 0xffffffff, ssrc: 0xffffffff },
    { marker: false, payloadType: 101, sequenceNumber: add16(65535, 1), timestamp: add32(0xffffffff, 1), ssrc: 1 },
    { marker: false, payloadType: 127, sequenceNumber: add16(65530, 10), timestamp: add32(0xffffff60, 320), ssrc: 0x80000000 },
  ]
  for (const h of cases) {
    t.equal(writeRtpHeader(out, h), 12)
    const p = parsed(out)
    t.match(p, { version: 2, padding: false, extension: false, csrcCount: 0, ...h })
    t.equal(p.payload.length, 160)
  }
  t.equal(cases[2].sequenceNumber, 0, '65535 + 1 wraps to 0')
  t.equal(cases[2].timestamp, 0, '0xFFFFFFFF + 1 wraps to 0')
  t.same([...out.subarray(0, 12)], [...hex('80 7f 0004 000000a0 80000000')], 'wire bytes of the last header')
  writeRtpHeader(out, { marker: false, payloadType: 0, sequenceNumber: 65536 + 7, timestamp: 2 ** 32 + 9, ssrc: 5 })
  t.match(parsed(out), { sequenceNumber: 7, timestamp: 9 }, 'counters taken modulo 2^16 / 2^32')
  t.throws(() => writeRtpHeader(out, { ...cases[0], payloadType: 128 }), RangeError)
  t.throws(() => writeRtpHeader(Buffer.alloc(11), cases[0]), RangeError)
})

t.test('isRtcp tells RTCP from RTP on a muxed port (RFC 5761 section 4)', async (t) => {
  t.equal(isRtcp(hex('80 c8 0006 deadbeef')), true, 'SR (PT 200)')
  t.equal(isRtcp(hex('81 c9 0007 deadbeef')), true, 'RR (PT 201)')
  t.equal(isRtcp(hex('81 cb 0001 deadbeef')), true, 'BYE (PT 203)')
  t.equal(isRtcp(hex('80 00 0001 000000a0 deadbeef')), false, 'PCMU')
  t.equal(isRtcp(hex('80 80 0001 000000a0 deadbeef')), false, 'PCMU with marker (128)')
  t.equal(isRtcp(hex('80 e5 0001 000000a0 deadbeef')), false, 'PT 101 with marker (229)')
  t.equal(isRtcp(hex('80 bf 0001 000000a0')), false, '191 is below the range')
  t.equal(isRtcp(hex('80 e0 0001 000000a0')), false, '224 is above the range')
  t.equal(isRtcp(hex('40 c8 0006 deadbeef')), false, 'not version 2')
  t.equal(isRtcp(hex('80 c8 00')), false, 'shorter than an RTCP header')
})
