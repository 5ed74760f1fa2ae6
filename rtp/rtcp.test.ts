import t from 'tap'
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
  type RtcpPacket,
} from './rtcp.ts'

// Hex vectors below are assembled by hand from the RFC 3550 layouts: section 6.4.1 (SR),
// 6.4.2 (RR), 6.5 (SDES), 6.6 (BYE), 6.7 (APP), and RFC 4585 section 6.2.1 (generic NACK) for
// a packet type this parser does not decode. None is a network capture.

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex')
}

function parsed(buf: Buffer): RtcpPacket[] {
  const p = parseRtcp(buf)
  if (typeof p === 'string') throw new Error(`unexpected parse error ${p}`)
  return p
}

const block = (over: Partial<ReportBlock> = {}): ReportBlock => ({
  ssrc: 0x1a2b3c4d,
  fractionLost: 25,
  cumulativeLost: 10,
  extendedHighestSeq: 0x0001_2c40,
  jitter: 40,
  lsr: 0x4213_0000,
  dlsr: 0x0005_35c2,
  ...over,
})

t.test('SR round trip with report blocks', async (t) => {
  const sr = {
    ssrc: 0xdeadbeef,
    ntpSec: 0xe99d4218,
    ntpFrac: 0x40000000,
    rtpTimestamp: 0xfffffff0,
    packetCount: 1000,
    octetCount: 160000,
    reports: [block(), block({ ssrc: 7, fractionLost: 255, cumulativeLost: -3 })],
  }
  const buf = buildSenderReport(sr)
  t.equal(buf.length, 28 + 2 * 24)
  t.equal(buf.readUInt16BE(2), buf.length / 4 - 1, 'length field counts 32-bit words minus one')
  t.strictSame(parsed(buf), [{ kind: 'sr', type: 200, ...sr }])
})

t.test('RR round trip, empty and with one block', async (t) => {
  const empty = buildReceiverReport({ ssrc: 1 })
  t.equal(empty.toString('hex'), '80c90001' + '00000001')
  t.strictSame(parsed(empty), [{ kind: 'rr', type: 201, ssrc: 1, reports: [] }])
  const one = buildReceiverReport({ ssrc: 2, reports: [block()] })
  t.strictSame(parsed(one), [{ kind: 'rr', type: 201, ssrc: 2, reports: [block()] }])
})

t.test('SDES CNAME round trip for every padding remainder', async (t) => {
  for (let n = 1; n <= 9; n++) {
    const cname = 'x'.repeat(n)
    const sdes = buildSdes(0x11223344, cname)
    t.equal(sdes.length % 4, 0)
    t.equal(sdes[sdes.length - 1], 0, 'chunk ends with a zero octet')
    const pkts = parsed(buildCompound([buildReceiverReport({ ssrc: 0x11223344 }), sdes]))
    t.strictSame(pkts[1], {
      kind: 'sdes',
      type: 202,
      chunks: [{ ssrc: 0x11223344, items: [{ type: 1, text: cname }], cname }],
    })
  }
})

t.test('SDES with several chunks and items', async (t) => {
  const buf = hex(`
    80c90001 00000001
    82ca0006
    00000001 0103616263 06027879 000000
    00000002 010164 00`)
  const pkts = parsed(buf)
  t.strictSame(pkts[1], {
    kind: 'sdes',
    type: 202,
    chunks: [
      {
        ssrc: 1,
        items: [
          { type: 1, text: 'abc' },
          { type: 6, text: 'xy' },
        ],
        cname: 'abc',
      },
      { ssrc: 2, items: [{ type: 1, text: 'd' }], cname: 'd' },
    ],
  })
})

t.test('BYE round trip with and without reason', async (t) => {
  const rr = buildReceiverReport({ ssrc: 5 })
  t.strictSame(parsed(buildCompound([rr, buildBye([5])]))[1], { kind: 'bye', type: 203, ssrcs: [5] })
  const withReason = buildBye([5, 6], 'call ended')
  t.equal(withReason.length, 4 + 8 + 12, 'reason padded to a 32-bit boundary')
  t.strictSame(parsed(buildCompound([rr, withReason]))[1], {
    kind: 'bye',
    type: 203,
    ssrcs: [5, 6],
    reason: 'call ended',
  })
})

