import t from 'tap'
import { RtcpReporter, type ReceptionSource } from './rtcp-reporter.ts'
import { buildCompound, buildReceiverReport, buildSenderReport, ntpFromUnixMs, ntpMiddle32, parseRtcp, type RtcpPacket } from './rtcp.ts'

function parsed(buf: Buffer): RtcpPacket[] {
  const p = parseRtcp(buf)
  if (typeof p === 'string') throw new Error(`unexpected parse error ${p}`)
  return p
}

/** A clock the test moves by hand. */
function clock(startMs: number) {
  const c = { ms: startMs, now: () => c.ms }
  return c
}

const T0 = Date.UTC(2024, 2, 14, 9, 30, 0)
const noSource: ReceptionSource = { ssrc: undefined, expected: 0, received: 0, extendedHighestSeq: 0, jitterTs: 0 }

t.test('RR until RTP is sent, then SR, then RR again when idle; CNAME every time', async (t) => {
  const c = clock(T0)
  const r = new RtcpReporter({ ssrc: 0xaabbccdd, cname: 'agent@10.0.0.1', clockRate: 8000, now: c.now })

  const [rr, sdes] = parsed(r.buildReport(noSource))
  t.strictSame(rr, { kind: 'rr', type: 201, ssrc: 0xaabbccdd, reports: [] }, 'no block without a source SSRC')
  t.match(sdes, { kind: 'sdes', chunks: [{ ssrc: 0xaabbccdd, cname: 'agent@10.0.0.1' }] })

  for (let i = 0; i < 50; i++) r.onRtpSent(160, 1000 + i * 160)
  c.ms += 100 // 100 ms after the last packet: 800 timestamp units later at 8 kHz
  const [sr] = parsed(r.buildReport(noSource))
  const ntp = ntpFromUnixMs(c.ms)
  t.match(sr, {
    kind: 'sr',
    ssrc: 0xaabbccdd,
    ntpSec: ntp.sec,
    ntpFrac: ntp.frac,
    rtpTimestamp: 1000 + 49 * 160 + 800,
    packetCount: 50,
    octetCount: 8000,
  })

  t.match(parsed(r.buildReport(noSource))[0], { kind: 'rr' })
  r.onRtpSent(160, 9000)
  t.match(parsed(r.buildReport(noSource))[0], { kind: 'sr', packetCount: 51, octetCount: 8160 }, 'counts are cumulative')
})

t.test('fraction lost is computed over the interval since the previous report', async (t) => {
  const r = new RtcpReporter({ ssrc: 1, cname: 'a', clockRate: 8000, now: clock(T0).now })
  const reportOf = (expected: number, received: number, ssrc = 2) => {
    const p = parsed(r.buildReport({ ssrc, expected, received, extendedHighestSeq: 65536 + expected, jitterTs: 12.7 }))[0]
    return p.kind === 'rr' ? p.reports[0] : undefined
  }
  t.match(reportOf(100, 90), { ssrc: 2, fractionLost: 25, cumulativeLost: 10, extendedHighestSeq: 65636, jitter: 12 }, '10/100 -> 25/256')
  t.match(reportOf(200, 190), { fractionLost: 0, cumulativeLost: 10 }, 'no new loss')
  t.match(reportOf(300, 240), { fractionLost: 128, cumulativeLost: 60 }, '50 of 100 lost in the interval')
  t.match(reportOf(400, 350), { fractionLost: 0, cumulativeLost: 50 }, 'duplicates: more received than expected')
  t.match(reportOf(400, 350), { fractionLost: 0 }, 'nothing expected in the interval')
  t.match(reportOf(500, 510), { fractionLost: 0, cumulativeLost: -10 }, 'negative cumulative loss')
  t.match(reportOf(10, 5, 3), { ssrc: 3, fractionLost: 128 }, 'a new source SSRC starts from zero')
})

t.test('RTT between two reporters with independent clocks', async (t) => {
  // B's wall clock is 7.3 s ahead of A's; RTT must not depend on it.
  const ca = clock(T0)
  const cb = clock(T0 + 7300)
  const a = new RtcpReporter({ ssrc: 0xa, cname: 'a', clockRate: 8000, now: ca.now })
  const b = new RtcpReporter({ ssrc: 0xb, cname: 'b', clockRate: 8000, now: cb.now })
  const aSeenByB: ReceptionSource = { ssrc: 0xa, expected: 100, received: 99, extendedHighestSeq: 100, jitterTs: 80 }

  a.onRtpSent(160, 0)
  const srFromA = a.buildReport(noSource) // t = 0
  t.equal(b.onRtcp(srFromA), null, 'A reports nothing about B')

  cb.ms += 30 // B replies at t = 30 ms, having held the SR 30 ms
  const fromB = b.buildReport(aSeenByB)
  const block = (parsed(fromB)[0] as { reports: { dlsr: number }[] }).reports[0]
  t.equal(block.dlsr, Math.floor(30 * 65.536), 'DLSR = 30 ms in 1/65536 s')

  ca.ms += 80 // A receives it at t = 80 ms
  const report = a.onRtcp(fromB)
  if (report === null || typeof report === 'string') throw new Error(`no report: ${report}`)
  t.ok(Math.abs((report.rttMs ?? NaN) - 50) < 0.05, `RTT ${report.rttMs} ms`)
  t.match(report, { atMs: ca.ms, fractionLost: 2 / 256, cumulativeLost: 1, jitterMs: 10, fromSsrc: 0xb })
  t.equal(a.remote, report)
})

