import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { parseRtcp, RTCP_BYE, RTCP_RR, RTCP_SDES, RTCP_SR, type RtcpPacket } from './rtcp.ts'

// RTCP from a real third-party RTP stack: GStreamer 1.22 rtpbin endpoints talking over loopback,
// captured with tcpdump (provenance and the exact pipelines: test/fixtures/rtcp/capture-gstreamer.sh
// and the header of gstreamer-rtpbin.hex). The expected values are not ours: they are tshark 4.0's
// dissection of the same datagrams (gstreamer-rtpbin.tshark.tsv), checked field by field for every
// datagram, and copied from `tshark -V` for the three spelled out below.

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../test/fixtures/rtcp')

interface Datagram {
  srcPort: number
  dstPort: number
  payload: Buffer
}

const datagrams: Datagram[] = readFileSync(path.join(FIXTURES, 'gstreamer-rtpbin.hex'), 'utf8')
  .split('\n')
  .filter((l) => l.trim() && !l.startsWith('#'))
  .map((l) => {
    const [src, dst, hex] = l.trim().split(' ')
    return { srcPort: Number(src), dstPort: Number(dst), payload: Buffer.from(hex, 'hex') }
  })

const [header, ...rows] = readFileSync(path.join(FIXTURES, 'gstreamer-rtpbin.tshark.tsv'), 'utf8').trimEnd().split('\n')
const columns = header.split('\t')
/** tshark's fields for one datagram; a field that occurs several times is a list (-E occurrence=a). */
const dissections: Record<string, number[] | string[]>[] = rows.map((row) => {
  const cells = row.split('\t')
  return Object.fromEntries(
    columns.map((name, i) => {
      const items = cells[i] ? cells[i].split(',') : []
      return [name, name === 'rtcp.sdes.text' ? items : items.map(Number)]
    }),
  )
})

function parsed(d: Datagram): RtcpPacket[] {
  const r = parseRtcp(d.payload)
  if (typeof r === 'string') throw new Error(`parseRtcp: ${r}`)
  return r
}

t.test('the fixture holds the exchange the capture script describes', async (t) => {
  t.equal(datagrams.length, 16)
  t.equal(dissections.length, datagrams.length, 'one tshark dissection per datagram')
  const kinds = new Set(
    datagrams.map((d) =>
      parsed(d)
        .map((p) => p.kind)
        .join('+'),
    ),
  )
  t.same([...kinds].sort(), ['rr+sdes', 'sr+sdes', 'sr+sdes+bye'])
})

t.test('every datagram parses to what tshark dissected', async (t) => {
  datagrams.forEach((d, i) => {
    const packets = parsed(d)
    const want = dissections[i]
    const at = `datagram ${i + 1} (${d.srcPort} -> ${d.dstPort})`
    t.same(
      packets.map((p) => p.type),
      want['rtcp.pt'],
      `${at}: packet types`,
    )
    const first = packets[0]
    t.equal(first.kind === 'sr' || first.kind === 'rr' ? first.ssrc : -1, want['rtcp.senderssrc'][0], `${at}: sender SSRC`)
    if (first.kind === 'sr') {
      t.same(
        [first.ntpSec, first.ntpFrac, first.rtpTimestamp, first.packetCount, first.octetCount],
        [
          want['rtcp.timestamp.ntp.msw'],
          want['rtcp.timestamp.ntp.lsw'],
          want['rtcp.timestamp.rtp'],
          want['rtcp.sender.packetcount'],
          want['rtcp.sender.octetcount'],
        ].flat(),
        `${at}: sender info`,
      )
    }
    // tshark's "Identifier" field is every SSRC in order: report blocks, SDES chunks, BYE.
    const identifiers: number[] = []
    const blocks = packets.flatMap((p) => (p.kind === 'sr' || p.kind === 'rr' ? p.reports : []))
    for (const p of packets) {
      if (p.kind === 'sr' || p.kind === 'rr') identifiers.push(...p.reports.map((r) => r.ssrc))
      if (p.kind === 'sdes') identifiers.push(...p.chunks.map((c) => c.ssrc))
      if (p.kind === 'bye') identifiers.push(...p.ssrcs)
    }
    t.same(identifiers, want['rtcp.ssrc.identifier'], `${at}: SSRC identifiers`)
    t.same(
      blocks.map((b) => b.fractionLost),
      want['rtcp.ssrc.fraction'],
      `${at}: fraction lost`,
    )
    t.same(
      blocks.map((b) => b.cumulativeLost),
      want['rtcp.ssrc.cum_nr'],
      `${at}: cumulative lost`,
    )
    t.same(
      blocks.map((b) => b.extendedHighestSeq),
      want['rtcp.ssrc.ext_high'],
      `${at}: extended highest seq`,
    )
    t.same(
      blocks.map((b) => b.jitter),
      want['rtcp.ssrc.jitter'],
      `${at}: jitter`,
    )
    t.same(
      blocks.map((b) => b.lsr),
      want['rtcp.ssrc.lsr'],
      `${at}: LSR`,
    )
    t.same(
      blocks.map((b) => b.dlsr),
      want['rtcp.ssrc.dlsr'],
      `${at}: DLSR`,
    )
    // tshark lists the END item (type 0) that closes each chunk; the parser consumes it.
    const chunks = packets.flatMap((p) => (p.kind === 'sdes' ? p.chunks : []))
    t.same(
      chunks.flatMap((c) => [...c.items.map((x) => x.type), 0]),
      want['rtcp.sdes.type'],
      `${at}: SDES item types`,
    )
    t.same(
      chunks.flatMap((c) => c.items.map((x) => x.text)),
      want['rtcp.sdes.text'],
      `${at}: SDES texts`,
    )
  })
})

