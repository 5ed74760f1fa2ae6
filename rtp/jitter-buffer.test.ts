import t from 'tap'
import { JitterBuffer, type JitterBufferOptions, type PlayoutEvent } from './jitter-buffer.ts'

// Streams here are 8 kHz with 20 ms packets (160 timestamp units), so a packet's playout time
// is its anchor-relative media time plus the target delay (40 ms unless a test says otherwise):
// with the first packet arriving at 1000 ms, packet k (0-based) is due at 1040 + 20k.
// Each payload is one byte naming its packet, so the event lists show which packet played.

interface Pkt {
  seq: number
  ts: number
  at: number
  ssrc?: number
  marker?: boolean
  id?: number
}

function packet(p: Pkt) {
  return {
    sequenceNumber: p.seq,
    timestamp: p.ts,
    ssrc: p.ssrc ?? 1,
    marker: p.marker ?? false,
    payload: Uint8Array.of(p.id ?? p.seq & 0xff),
  }
}

function show(e: PlayoutEvent): string {
  if (e.kind === 'frame') return `frame #${e.payload[0]} ts=${e.timestamp} dur=${e.durationTs}${e.marker ? ' M' : ''}`
  return `lost ts=${e.timestamp} dur=${e.durationTs}${e.next ? ` next=#${e.next[0]}` : ''}`
}

/**
 * Replays arrivals against a 10 ms playout clock from `from` to `to`: at each tick, packets that
 * arrived by then are pushed (in arrival order) and then pull runs. Returns "tick: event" lines
 * and the push results.
 */
function simulate(jb: JitterBuffer, pkts: Pkt[], from: number, to: number) {
  const queue = [...pkts].sort((a, b) => a.at - b.at)
  const lines: string[] = []
  const results: string[] = []
  for (let now = from; now <= to; now += 10) {
    while (queue.length > 0 && queue[0].at <= now) {
      const p = queue.shift()!
      results.push(`${p.seq}:${jb.push(packet(p), p.at)}`)
    }
    for (const e of jb.pull(now)) lines.push(`${now}: ${show(e)}`)
  }
  return { lines, results }
}

/** n packets from seq0/ts0, 20 ms apart from arrival `at`. */
function stream(n: number, seq0: number, ts0: number, at = 1000): Pkt[] {
  const out: Pkt[] = []
  for (let k = 0; k < n; k++) out.push({ seq: (seq0 + k) & 0xffff, ts: (ts0 + 160 * k) >>> 0, at: at + 20 * k })
  return out
}

const opts: JitterBufferOptions = { clockRate: 8000 }

t.test('in-order stream plays each packet at anchor + media time + 40 ms', async (t) => {
  const jb = new JitterBuffer(opts)
  const { lines, results } = simulate(jb, stream(4, 1, 0), 1000, 1120)
  t.strictSame(lines, [
    '1040: frame #1 ts=0 dur=160',
    '1060: frame #2 ts=160 dur=160',
    '1080: frame #3 ts=320 dur=160',
    // Nothing after packet 4 has arrived, so its length is unknown.
    '1100: frame #4 ts=480 dur=undefined',
  ])
  t.strictSame(results, ['1:queued', '2:queued', '3:queued', '4:queued'])
  t.match(jb.stats, { received: 4, lost: 0, late: 0, expected: 4, extendedHighestSeq: 4, delayMs: 40 })
})

t.test('one pull returns everything due, in order', async (t) => {
  const jb = new JitterBuffer(opts)
  for (const p of stream(4, 1, 0)) jb.push(packet(p), p.at)
  t.strictSame(jb.pull(1039).map(show), [])
  t.strictSame(jb.pull(1080).map(show), ['frame #1 ts=0 dur=160', 'frame #2 ts=160 dur=160', 'frame #3 ts=320 dur=160'])
})

