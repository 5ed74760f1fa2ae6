// Adaptive jitter buffer for one inbound RTP stream, played out by the caller's clock.
//
// Timing model: every packet's timestamp is mapped to local time through a reference transit
// (arrival time minus media time, in ms) and delayed by a target delay:
//
//   playoutMs(ts) = tsMs(ts) + refTransit + delayMs
//
// which is anchorMs + tsDiff(ts, anchorTs) * 1000 / clockRate + delayMs with the first packet
// as the anchor. The target delay is a high percentile of the transit seen over the last
// ~2 s, measured above the reference. It grows slowly while audio plays (a late packet costs
// more than a little extra latency) and is set outright, shrinking too, only where a talkspurt
// starts (marker bit) with nothing buffered, where moving the timeline cannot be heard.
//
// Packets live in a fixed ring indexed by extended sequence number; payload bytes are copied
// into per-slot buffers because the socket's buffer is reused after the receive callback.

import { seqDiff, tsDiff, add32 } from './seq.ts'

export interface JitterBufferOptions {
  clockRate: number
  /** Target delay until there is jitter to measure; default 40. */
  initialDelayMs?: number
  /** Default 20. */
  minDelayMs?: number
  /** Default 200. */
  maxDelayMs?: number
  /** Ring size: the most packets that can wait at once, gaps included; default 64. */
  maxPackets?: number
  /** Share of recent packets the target delay should get played in time; default 95. */
  jitterPercentile?: number
}

export interface FrameEvent {
  kind: 'frame'
  /** View into the buffer's own memory, valid until the next pull (or a push that resets). */
  payload: Uint8Array
  timestamp: number
  marker: boolean
  /** When the packet arrived (the push's arrivalMs): now minus this is its wait in the buffer. */
  arrivalMs: number
  /** Timestamp distance to the next packet when it is here and continues the talkspurt. */
  durationTs: number | undefined
}

export interface LostEvent {
  kind: 'lost'
  /** Timestamp the missing packet would have had (interpolated between its neighbours). */
  timestamp: number
  durationTs: number
  /** Payload of the packet right after this one when it is already here (Opus in-band FEC). */
  next?: Uint8Array
}

export type PlayoutEvent = FrameEvent | LostEvent

export interface JitterStats {
  /** Packets of the current source, late and duplicate ones included (RFC 3550 A.3). */
  received: number
  /** Lost events played out: packets that never came or came too late. */
  lost: number
  duplicates: number
  /** Packets that came after a higher sequence number and were still put in order. */
  reordered: number
  late: number
  resets: number
  /** RFC 3550 A.8 interarrival jitter. */
  jitterMs: number
  jitterTs: number
  /** Current target delay. */
  delayMs: number
  /** RFC 3550 A.3: extendedHighestSeq - base + 1 for the current source. */
  expected: number
  /** Highest sequence number with its 16-bit cycle count above it (RFC 3550 A.1). */
  extendedHighestSeq: number
}

export type PushResult = 'queued' | 'duplicate' | 'late' | 'reset'

export interface JitterPacket {
  sequenceNumber: number
  timestamp: number
  ssrc: number
  marker: boolean
  payload: Uint8Array
}

const EMPTY = 0
const PENDING = 1
const PLAYED = 2

interface Slot {
  state: number
  /** Extended sequence number of the packet held (meaningful unless EMPTY). */
  seq: number
  /** Timestamp relative to the stream base, unwrapped. */
  tsRel: number
  ts: number
  marker: boolean
  arrivalMs: number
  len: number
  buf: Uint8Array
  /** Cached view of buf[0, len): payload sizes rarely change, so it is rarely rebuilt. */
  view: Uint8Array
}

// A jump this large is a new stream in all but SSRC (sender restart, relay switch).
const MAX_SEQ_JUMP = 1000
const MAX_TRANSIT_JUMP_MS = 3000
const WINDOW_MS = 2000
// 2 s of 10 ms packets with room to spare; bounded so the sorted window stays cheap.
const WINDOW_CAPACITY = 256
// Mid-talkspurt growth rate: 20 ms per second of arrivals.
const GROW_MS_PER_MS = 0.02
const SLOT_BYTES = 512