t.test('APP and unknown types are returned, not rejected', async (t) => {
  const buf = hex(`
    80c90001 00000009
    83cc0003 00000009 51534e54 01020304
    81cd0003 00000009 1a2b3c4d 00640003`)
  const [, app, nack] = parsed(buf)
  t.match(app, { kind: 'app', type: 204, subtype: 3, ssrc: 9, name: 'QSNT' })
  t.same(app.kind === 'app' && [...app.data], [1, 2, 3, 4])
  t.match(nack, { kind: 'unknown', type: 205, count: 1 })
  t.equal(nack.kind === 'unknown' && nack.raw.toString('hex'), '81cd0003000000091a2b3c4d00640003')
})

t.test('compound SR + SDES + BYE', async (t) => {
  const sr = { ssrc: 42, ntpSec: 1, ntpFrac: 2, rtpTimestamp: 3, packetCount: 4, octetCount: 5, reports: [block()] }
  const buf = buildCompound([buildSenderReport(sr), buildSdes(42, 'agent@10.0.0.1'), buildBye([42], 'bye')])
  t.strictSame(parsed(buf), [
    { kind: 'sr', type: 200, ...sr },
    { kind: 'sdes', type: 202, chunks: [{ ssrc: 42, items: [{ type: 1, text: 'agent@10.0.0.1' }], cname: 'agent@10.0.0.1' }] },
    { kind: 'bye', type: 203, ssrcs: [42], reason: 'bye' },
  ])
  t.throws(() => buildCompound([buildSdes(42, 'x')]), RangeError, 'a compound must start with SR or RR')
})

// A compound SR + SDES as a PBX (Asterisk, FreeSWITCH, a desk phone) sends it every ~5 s on a
// PCMU call. CONSTRUCTED byte by byte from the RFC 3550 section 6.4.1 and 6.5 layouts with
// realistic values, not captured from a device.
const pbxCompound = hex(
  [
    '81 c8 000c', // V=2 P=0 RC=1 | PT=200 SR | length 12 words -> 52 bytes (28 + one 24-byte block)
    '5e1d2a3b', // SSRC of the PBX's stream
    'e99d4218', // NTP seconds: 2024-03-14 09:30:00 UTC (seconds since 1900)
    '40000000', // NTP fraction: 0.25 s
    '1c2a5f40', // RTP timestamp of the same instant (random start, 8 kHz clock)
    '000003e8', // sender packet count: 1000 packets = 20 s of 20 ms frames
    '00027100', // sender octet count: 160000 = 1000 x 160-byte PCMU payloads
    '1a2b3c4d', // report block: SSRC of our stream
    '05', // fraction lost 5/256 (about 2%) since its previous report
    '00000c', // cumulative lost 12
    '00012c40', // extended highest seq: 1 wrap, seq 0x2c40
    '00000028', // jitter 40 timestamp units = 5 ms at 8 kHz
    '42130000', // LSR: middle 32 bits of our SR sent at 09:29:55.000 (NTP 0xe99d4213, frac 0)
    '000535c2', // DLSR: 341442 / 65536 s = 5.21 s held (got it 09:29:55.040, sent 09:30:00.250)
    '81 ca 0006', // V=2 P=0 SC=1 | PT=202 SDES | length 6 words -> 28 bytes
    '5e1d2a3b', // chunk SSRC
    '01 11', // CNAME item, 17 bytes
    '31303031403139322e3136382e312e3233', // "1001@192.168.1.23"
    '00', // end of items; already on a 32-bit boundary
  ].join(''),
)

t.test('PBX compound SR + SDES (constructed)', async (t) => {
  t.equal(pbxCompound.length, 80)
  const [sr, sdes] = parsed(pbxCompound)
  t.strictSame(sr, {
    kind: 'sr',
    type: 200,
    ssrc: 0x5e1d2a3b,
    ntpSec: 0xe99d4218,
    ntpFrac: 0x40000000,
    rtpTimestamp: 0x1c2a5f40,
    packetCount: 1000,
    octetCount: 160000,
    reports: [
      {
        ssrc: 0x1a2b3c4d,
        fractionLost: 5,
        cumulativeLost: 12,
        extendedHighestSeq: 0x12c40,
        jitter: 40,
        lsr: 0x42130000,
        dlsr: 0x535c2,
      },
    ],
  })
  t.match(sdes, { kind: 'sdes', chunks: [{ ssrc: 0x5e1d2a3b, cname: '1001@192.168.1.23' }] })
  t.strictSame(ntpFromUnixMs(Date.UTC(2024, 2, 14, 9, 30, 0, 250)), { sec: 0xe99d4218, frac: 0x40000000 })
  // Received 40 ms after it was sent: RTT = A - LSR - DLSR = 5.29 s - 5.21 s = 80 ms.
  const a = ntpFromUnixMs(Date.UTC(2024, 2, 14, 9, 30, 0, 290))
  const rtt = ((ntpMiddle32(a.sec, a.frac) - 0x42130000 - 0x535c2) >>> 0) / 65.536
  t.ok(Math.abs(rtt - 80) < 0.1, `rtt ${rtt} ms`)
})