t.test('sequence 65535 -> 0 and timestamp 0xFFFFFF00 -> wrap', async (t) => {
  const jb = new JitterBuffer(opts)
  // ts: 0xFFFFFE60, 0xFFFFFF00, 0xFFFFFFA0, then 0x40 after the 2^32 wrap.
  const { lines } = simulate(jb, stream(4, 65534, 0xfffffe60), 1000, 1120)
  t.strictSame(lines, [
    '1040: frame #254 ts=4294966880 dur=160',
    '1060: frame #255 ts=4294967040 dur=160',
    '1080: frame #0 ts=4294967200 dur=160',
    '1100: frame #1 ts=64 dur=undefined',
  ])
  // RFC 3550 A.1: one sequence cycle counted above the 16-bit value.
  t.match(jb.stats, { expected: 4, extendedHighestSeq: 65536 + 1, lost: 0 })
})

t.test('reordering within the delay is repaired', async (t) => {
  const jb = new JitterBuffer(opts)
  const pkts = stream(4, 1, 0)
  pkts[1].at = 1045 // packet 2 (due 1060) arrives after packet 3 (1040)
  const { lines, results } = simulate(jb, pkts, 1000, 1120)
  t.strictSame(results, ['1:queued', '3:queued', '2:queued', '4:queued'])
  t.strictSame(lines, [
    '1040: frame #1 ts=0 dur=undefined', // packet 2 had not arrived when 1 played
    '1060: frame #2 ts=160 dur=160',
    '1080: frame #3 ts=320 dur=160',
    '1100: frame #4 ts=480 dur=undefined',
  ])
  t.match(jb.stats, { reordered: 1, lost: 0, late: 0 })
})

t.test('a missing packet becomes one lost event; next is set when the following packet is here', async (t) => {
  const jb = new JitterBuffer(opts)
  const pkts = stream(5, 1, 0).filter((p) => p.seq !== 3)
  const { lines } = simulate(jb, pkts, 1000, 1140)
  t.strictSame(lines, [
    '1040: frame #1 ts=0 dur=160',
    '1060: frame #2 ts=160 dur=undefined',
    '1080: lost ts=320 dur=160 next=#4',
    '1100: frame #4 ts=480 dur=160',
    '1120: frame #5 ts=640 dur=undefined',
  ])
  t.match(jb.stats, { received: 4, expected: 5, lost: 1 })
})

t.test('two missing packets: only the one right before a present packet carries next', async (t) => {
  const jb = new JitterBuffer(opts)
  const pkts = stream(5, 1, 0).filter((p) => p.seq !== 2 && p.seq !== 3)
  const { lines } = simulate(jb, pkts, 1000, 1140)
  t.strictSame(lines, [
    '1040: frame #1 ts=0 dur=undefined',
    '1060: lost ts=160 dur=160',
    '1080: lost ts=320 dur=160 next=#4',
    '1100: frame #4 ts=480 dur=160',
    '1120: frame #5 ts=640 dur=undefined',
  ])
  t.equal(jb.stats.lost, 2)
})

t.test('a gap is reported only once a later packet shows it', async (t) => {
  const jb = new JitterBuffer(opts)
  const [p1] = stream(1, 1, 0)
  jb.push(packet(p1), p1.at)
  t.strictSame(jb.pull(1100).map(show), ['frame #1 ts=0 dur=undefined'])
  // Packet 2 is long overdue, but silence (DTX) looks the same until something arrives.
  t.strictSame(jb.pull(1200).map(show), [])
  t.equal(jb.push(packet({ seq: 3, ts: 320, at: 1210 }), 1210), 'late') // due at 1080
  t.equal(jb.push(packet({ seq: 4, ts: 480, at: 1220 }), 1220), 'late')
})

t.test('duplicates are dropped and counted, also after playout', async (t) => {
  const jb = new JitterBuffer(opts)
  const pkts = stream(3, 1, 0)
  const { lines, results } = simulate(jb, [...pkts, { seq: 2, ts: 160, at: 1025, id: 99 }, { seq: 1, ts: 0, at: 1050, id: 98 }], 1000, 1100)
  t.strictSame(results, ['1:queued', '2:queued', '2:duplicate', '3:queued', '1:duplicate'])
  t.strictSame(lines, ['1040: frame #1 ts=0 dur=160', '1060: frame #2 ts=160 dur=160', '1080: frame #3 ts=320 dur=undefined'])
  // RFC 3550 A.3 counts duplicates as received.
  t.match(jb.stats, { duplicates: 2, received: 5, expected: 3 })
})