export class JitterBuffer {
  readonly stats: JitterStats = {
    received: 0,
    lost: 0,
    duplicates: 0,
    reordered: 0,
    late: 0,
    resets: 0,
    jitterMs: 0,
    jitterTs: 0,
    delayMs: 0,
    expected: 0,
    extendedHighestSeq: 0,
  }

  private readonly clockRate: number
  private readonly minDelayMs: number
  private readonly maxDelayMs: number
  private readonly percentile: number
  private readonly slots: Slot[]
  private readonly events: PlayoutEvent[] = []
  private readonly framePool: FrameEvent[] = []
  private readonly lostPool: LostEvent[] = []

  private active = false
  private ssrc = 0
  private baseSeq = 0
  private highestSeq = 0
  private highestSeq16 = 0
  private highestTs = 0
  private highestTsRel = 0
  /** Raw timestamp that tsRel 0 stands for. */
  private baseTs = 0
  private refTransit = 0
  private nextPlay = 0
  private pending = 0
  private played = false
  private lastTsRel = 0
  private lastWasFrame = false
  private lastStep: number
  private prevArrivalMs = 0
  private prevTs = 0

  // Transit window: arrival order for expiry, plus the same values kept sorted for percentiles.
  private readonly winArrival = new Float64Array(WINDOW_CAPACITY)
  private readonly winTransit = new Float64Array(WINDOW_CAPACITY)
  private winHead = 0
  private winCount = 0
  private readonly sorted = new Float64Array(WINDOW_CAPACITY)

  constructor(opts: JitterBufferOptions) {
    if (!(opts.clockRate > 0)) throw new RangeError('clockRate must be positive')
    this.clockRate = opts.clockRate
    this.minDelayMs = opts.minDelayMs ?? 20
    this.maxDelayMs = opts.maxDelayMs ?? 200
    if (this.minDelayMs > this.maxDelayMs) throw new RangeError('minDelayMs exceeds maxDelayMs')
    this.percentile = opts.jitterPercentile ?? 95
    this.stats.delayMs = this.clamp(opts.initialDelayMs ?? 40)
    this.lastStep = Math.round(this.clockRate / 50) // 20 ms until a frame size is seen
    const n = opts.maxPackets ?? 64
    this.slots = []
    for (let i = 0; i < n; i++) {
      const buf = new Uint8Array(SLOT_BYTES)
      this.slots.push({ state: EMPTY, seq: 0, tsRel: 0, ts: 0, marker: false, arrivalMs: 0, len: 0, buf, view: buf.subarray(0, 0) })
    }
  }

  push(p: JitterPacket, arrivalMs: number): PushResult {
    if (!this.active || p.ssrc !== this.ssrc) {
      const wasActive = this.active
      this.newSource(p)
      this.restart(p, arrivalMs, this.highestSeq)
      return wasActive ? this.countReset() : 'queued'
    }
    const d = seqDiff(p.sequenceNumber, this.highestSeq16)
    const seq = this.highestSeq + d
    const tsRel = this.highestTsRel + tsDiff(p.timestamp, this.highestTs)
    const transit = arrivalMs - this.tsMs(tsRel)
    if (d > MAX_SEQ_JUMP || d < -MAX_SEQ_JUMP) {
      this.newSource(p)
      this.restart(p, arrivalMs, this.highestSeq)
      return this.countReset()
    }
    this.stats.received++
    if (Math.abs(transit - this.refTransit) > MAX_TRANSIT_JUMP_MS) {
      // Timestamps jumped relative to the clock: same packet numbering, new timeline.
      this.advanceHighest(p, seq, d, tsRel)
      this.restart(p, arrivalMs, seq)
      return this.countReset()
    }

    const slot = this.slots[seq % this.slots.length]
    if (slot.seq === seq && slot.state !== EMPTY) {
      this.stats.duplicates++
      return 'duplicate'
    }
    this.advanceHighest(p, seq, d, tsRel)
    this.updateJitter(p.timestamp, arrivalMs)
    this.addTransit(arrivalMs, transit)

    // Talkspurt start with nothing waiting: re-anchor on the fastest recent transit.
    const talkspurt = p.marker && this.pending === 0 && seq >= this.nextPlay
    if (talkspurt) {
      const minTransit = this.sorted[0]
      this.stats.delayMs = this.clamp(this.percentileTransit() - minTransit)
      this.refTransit = Math.max(minTransit, transit - this.stats.delayMs)
    }
    // Judged by the timeline in force at arrival; growth below is for the packets after it.
    const late = (seq < this.nextPlay && this.played) || this.playoutMs(tsRel) < arrivalMs
    if (!talkspurt) {
      const target = this.clamp(this.percentileTransit() - this.refTransit)
      const grow = Math.min(target - this.stats.delayMs, GROW_MS_PER_MS * (arrivalMs - this.prevArrivalMs))
      if (grow > 0) this.stats.delayMs += grow
    }
    this.prevArrivalMs = arrivalMs
    if (late) {
      this.stats.late++
      return 'late'
    }
    if (slot.state === PENDING) {
      // The ring cannot span this packet and the oldest waiting one: start over from here.
      this.restart(p, arrivalMs, seq)
      return this.countReset()
    }
    // Nothing played yet: an earlier packet overtaken by the first one still gets its turn.
    if (seq < this.nextPlay) this.nextPlay = seq
    if (d < 0) this.stats.reordered++
    this.store(slot, p, seq, tsRel, arrivalMs)
    return 'queued'
  }