t.test('RTT from the RFC 3550 section 6.4.1 example', async (t) => {
  // A = 0xb710:8000 (46864.500 s), LSR = 0xb705:2000, DLSR = 0x0005:4000 -> RTT 6.125 s.
  const nowMs = (0xb44db710 - 2208988800) * 1000 + 500
  const r = new RtcpReporter({ ssrc: 0x1234, cname: 'a', clockRate: 8000, now: () => nowMs })
  const rr = buildReceiverReport({
    ssrc: 0x9999,
    reports: [{ ssrc: 0x1234, fractionLost: 64, cumulativeLost: 3, extendedHighestSeq: 1, jitter: 16, lsr: 0xb7052000, dlsr: 0x00054000 }],
  })
  t.match(r.onRtcp(rr), { rttMs: 6125, fractionLost: 0.25, jitterMs: 2, fromSsrc: 0x9999 })
})

t.test('reports without our SSRC, without LSR, or garbage', async (t) => {
  const r = new RtcpReporter({ ssrc: 1, cname: 'a', clockRate: 8000, now: () => T0 })
  const other = buildReceiverReport({
    ssrc: 9,
    reports: [{ ssrc: 2, fractionLost: 0, cumulativeLost: 0, extendedHighestSeq: 0, jitter: 0, lsr: 0, dlsr: 0 }],
  })
  t.equal(r.onRtcp(other), null)
  t.equal(r.remote, undefined)
  const noLsr = buildReceiverReport({
    ssrc: 9,
    reports: [{ ssrc: 1, fractionLost: 0, cumulativeLost: 0, extendedHighestSeq: 0, jitter: 0, lsr: 0, dlsr: 0 }],
  })
  const rep = r.onRtcp(noLsr)
  t.ok(rep !== null && typeof rep === 'object' && !('rttMs' in rep), 'no RTT before the peer echoes an SR')
  t.equal(r.onRtcp(Buffer.from([0x80])), 'too-short')
  t.equal(r.remote, rep, 'an error keeps the last report')
})

t.test('LSR echoes the peer SR only in the block about that peer', async (t) => {
  const c = clock(T0)
  const r = new RtcpReporter({ ssrc: 1, cname: 'a', clockRate: 8000, now: c.now })
  const peerNtp = ntpFromUnixMs(T0 - 5000)
  r.onRtcp(buildCompound([buildSenderReport({ ssrc: 2, ntpSec: peerNtp.sec, ntpFrac: peerNtp.frac, rtpTimestamp: 0, packetCount: 1, octetCount: 160 })]))
  c.ms += 1000
  const src = { expected: 1, received: 1, extendedHighestSeq: 1, jitterTs: 0 }
  t.match(parsed(r.buildReport({ ssrc: 2, ...src }))[0], { reports: [{ lsr: ntpMiddle32(peerNtp.sec, peerNtp.frac), dlsr: 65536 }] })
  t.match(parsed(r.buildReport({ ssrc: 3, ...src }))[0], { reports: [{ lsr: 0, dlsr: 0 }] }, 'another source has no SR')
})

t.test('BYE compound', async (t) => {
  const r = new RtcpReporter({ ssrc: 77, cname: 'agent', clockRate: 8000 })
  t.match(parsed(r.buildBye()), [
    { kind: 'rr', ssrc: 77 },
    { kind: 'sdes', chunks: [{ cname: 'agent' }] },
    { kind: 'bye', ssrcs: [77] },
  ])
})

t.test('report interval', async (t) => {
  const r = new RtcpReporter({ ssrc: 1, cname: 'a', clockRate: 8000 })
  const k = Math.E - 1.5
  const first = r.nextIntervalMs()
  t.ok(first >= (2500 * 0.5) / k && first <= (2500 * 1.5) / k, `first ${first} ms uses half the minimum`)
  let sum = 0
  const n = 2000
  for (let i = 0; i < n; i++) {
    const v = r.nextIntervalMs()
    if (v < (5000 * 0.5) / k || v > (5000 * 1.5) / k) t.fail(`interval ${v} out of range`)
    sum += v
  }
  t.ok(Math.abs(sum / n - 5000 / k) < 150, `mean ${sum / n} ms near 5 s / (e - 3/2)`)
})