t.test('a packet arriving after its playout time is late and its slot is reported lost', async (t) => {
  const jb = new JitterBuffer(opts)
  const pkts = stream(4, 1, 0)
  pkts[2].at = 1085 // packet 3 is due at 1080
  const { lines, results } = simulate(jb, pkts, 1000, 1120)
  t.strictSame(results, ['1:queued', '2:queued', '4:queued', '3:late'])
  t.strictSame(lines, [
    '1040: frame #1 ts=0 dur=160',
    '1060: frame #2 ts=160 dur=undefined',
    '1080: lost ts=320 dur=160 next=#4',
    // The late arrival (45 ms over its media time) nudged the delay up by 20 ms/s * 25 ms.
    '1110: frame #4 ts=480 dur=undefined',
  ])
  t.match(jb.stats, { late: 1, lost: 1, delayMs: 40.5 })

  // Without a pull in between, lateness is judged from the playout time alone.
  const jb2 = new JitterBuffer(opts)
  jb2.push(packet({ seq: 1, ts: 0, at: 1000 }), 1000)
  t.equal(jb2.push(packet({ seq: 2, ts: 160, at: 1061 }), 1061), 'late') // due 1060
  t.equal(jb2.push(packet({ seq: 3, ts: 320, at: 1080 }), 1080), 'queued') // due 1080: just in time
})

t.test('SSRC change flushes and re-anchors', async (t) => {
  const jb = new JitterBuffer(opts)
  const pkts: Pkt[] = [...stream(3, 1, 0), { seq: 500, ts: 90000, at: 1050, ssrc: 2 }, { seq: 501, ts: 90160, at: 1070, ssrc: 2 }]
  const { lines, results } = simulate(jb, pkts, 1000, 1120)
  t.strictSame(results, ['1:queued', '2:queued', '3:queued', '500:reset', '501:queued'])
  t.strictSame(lines, [
    '1040: frame #1 ts=0 dur=160',
    // Packets 2 (due 1060) and 3 (1080) of the old source are flushed; no loss is reported.
    '1090: frame #244 ts=90000 dur=160',
    '1110: frame #245 ts=90160 dur=undefined',
  ])
  // Sequence accounting restarts for the new source (RFC 3550 A.1).
  t.match(jb.stats, { resets: 1, lost: 0, received: 2, expected: 2, extendedHighestSeq: 501 })
})

t.test('a timestamp jump of more than 3 s resets; sequence accounting continues', async (t) => {
  const jb = new JitterBuffer(opts)
  // 10 s ahead of the clock, sent 5 ms late so the tick at 1040 plays packet 1 first.
  const pkts: Pkt[] = [...stream(2, 1, 0), { seq: 3, ts: 320 + 8000 * 10, at: 1045 }, { seq: 4, ts: 480 + 8000 * 10, at: 1065 }]
  const { lines, results } = simulate(jb, pkts, 1000, 1120)
  t.strictSame(results, ['1:queued', '2:queued', '3:reset', '4:queued'])
  t.strictSame(lines, [
    '1040: frame #1 ts=0 dur=160',
    // Packet 2 (due 1060) is flushed by the reset, not reported lost; packet 3 anchors anew.
    '1090: frame #3 ts=80320 dur=160',
    '1110: frame #4 ts=80480 dur=undefined',
  ])
  t.match(jb.stats, { resets: 1, lost: 0, received: 4, expected: 4 })
})

t.test('a sequence jump of more than 1000 resets', async (t) => {
  const jb = new JitterBuffer(opts)
  const pkts: Pkt[] = [...stream(2, 1, 0), { seq: 2000, ts: 320, at: 1045 }]
  const { lines, results } = simulate(jb, pkts, 1000, 1100)
  t.strictSame(results, ['1:queued', '2:queued', '2000:reset'])
  t.strictSame(lines, ['1040: frame #1 ts=0 dur=160', '1090: frame #208 ts=320 dur=undefined'])
  t.match(jb.stats, { resets: 1, lost: 0, expected: 1, extendedHighestSeq: 2000 })
})