  pull(nowMs: number): PlayoutEvent[] {
    const out = this.events
    out.length = 0
    let frames = 0
    let losses = 0
    let gapEnd = -1 // next packet present after the gap being walked
    while (this.pending > 0) {
      const seq = this.nextPlay
      const slot = this.slots[seq % this.slots.length]
      if (slot.state === PENDING && slot.seq === seq) {
        if (this.playoutMs(slot.tsRel) > nowMs) break
        const next = this.slots[(seq + 1) % this.slots.length]
        const continues = next.state === PENDING && next.seq === seq + 1 && !next.marker
        if (this.lastWasFrame && !slot.marker && slot.tsRel > this.lastTsRel) this.lastStep = slot.tsRel - this.lastTsRel
        const ev =
          this.framePool[frames] ??
          (this.framePool[frames] = { kind: 'frame', payload: slot.view, timestamp: 0, marker: false, arrivalMs: 0, durationTs: undefined })
        frames++
        ev.payload = this.payloadView(slot)
        ev.timestamp = slot.ts
        ev.marker = slot.marker
        ev.arrivalMs = slot.arrivalMs
        ev.durationTs = continues ? next.tsRel - slot.tsRel : undefined
        out.push(ev)
        slot.state = PLAYED
        this.pending--
        this.played = true
        this.lastTsRel = slot.tsRel
        this.lastWasFrame = true
      } else {
        if (gapEnd <= seq) gapEnd = this.nextPresent(seq + 1)
        const after = this.slots[gapEnd % this.slots.length]
        // Across a talkspurt start the timestamps include silence: assume the last frame size.
        const step = Math.round(after.marker ? this.lastStep : (after.tsRel - this.lastTsRel) / (gapEnd - seq + 1))
        const tsRel = this.lastTsRel + step
        if (this.playoutMs(tsRel) > nowMs) break
        const ev = this.lostPool[losses] ?? (this.lostPool[losses] = { kind: 'lost', timestamp: 0, durationTs: 0 })
        losses++
        ev.timestamp = add32(this.baseTs, tsRel)
        ev.durationTs = step
        ev.next = gapEnd === seq + 1 ? this.payloadView(after) : undefined
        out.push(ev)
        this.stats.lost++
        this.lastTsRel = tsRel
        this.lastWasFrame = false
      }
      this.nextPlay++
    }
    return out
  }

  private countReset(): 'reset' {
    this.stats.resets++
    return 'reset'
  }

  /** RFC 3550 A.1 init_seq: sequence accounting starts over with this packet. */
  private newSource(p: JitterPacket): void {
    this.active = true
    this.ssrc = p.ssrc
    this.baseSeq = p.sequenceNumber
    this.highestSeq = p.sequenceNumber
    this.highestSeq16 = p.sequenceNumber
    this.stats.received = 1
    this.stats.extendedHighestSeq = this.highestSeq
    this.stats.expected = 1
  }

  private advanceHighest(p: JitterPacket, seq: number, d: number, tsRel: number): void {
    if (d <= 0) return
    this.highestSeq = seq
    this.highestSeq16 = p.sequenceNumber
    this.highestTs = p.timestamp
    this.highestTsRel = tsRel
    this.stats.extendedHighestSeq = seq
    this.stats.expected = seq - this.baseSeq + 1
  }