const BOB = 0xce23951a
const ALICE = 0x9c4417cd
const CAROL = 0x46060964

t.test('SR + SDES from a peer that lost packets', async (t) => {
  t.same(parsed(datagrams[0]), [
    {
      kind: 'sr',
      type: RTCP_SR,
      ssrc: BOB,
      ntpSec: 4005208194,
      ntpFrac: 3316835738,
      rtpTimestamp: 4254747179,
      packetCount: 64,
      octetCount: 10240,
      reports: [{ ssrc: ALICE, fractionLost: 4, cumulativeLost: 1, extendedHighestSeq: 32816, jitter: 19, lsr: 0, dlsr: 0 }],
    },
    {
      kind: 'sdes',
      type: RTCP_SDES,
      chunks: [
        {
          ssrc: BOB,
          cname: 'bob@127.0.0.1',
          items: [
            { type: 1, text: 'bob@127.0.0.1' },
            { type: 6, text: 'GStreamer' },
          ],
        },
      ],
    },
  ])
  // Alice's reports about bob carry a cumulative loss of -1 (0xffffff): a signed 24-bit field.
  const alice = parsed(datagrams[2])[0]
  t.equal(alice.kind === 'sr' && alice.reports[0].cumulativeLost, -1)
  t.equal(alice.kind === 'sr' && alice.reports[0].lsr, 2692924850, 'LSR: the middle 32 bits of the NTP time of an SR of bob')
  t.equal(alice.kind === 'sr' && alice.reports[0].dlsr, 34549, 'DLSR in 1/65536 s (about 0.53 s)')
})

t.test('RR + SDES from a receive-only peer', async (t) => {
  t.same(parsed(datagrams[1]), [
    {
      kind: 'rr',
      type: RTCP_RR,
      ssrc: CAROL,
      reports: [{ ssrc: ALICE, fractionLost: 6, cumulativeLost: 2, extendedHighestSeq: 32829, jitter: 23, lsr: 0, dlsr: 0 }],
    },
    {
      kind: 'sdes',
      type: RTCP_SDES,
      chunks: [
        {
          ssrc: CAROL,
          cname: 'carol@127.0.0.1',
          items: [
            { type: 1, text: 'carol@127.0.0.1' },
            { type: 6, text: 'GStreamer' },
          ],
        },
      ],
    },
  ])
  const last = parsed(datagrams[15])
  t.equal(last[0].kind === 'rr' && last[0].reports.length, 0, 'an RR with no report block once the only sender said BYE')
})

t.test('SR + SDES + BYE when a sender stops', async (t) => {
  const packets = parsed(datagrams[12])
  t.same(packets[0], {
    kind: 'sr',
    type: RTCP_SR,
    ssrc: BOB,
    ntpSec: 4005208205,
    ntpFrac: 2228654234,
    rtpTimestamp: 4254833151,
    packetCount: 600,
    octetCount: 96000,
    reports: [],
  })
  t.equal(packets[0].kind === 'sr' && packets[0].octetCount, 600 * 160, '600 packets of 20 ms PCMU')
  t.same(packets[2], { kind: 'bye', type: RTCP_BYE, ssrcs: [BOB] }, 'BYE without a reason')
})