t.test('a packet the ring cannot hold beside the oldest waiting one resets', async (t) => {
  const jb = new JitterBuffer({ ...opts, maxPackets: 8 })
  t.equal(jb.push(packet({ seq: 1, ts: 0, at: 1000 }), 1000), 'queued')
  // Seq 9 is on time (due 1200) but needs seq 1's slot while seq 1 still waits.
  t.equal(jb.push(packet({ seq: 9, ts: 1280, at: 1160 }), 1160), 'reset')
  t.strictSame(jb.pull(1200).map(show), ['frame #9 ts=1280 dur=undefined'])
  t.match(jb.stats, { resets: 1, expected: 9 })
})

t.test('marker after silence re-anchors without reporting loss', async (t) => {
  const jb = new JitterBuffer(opts)
  // 1 s of silence suppression: the timestamp skips 8000 units, the sequence does not skip.
  const pkts: Pkt[] = [...stream(3, 1, 0), { seq: 4, ts: 480 + 8000, at: 2060, marker: true }, { seq: 5, ts: 640 + 8000, at: 2080 }]
  const { lines } = simulate(jb, pkts, 1000, 2120)
  t.strictSame(lines, [
    '1040: frame #1 ts=0 dur=160',
    '1060: frame #2 ts=160 dur=160',
    '1080: frame #3 ts=320 dur=undefined',
    // Constant transit, so the talkspurt start sets the delay to its minimum, 20 ms.
    '2080: frame #4 ts=8480 dur=160 M',
    '2100: frame #5 ts=8640 dur=undefined',
  ])
  t.match(jb.stats, { lost: 0, resets: 0, delayMs: 20 })
})

/** 20 ms packets whose extra network delay follows `extra(k)`. */
function jittery(n: number, extra: (k: number) => number): Pkt[] {
  return stream(n, 1, 0).map((p, k) => ({ ...p, at: p.at + extra(k) }))
}

t.test('the target delay grows under 30 ms jitter and stays within the maximum', async (t) => {
  // Extra delay cycles 0, 30, 60, 10, 50, 20, 40 ms: +-30 ms around 30 ms.
  const pattern = [0, 30, 60, 10, 50, 20, 40]
  const jb = new JitterBuffer(opts)
  simulate(
    jb,
    jittery(250, (k) => pattern[k % pattern.length]),
    1000,
    6200,
  )
  // Nearest-rank 95th percentile of the window is 60 ms above the fastest transit.
  t.equal(jb.stats.delayMs, 60)
  const late = jb.stats.late
  t.ok(late > 0 && late < 30, `late only while adapting (${late} of 250)`)

  const jb2 = new JitterBuffer({ ...opts, maxDelayMs: 120 })
  simulate(
    jb2,
    jittery(500, (k) => (k * 37) % 400),
    1000,
    12000,
  )
  t.equal(jb2.stats.delayMs, 120, 'clamped to the configured maximum')
})

t.test('the delay shrinks only at a talkspurt start with nothing buffered', async (t) => {
  const jb = new JitterBuffer({ ...opts, initialDelayMs: 100 })
  simulate(jb, stream(50, 1, 0), 1000, 2200)
  t.equal(jb.stats.delayMs, 100, 'no marker: the delay is kept')
  jb.push(packet({ seq: 51, ts: 160 * 50 + 8000, at: 3000, marker: true }), 3000)
  t.equal(jb.stats.delayMs, 20)
})

t.test('RFC 3550 A.8 interarrival jitter on a constructed arrival pattern', async (t) => {
  const jb = new JitterBuffer(opts)
  // Packets 20 ms (160 units) apart arrive at 0, 20, 50, 60 ms = 0, 160, 400, 480 units.
  // By hand, D = (Rj - Ri) - (Sj - Si) and J += (|D| - J) / 16:
  //   D1 = 160 - 160 = 0     J = 0
  //   D2 = 240 - 160 = 80    J = 80 / 16 = 5
  //   D3 = 80 - 160 = -80    J = 5 + (80 - 5) / 16 = 9.6875 units = 1.2109375 ms
  const at = [0, 20, 50, 60]
  at.forEach((ms, k) => jb.push(packet({ seq: 10 + k, ts: 1000 + 160 * k, at: ms }), ms))
  t.equal(jb.stats.jitterTs, 9.6875)
  t.equal(jb.stats.jitterMs, 1.2109375)
})