  /** Flushes the buffer and anchors a new timeline on this packet; the target delay is kept. */
  private restart(p: JitterPacket, arrivalMs: number, seq: number): void {
    for (const s of this.slots) s.state = EMPTY
    this.pending = 0
    this.baseTs = p.timestamp
    this.highestTs = p.timestamp
    this.highestTsRel = 0
    this.refTransit = arrivalMs
    this.nextPlay = seq
    this.played = false
    this.lastTsRel = 0
    this.lastWasFrame = false
    this.winCount = 0
    this.addTransit(arrivalMs, arrivalMs)
    // The jitter estimate carries over (same network path); only its reference restarts.
    this.prevArrivalMs = arrivalMs
    this.prevTs = p.timestamp
    this.store(this.slots[seq % this.slots.length], p, seq, 0, arrivalMs)
  }

  private store(slot: Slot, p: JitterPacket, seq: number, tsRel: number, arrivalMs: number): void {
    const len = p.payload.length
    if (len > slot.buf.length) {
      // Rare (payloads above SLOT_BYTES); the slot keeps the larger buffer from then on.
      let size = slot.buf.length
      while (size < len) size *= 2
      slot.buf = new Uint8Array(size)
    }
    slot.buf.set(p.payload)
    slot.len = len
    slot.state = PENDING
    slot.seq = seq
    slot.tsRel = tsRel
    slot.ts = p.timestamp
    slot.marker = p.marker
    slot.arrivalMs = arrivalMs
    this.pending++
  }

  private payloadView(slot: Slot): Uint8Array {
    if (slot.view.length !== slot.len || slot.view.buffer !== slot.buf.buffer) slot.view = slot.buf.subarray(0, slot.len)
    return slot.view
  }

  private nextPresent(from: number): number {
    let s = from
    for (;;) {
      const slot = this.slots[s % this.slots.length]
      if (slot.state === PENDING && slot.seq === s) return s
      s++
    }
  }

  private tsMs(tsRel: number): number {
    return (tsRel * 1000) / this.clockRate
  }

  private playoutMs(tsRel: number): number {
    return this.tsMs(tsRel) + this.refTransit + this.stats.delayMs
  }

  private clamp(ms: number): number {
    return Math.min(this.maxDelayMs, Math.max(this.minDelayMs, ms))
  }

  /** RFC 3550 A.8: J += (|D| - J) / 16, D the change in transit between consecutive arrivals. */
  private updateJitter(ts: number, arrivalMs: number): void {
    const d = ((arrivalMs - this.prevArrivalMs) * this.clockRate) / 1000 - tsDiff(ts, this.prevTs)
    this.prevTs = ts
    this.stats.jitterTs += (Math.abs(d) - this.stats.jitterTs) / 16
    this.stats.jitterMs = (this.stats.jitterTs * 1000) / this.clockRate
  }

  private addTransit(arrivalMs: number, transit: number): void {
    while (this.winCount > 0) {
      const oldest = (this.winHead - this.winCount + WINDOW_CAPACITY) % WINDOW_CAPACITY
      if (this.winCount < WINDOW_CAPACITY && this.winArrival[oldest] >= arrivalMs - WINDOW_MS) break
      this.removeSorted(this.winTransit[oldest], this.winCount)
      this.winCount--
    }
    this.winArrival[this.winHead] = arrivalMs
    this.winTransit[this.winHead] = transit
    this.winHead = (this.winHead + 1) % WINDOW_CAPACITY
    const n = this.winCount
    const i = this.lowerBound(transit, n)
    this.sorted.copyWithin(i + 1, i, n)
    this.sorted[i] = transit
    this.winCount++
  }

  private removeSorted(v: number, n: number): void {
    const i = this.lowerBound(v, n)
    this.sorted.copyWithin(i, i + 1, n)
  }

  private lowerBound(v: number, n: number): number {
    let lo = 0
    let hi = n
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (this.sorted[mid] < v) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** Nearest-rank percentile of the transit window. */
  private percentileTransit(): number {
    const n = this.winCount
    const rank = Math.ceil((this.percentile / 100) * n)
    return this.sorted[Math.min(n - 1, Math.max(0, rank - 1))]
  }
}