t.test('cumulative lost is a signed 24-bit field', async (t) => {
  const rr = (lost: string) => hex(`81c90007 00000001 00000002 00${lost} 00000000 00000000 00000000 00000000`)
  const lostOf = (buf: Buffer) => {
    const p = parsed(buf)[0]
    return p.kind === 'rr' ? p.reports[0].cumulativeLost : NaN
  }
  t.equal(lostOf(rr('ffffff')), -1)
  t.equal(lostOf(rr('fffffb')), -5)
  t.equal(lostOf(rr('800000')), -0x800000)
  t.equal(lostOf(rr('7fffff')), 0x7fffff)
  const built = (cumulativeLost: number) => lostOf(buildReceiverReport({ ssrc: 1, reports: [block({ cumulativeLost })] }))
  t.equal(built(-5), -5)
  t.equal(built(-1e9), -0x800000, 'saturates, not wraps')
  t.equal(built(1e9), 0x7fffff)
})

t.test('malformed input gives error codes', async (t) => {
  const rr = '80c90001 00000001'
  const cases: [string, string][] = [
    ['', 'too-short'],
    ['80c900', 'too-short'],
    ['40c90001 00000001', 'bad-version'],
    [`${rr} 40ca0000`, 'bad-version'],
    ['80c90007 00000001', 'bad-length'],
    [`${rr} 80ca`, 'bad-length'],
    ['81ca0002 00000001 01000000', 'bad-first-packet'],
    ['80cb0001 00000001', 'bad-first-packet'],
    [`a0c90002 00000001 00000004 ${rr}`, 'bad-padding'],
    [`${rr} a0cb0001 00000000`, 'bad-padding'],
    [`${rr} a0cb0001 00000009`, 'bad-padding'],
    ['81c90001 00000001', 'bad-report-count'],
    ['81c80006 00000001 00000000 00000000 00000000 00000000 00000000', 'bad-report-count'],
    [`${rr} 81ca0001 00000001`, 'bad-sdes'],
    [`${rr} 81ca0002 00000001 01056162`, 'bad-sdes'],
    [`${rr} 82cb0001 00000001`, 'bad-bye'],
    [`${rr} 81cb0002 00000001 09616263`, 'bad-bye'],
    [`${rr} 80cc0001 00000001`, 'bad-app'],
  ]
  for (const [h, code] of cases) t.equal(parseRtcp(hex(h)), code, h || '(empty)')
})

t.test('padding on the last packet is removed', async (t) => {
  const buf = hex('80c90001 00000001 a1cb0002 00000007 00000004')
  t.strictSame(parsed(buf)[1], { kind: 'bye', type: 203, ssrcs: [7] })
})

t.test('never throws on garbage', async (t) => {
  let seed = 1
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff
  let errors = 0
  for (let i = 0; i < 5000; i++) {
    const buf = Buffer.from(pbxCompound)
    // Flip a few bytes and cut the tail: this keeps enough structure to reach deep branches.
    for (let k = 0; k < 3; k++) buf[rand() % buf.length] = rand()
    const r = parseRtcp(buf.subarray(0, rand() % (buf.length + 1)))
    if (typeof r === 'string') errors++
    else if (!Array.isArray(r)) t.fail('neither packets nor an error')
  }
  t.ok(errors > 0, `${errors} of 5000 mutated datagrams rejected`)
})

t.test('NTP helpers', async (t) => {
  t.strictSame(ntpFromUnixMs(0), { sec: 2208988800, frac: 0 })
  t.strictSame(ntpFromUnixMs(500), { sec: 2208988800, frac: 0x80000000 })
  // RFC 3550 section 6.4.1 example: 10 Nov 1995 11:33:25.125 UTC is ntp_sec 0xb44db705,
  // ntp_frac 0x20000000, and LSR (the middle 32 bits) 0xb7052000.
  const ntp = ntpFromUnixMs(Date.UTC(1995, 10, 10, 11, 33, 25, 125))
  t.strictSame(ntp, { sec: 0xb44db705, frac: 0x20000000 })
  t.equal(ntpMiddle32(ntp.sec, ntp.frac), 0xb7052000)
  t.equal(ntpMiddle32(0x12345678, 0x9abcdef0), 0x56789abc)
})
