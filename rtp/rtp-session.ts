import type { RemoteInfo } from 'node:dgram'
import type { Logger } from 'pino'
import type { AudioCodec } from '../codecs/codec.ts'
import { DtmfToneDetector } from '../codecs/dtmf-goertzel.ts'
import { eventToDigit, parseTelephoneEvent } from '../codecs/telephone-event.ts'
import type { ClockSubscriber } from './pacing-clock.ts'
import type { RtpMetrics } from './rtp-metrics.ts'
import { CodecPipeline, INTERNAL_RATE } from './codec-pipeline.ts'
import { JitterBuffer } from './jitter-buffer.ts'
import { isRtcp, parseRtp, writeRtpHeader } from './packet.ts'
import type { RtpPortPair } from './port-pool.ts'
import { RtcpReporter } from './rtcp-reporter.ts'
import { add16, add32 } from './seq.ts'
import { RtpStats } from './rtp-stats.ts'
import type { SrtpKeying } from './srtp/crypto-suite.ts'
import { relayContext, srtpContext, type SrtpContext } from './srtp/srtp-context.ts'
import type { SrtpDropReason } from './srtp/srtp-transform.ts'

export type MediaDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive'
export type DtmfSource = 'rfc4733' | 'inband'

export interface JitterConfig {
  initialDelayMs: number
  maxDelayMs: number
}

export interface RtpSessionOptions {
  ports: RtpPortPair
  codec: AudioCodec
  payloadType: number
  telephoneEventPt?: number
  /** Where the SDP says to send; replaced by the real source once packets arrive. */
  remote: { address: string; port: number; rtcpPort: number }
  rtcpMux: boolean
  /** The SIP peer's address: packets from it are trusted before latching, like the SDP address. */
  signallingAddress: string
  ptimeMs: number
  clockPeriodMs: number
  jitter: JitterConfig
  cname: string
  /** SRTP and SRTCP with these keys (SDES); absent: plain RTP */
  srtp?: SrtpKeying
  metrics: RtpMetrics
  logger: Logger
  now?: () => number
  /**
   * Send nothing (RTP or RTCP) until confirm() (the ACK) or the caller's own first packet: an
   * INVITE that is never ACKed must not make us stream to whatever address its SDP names.
   */
  awaitPeer?: boolean
  /** A fault inside this session's own handlers: the session has stopped itself; end the call. */
  onFault?: (err: unknown, where: MediaFaultPlace) => void
  /** Called where a fault is caught, before the handler runs: a test's failpoints throw from it. */
  injectFault?: (where: MediaFaultPlace) => void
}

/** Where a session's fault happened, for the call record and the metric. */
export type MediaFaultPlace = 'rtp.packet' | 'rtcp.packet' | 'rtcp.timer' | 'clock.tick' | 'clock.after'

/** Packets in sequence a new SSRC must send, with none of the current one between, to take over
 *  the stream; until then they are strays (garbage from the caller's address) and dropped. */
const SSRC_TAKEOVER_PACKETS = 3

/** The most an SRTP packet's tag adds to the RTP packet (80 bits). */
const SRTP_TRAILER_BYTES = 10
/** The largest payload an encoder may write. */
const MAX_PAYLOAD_BYTES = 1500

/** A prompt at both rates: the line's for the encoder, 16 kHz for the recording. */
interface QueuedPrompt {
  internal: Int16Array
  line: Int16Array
  /** Position in `line`; the 16 kHz position is derived from it. */
  offset: number
  done: (completed: boolean) => void
}

/** A packet buffer with its send callback, made once, so a send allocates nothing. */
interface PacketSlot {
  buf: Buffer
  /** the payload's part of buf, made once: a view per encode was garbage on every tick */
  payload: Buffer
  done: () => void
}

/** The next outgoing packet, read from the queue and encoded ahead of its send; two of these
 *  take turns (one prepared, one spare), so preparing allocates nothing. */
interface PreparedPacket {
  slot: PacketSlot
  /** Payload bytes after the 12-byte header; -1 when not encoded (prepared while not sending). */
  bytes: number
  /** The packet's audio at 16 kHz, for onFrame once it is sent. */
  frame: Int16Array
  /** Line-rate samples taken from prompts; the rest of the packet is silence. */
  filled: number
  marker: boolean
  promptStart: boolean
  /** Whether a prompt is still playing once this packet is sent. */
  talking: boolean
  /** Queue entries the packet read from (the first from `firstOffset`) and how many it finishes. */
  touched: number
  firstOffset: number
  finished: number
}

/**
 * One call's RTP and RTCP. In: validate, latch (symmetric RTP), jitter buffer, decode or
 * conceal, 16 kHz PCM out to the call. Out: 16 kHz prompts encoded for the line, paced by
 * the shared clock, silence between prompts. Both directions run on the clock's ticks.
 *
 * A packet is encoded in the afterTick before its send, so that the send phase, where N calls'
 * packets go out one after the other, only writes headers and sends (an Opus encode takes a
 * few hundred microseconds: in the send phase it delayed every later call's packet by that).
 * Everything that changes what the next packet would carry (play, hold, resume, flush) prepares
 * it again at once, so it still takes effect from the next packet; a packet prepared and then
 * dropped is taken back from the encoder too (AudioCodec.restoreEncoder), so the far end
 * decodes exactly the packets it gets.
 */
export class RtpSession implements ClockSubscriber {
  readonly stats = new RtpStats()
  readonly jitterBuffer: JitterBuffer
  direction: MediaDirection = 'sendrecv'
  /** Caller audio at 16 kHz, a view reused after the call returns, with how long it waited in
   *  the jitter buffer (for a concealed gap: the wait of the last packet played), and the same
   *  audio at the line's rate (`line`, also a reused view: for an 8 kHz VAD). */
  onAudio: (pcm: Int16Array, bufferedMs: number, line: Int16Array) => void = () => {}
  onDtmf: (digit: string, source: DtmfSource) => void = () => {}
  /** Every packet's outgoing audio at 16 kHz (prompt or silence), for the recording. */
  onFrame: (pcm: Int16Array) => void = () => {}
  /** The first packet of a prompt left the socket. */
  onPromptStart: () => void = () => {}

  private remote: { address: string; port: number }
  private bufferedMs = 0
  private rtcpRemote: { address: string; port: number }
  private latched = false
  /** The RTP socket is connect()ed to the latched peer: Node then sends synchronously
   *  (an unconnected send waits for process.nextTick), so every packet leaves inside its
   *  tick, and the kernel itself drops packets from anyone else. */
  private connected = false
  private readonly queue: QueuedPrompt[] = []
  private talking = false
  private held = false
  private seq = Math.floor(Math.random() * 0x10000)
  private timestamp = Math.floor(Math.random() * 0x100000000) >>> 0
  private readonly ssrc = Math.floor(Math.random() * 0x100000000) >>> 0
  private readonly tsPerPacket: number
  /** one packet every this many clock ticks (ptime / the clock's period): the clock calls us then only */
  readonly everyTicks: number
  /** The prepared packet's audio at the line rate, the encoder's input. */
  private readonly lineFrame: Int16Array
  private prepared: PreparedPacket | undefined
  private spare: PreparedPacket | undefined
  /** The last sent packet's 16 kHz audio, handed to onFrame in the afterTick that follows. */
  private sentFrame: Int16Array
  private framePending = false
  private readonly pipeline: CodecPipeline
  private readonly rtcp: RtcpReporter
  private readonly toneDetector: DtmfToneDetector | undefined
  private readonly freeSlots: PacketSlot[] = []
  private readonly packetBytes: number
  private readonly now: () => number
  private lastDtmfTs: number | undefined
  private rtcpTimer: NodeJS.Timeout | undefined
  private closed = false
  /** The peer is real: the ACK came, or its own RTP did (see RtpSessionOptions.awaitPeer). */
  private confirmed: boolean
  /** The SSRC of the caller's audio, and a different one that may be taking over. */
  private streamSsrc: number | undefined
  private ssrcCandidate: { ssrc: number; seq: number; count: number } | undefined
  /** both directions' SRTP and SRTCP transforms when the call is RTP/SAVP */
  private readonly srtp: SrtpContext | undefined
  private srtpFailureLogged = false

  constructor(private readonly opts: RtpSessionOptions) {
    this.remote = { address: opts.remote.address, port: opts.remote.port }
    this.rtcpRemote = { address: opts.remote.address, port: opts.rtcpMux ? opts.remote.port : opts.remote.rtcpPort }
    this.now = opts.now ?? (() => performance.now())
    this.confirmed = !opts.awaitPeer
    this.tsPerPacket = (opts.codec.clockRate * opts.ptimeMs) / 1000
    this.everyTicks = Math.max(1, Math.round(opts.ptimeMs / opts.clockPeriodMs))
    this.sentFrame = new Int16Array((INTERNAL_RATE * opts.ptimeMs) / 1000)
    this.packetBytes = 12 + MAX_PAYLOAD_BYTES + SRTP_TRAILER_BYTES
    this.srtp = opts.srtp && srtpContext(opts.srtp)
    this.pipeline = new CodecPipeline(opts.codec)
    this.lineFrame = new Int16Array((opts.codec.sampleRate * opts.ptimeMs) / 1000)
    this.jitterBuffer = new JitterBuffer({ clockRate: opts.codec.clockRate, initialDelayMs: opts.jitter.initialDelayMs, maxDelayMs: opts.jitter.maxDelayMs })
    this.rtcp = new RtcpReporter({ ssrc: this.ssrc, cname: opts.cname, clockRate: opts.codec.clockRate })
    // Tones inside the audio are the fallback for trunks that do not send RFC 4733 events.
    this.toneDetector = opts.telephoneEventPt === undefined ? new DtmfToneDetector(INTERNAL_RATE) : undefined
    opts.ports.rtp.on('message', (buf, rinfo) => this.contained('rtp.packet', () => this.onPacket(buf, rinfo)))
    opts.ports.rtcp.on('message', (buf, rinfo) => this.contained('rtcp.packet', () => this.onRtcp(buf, rinfo)))
    this.scheduleRtcp()
    this.prepare() // so that even the first tick's send phase encodes nothing
  }

  /** The codec's audio rate on the line (8 kHz for G.711, 16 kHz for G.722 and Opus here). */
  get lineRate(): number {
    return this.pipeline.sampleRate
  }

  get remoteAddress(): { address: string; port: number; latched: boolean } {
    return { ...this.remote, latched: this.latched }
  }

  /** The ACK came: from now on we send, even before the caller's first packet. */
  confirm(): void {
    this.confirmed = true
  }

  /** The clock caught a throw from this session's onTick/afterTick and dropped it. */
  onFault(err: unknown, phase: 'tick' | 'after'): void {
    this.fault(err, phase === 'tick' ? 'clock.tick' : 'clock.after')
  }

  /** A handler of ours that throws stops this session alone; the call is told and ends. */
  private contained(where: MediaFaultPlace, fn: () => void): void {
    try {
      this.opts.injectFault?.(where)
      fn()
    } catch (err) {
      this.fault(err, where)
    }
  }

  private fault(err: unknown, where: MediaFaultPlace): void {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.rtcpTimer)
    this.flush()
    this.opts.logger.error({ err, where }, 'media fault: the call ends')
    this.opts.onFault?.(err, where)
  }

  /** A re-INVITE moved the peer or changed direction. */
  update(remote: { address: string; port: number; rtcpPort: number }, direction: MediaDirection): void {
    if (remote.address !== this.remote.address || remote.port !== this.remote.port) {
      this.remote = { address: remote.address, port: remote.port }
      this.latched = false
      this.disconnect()
    }
    this.rtcpRemote = { address: remote.address, port: this.opts.rtcpMux ? remote.port : remote.rtcpPort }
    this.direction = direction
  }

  statsJSON(): object {
    return this.stats.toJSON(this.jitterBuffer.stats, this.rtcp.remote)
  }

  private drop(reason: string): void {
    this.stats.countDrop(reason)
    this.opts.metrics.rtpDropped.labels(reason).inc()
  }

  /** A packet SRTP refused: counted as any garbage; the first one logged, as a key mismatch
   *  (or an attack) shows itself there. */
  private dropSrtp(reason: SrtpDropReason, rinfo: RemoteInfo, rtcp: boolean): void {
    const counted = `${rtcp ? 'srtcp' : 'srtp'}-${reason}`
    this.drop(counted)
    if (this.srtpFailureLogged) return
    this.srtpFailureLogged = true
    this.opts.logger.warn({ reason: counted, from: `${rinfo.address}:${rinfo.port}` }, 'SRTP packet refused (later ones are only counted)')
  }

  private trusted(rinfo: RemoteInfo): boolean {
    return rinfo.address === this.remote.address || rinfo.address === this.opts.signallingAddress
  }

  private onPacket(buf: Buffer, rinfo: RemoteInfo): void {
    if (this.closed) return
    if (isRtcp(buf)) return this.opts.rtcpMux ? this.onRtcp(buf, rinfo) : this.drop('rtcp-on-rtp-port')
    // Authenticated before anything else: a forged packet must not latch the stream either.
    if (this.srtp) {
      const plain = this.srtp.rtpIn.unprotect(buf)
      if (typeof plain === 'string') return this.dropSrtp(plain, rinfo, false)
      buf = plain
    }
    const p = parseRtp(buf)
    if (typeof p === 'string') return this.drop(p)
    if (!this.latched) {
      if (!this.trusted(rinfo)) return this.drop('foreign-source')
      // Symmetric RTP: answer to where the caller's packets really come from (NAT).
      this.remote = { address: rinfo.address, port: rinfo.port }
      if (this.opts.rtcpMux) this.rtcpRemote = { ...this.remote }
      this.latched = true
      this.confirmed = true
      this.opts.ports.rtp.connect(rinfo.port, rinfo.address)
      this.connected = true
    } else if (rinfo.address !== this.remote.address || rinfo.port !== this.remote.port) {
      return this.drop('foreign-source')
    }
    if (p.payloadType === this.opts.payloadType) {
      if (!this.ssrcOk(p.ssrc, p.sequenceNumber)) return this.drop('stray-ssrc')
      this.countIn(p.ssrc, buf.length)
      if (this.direction === 'sendonly' || this.direction === 'inactive') return
      this.jitterBuffer.push(p, this.now())
    } else if (p.payloadType === this.opts.telephoneEventPt) {
      this.countIn(p.ssrc, buf.length)
      this.onTelephoneEvent(p.payload, p.timestamp)
    } else {
      this.drop('unknown-payload-type')
    }
  }

  /**
   * Whether an audio packet belongs to the stream. A stray SSRC would reset the jitter buffer
   * (and its loss statistics) on every packet; a real change of source (a PBX re-anchoring the
   * media) sends in sequence and takes over after SSRC_TAKEOVER_PACKETS packets.
   * Telephone-events are not checked: some gateways send them under an SSRC of their own.
   */
  private ssrcOk(ssrc: number, seq: number): boolean {
    if (this.streamSsrc === undefined || ssrc === this.streamSsrc) {
      this.streamSsrc = ssrc
      this.ssrcCandidate = undefined
      return true
    }
    const c = this.ssrcCandidate
    if (c && c.ssrc === ssrc && seq === add16(c.seq, 1)) {
      c.seq = seq
      if (++c.count < SSRC_TAKEOVER_PACKETS) return false
      this.streamSsrc = ssrc
      this.ssrcCandidate = undefined
      return true
    }
    this.ssrcCandidate = { ssrc, seq, count: 1 }
    return false
  }

  private countIn(ssrc: number, octets: number): void {
    this.stats.packetsIn++
    this.stats.octetsIn += octets
    this.stats.ssrc = ssrc
    this.opts.metrics.rtpIn.inc()
  }

  /** RFC 4733 §2.5.1: one event per timestamp; the repeated end packets share it. */
  private onTelephoneEvent(payload: Uint8Array, timestamp: number): void {
    const ev = parseTelephoneEvent(payload)
    if (!ev) return this.drop('bad-telephone-event')
    if (timestamp === this.lastDtmfTs) return
    this.lastDtmfTs = timestamp
    const digit = eventToDigit(ev.event)
    if (digit) this.onDtmf(digit, 'rfc4733')
  }

  private onRtcp(buf: Buffer, rinfo: RemoteInfo): void {
    if (this.closed) return
    if (!this.trusted(rinfo) && rinfo.address !== this.rtcpRemote.address) return this.drop('foreign-rtcp')
    if (this.srtp) {
      const plain = this.srtp.rtcpIn.unprotect(buf)
      if (typeof plain === 'string') return this.dropSrtp(plain, rinfo, true)
      buf = plain
    }
    const report = this.rtcp.onRtcp(buf)
    if (typeof report === 'string') return this.drop(`rtcp-${report}`)
    this.stats.rtcpIn++
    this.rtcpRemote = { address: rinfo.address, port: rinfo.port } // symmetric RTCP
  }

  private scheduleRtcp(): void {
    this.rtcpTimer = setTimeout(() => {
      if (this.closed) return
      this.contained('rtcp.timer', () => {
        this.sendRtcp(this.rtcp.buildReport(this.receptionSource()))
        this.scheduleRtcp()
      })
    }, this.rtcp.nextIntervalMs())
  }

  private receptionSource() {
    const s = this.jitterBuffer.stats
    return { ssrc: this.stats.ssrc, expected: s.expected, received: s.received, extendedHighestSeq: s.extendedHighestSeq, jitterTs: s.jitterTs }
  }

  private sendRtcp(report: Buffer): void {
    if (!this.confirmed || this.rtcpRemote.address === '0.0.0.0' || this.rtcpRemote.address === '::') return
    const buf = this.srtp ? this.srtp.rtcpOut.protect(report) : report
    if (this.opts.rtcpMux && this.connected) this.opts.ports.rtp.send(buf)
    else (this.opts.rtcpMux ? this.opts.ports.rtp : this.opts.ports.rtcp).send(buf, this.rtcpRemote.port, this.rtcpRemote.address)
    this.stats.rtcpOut++
  }

  /** Queue 16 kHz audio; resolves true when played (its last packet sent), false when flushed.
   *  `atLineRate`: the same audio at the line's rate when the caller has it (a media worker gets it
   *  from the main thread, whose prompts are resampled once, ahead). */
  play(pcm: Int16Array, atLineRate?: Int16Array): Promise<boolean> {
    const line = atLineRate ?? this.pipeline.toLineRate(pcm)
    const played = new Promise<boolean>((done) => this.queue.push({ internal: pcm, line, offset: 0, done }))
    // The prepared packet has room this audio would have filled at send time: a prompt (or the
    // next chunk of a streamed reply) goes out with the very next packet, not one later.
    if (this.prepared && this.prepared.filled < this.lineFrame.length && !this.held) this.prepareAgain()
    return played
  }

  /** Drop the queued audio; the next packet out is silence, even if one was already encoded. */
  flush(): void {
    const audible = this.dropAudible()
    for (const q of this.queue.splice(0)) q.done(false)
    this.talking = false
    this.held = false
    if (audible) this.prepareIfOpen()
  }

  /** Hold the queued audio where it is and send silence (a suspected barge-in) from the next
   *  packet on, until resume() carries on from the same sample or flush() drops it. */
  hold(): void {
    const audible = this.dropAudible()
    this.held = true
    this.talking = false
    if (audible) this.prepareIfOpen()
  }

  resume(): void {
    if (!this.held) return
    this.held = false
    // The prepared packet is the hold's silence: the prompt carries on from the next packet.
    if (this.prepared && this.queue.length) this.prepareAgain()
  }

  /** The send phase: header and socket only; the payload was encoded beforehand. */
  onTick(tick: number): void {
    if (this.closed || tick % this.everyTicks !== 0) return
    this.opts.injectFault?.('clock.tick')
    // Prepared in the last afterTick; here only when onTick is driven without one.
    if (!this.prepared) this.prepare()
    this.send(this.prepared!)
  }

  /** After every call's send: the sent packet's audio to onFrame, inbound playout (whatever the
   *  jitter buffer has due, decoded or concealed), then the next packet is prepared. Playout
   *  comes first, so a hold that the caller's audio triggers needs no second encode. */
  afterTick(): void {
    if (this.closed) return
    this.opts.injectFault?.('clock.after')
    this.reportFrame()
    const now = this.now()
    for (const ev of this.jitterBuffer.pull(now)) {
      const pcm = ev.kind === 'frame' ? this.decode(ev.payload) : this.pipeline.conceal(ev.durationTs, ev.next)
      if (!pcm) continue
      if (ev.kind === 'frame') this.bufferedMs = now - ev.arrivalMs
      if (this.toneDetector) for (const d of this.toneDetector.push(pcm)) this.onDtmf(d, 'inband')
      this.onAudio(pcm, this.bufferedMs, this.pipeline.lastDecoded)
    }
    if (!this.prepared) this.prepare()
  }

  /** A payload the codec cannot take (too long for any frame, a broken Opus packet) is garbage like
   *  any other: counted and skipped, never a fault of the call (found by test/fuzz). */
  private decode(payload: Uint8Array): Int16Array | undefined {
    try {
      return this.pipeline.decode(payload)
    } catch {
      this.drop('undecodable')
      return undefined
    }
  }

  private get sending(): boolean {
    return this.confirmed && this.direction !== 'recvonly' && this.direction !== 'inactive'
  }

  /** The next packet's audio from the queue (or silence), encoded into a spare buffer. The queue
   *  is only read: offsets move, but prompts finish and leave the queue when the packet is sent. */
  private prepare(): void {
    const p = this.spare ?? this.newPrepared()
    this.spare = undefined
    const line = this.lineFrame
    const frame = p.frame
    const ratio = frame.length / line.length
    let filled = 0
    let talking = this.talking
    p.marker = false
    p.promptStart = false
    p.touched = 0
    p.finished = 0
    p.firstOffset = this.queue.length ? this.queue[0].offset : 0
    for (let i = 0; filled < line.length && i < this.queue.length && !this.held; i++) {
      const q = this.queue[i]
      const n = Math.min(line.length - filled, q.line.length - q.offset)
      copyRange(line, filled, q.line, q.offset, q.offset + n)
      const from = Math.round(q.offset * ratio)
      const to = Math.min(q.internal.length, Math.round((q.offset + n) * ratio))
      copyRange(frame, Math.round(filled * ratio), q.internal, from, to)
      if (q.offset === 0) {
        p.promptStart = true
        if (!talking) p.marker = true // RFC 3551 §4.1: first packet of a talkspurt
      }
      q.offset += n
      filled += n
      talking = true
      p.touched++
      if (q.offset >= q.line.length) p.finished++
    }
    if (filled < line.length) {
      line.fill(0, filled)
      frame.fill(0, Math.round(filled * ratio))
      if (p.finished === this.queue.length) talking = false
    }
    p.filled = filled
    p.talking = talking
    // Not sending (recvonly, inactive): nothing is encoded, as nothing would be sent.
    if (this.sending) this.encode(p)
    else p.bytes = -1
    this.prepared = p
  }

  private encode(p: PreparedPacket): void {
    this.pipeline.saveEncoder()
    p.bytes = this.pipeline.encode(this.lineFrame, p.slot.payload)
  }

  private send(p: PreparedPacket): void {
    this.prepared = undefined
    this.talking = p.talking
    // Sequence numbers and timestamps run on through silence, so they stay continuous.
    this.seq = add16(this.seq, 1)
    this.timestamp = add32(this.timestamp, this.tsPerPacket)
    // The direction can change between prepare and send (a re-INVITE): then encode here, or
    // take back an encode that is not sent after all.
    if (this.sending) {
      if (p.bytes < 0) this.encode(p)
      const { buf, done } = p.slot
      const n = p.bytes
      writeRtpHeader(buf, { marker: p.marker, payloadType: this.opts.payloadType, sequenceNumber: this.seq, timestamp: this.timestamp, ssrc: this.ssrc })
      // protected after packetising, in the slot's room behind the payload
      const length = this.srtp ? this.srtp.rtpOut.protect(buf, 12 + n) : 12 + n
      if (this.connected) this.opts.ports.rtp.send(buf, 0, length, done)
      else this.opts.ports.rtp.send(buf, 0, length, this.remote.port, this.remote.address, done)
      this.rtcp.onRtpSent(n, this.timestamp)
      this.stats.packetsOut++
      this.stats.octetsOut += length
      this.opts.metrics.rtpOut.inc()
      p.slot = this.freeSlots.pop() ?? this.newSlot() // the sent buffer is the socket's until its callback
    } else if (p.bytes >= 0) {
      this.pipeline.restoreEncoder()
    }
    this.reportFrame() // only when onTick runs twice without an afterTick
    const sent = p.frame
    p.frame = this.sentFrame
    this.sentFrame = sent
    this.framePending = true
    this.spare = p
    for (const q of this.queue.splice(0, p.finished)) q.done(true)
    // Here rather than in afterTick: the handler times the turn's first audio on the wire.
    if (p.promptStart) this.onPromptStart()
  }

  private reportFrame(): void {
    if (!this.framePending) return
    this.framePending = false
    this.onFrame(this.sentFrame)
  }

  /** Drops the prepared packet if it carries prompt audio; says whether it did. */
  private dropAudible(): boolean {
    if (!this.prepared || this.prepared.filled === 0) return false
    this.dropPrepared()
    return true
  }

  private prepareAgain(): void {
    this.dropPrepared()
    this.prepareIfOpen()
  }

  private prepareIfOpen(): void {
    if (!this.closed) this.prepare()
  }

  /** Forgets the prepared packet: its audio goes back to the queue, its encode is taken back. */
  private dropPrepared(): void {
    const p = this.prepared
    if (!p) return
    this.prepared = undefined
    for (let i = 0; i < p.touched; i++) this.queue[i].offset = i === 0 ? p.firstOffset : 0
    if (p.bytes >= 0) this.pipeline.restoreEncoder()
    this.spare = p
  }

  private disconnect(): void {
    if (!this.connected) return
    this.connected = false
    try {
      this.opts.ports.rtp.disconnect()
    } catch {
      // still connecting: nothing to undo
    }
  }

  private newPrepared(): PreparedPacket {
    const slot = this.freeSlots.pop() ?? this.newSlot()
    return {
      slot,
      bytes: -1,
      frame: new Int16Array(this.sentFrame.length),
      filled: 0,
      marker: false,
      promptStart: false,
      talking: false,
      touched: 0,
      firstOffset: 0,
      finished: 0,
    }
  }

  private newSlot(): PacketSlot {
    const buf = Buffer.alloc(this.packetBytes)
    const slot: PacketSlot = { buf, payload: buf.subarray(12, 12 + MAX_PAYLOAD_BYTES), done: () => this.freeSlots.push(slot) }
    return slot
  }

  /**
   * Ends this session's own media and leaves its sockets to another owner (a relay to a transfer
   * target): our source sends its RTCP BYE, nothing more is sent or handled here, and the RTP
   * socket is no longer connect()ed to the peer, so the new owner can send where it needs to.
   * Returns the sockets and where the peer receives RTP and RTCP now (latched). The sockets stay open.
   */
  handOver(): {
    ports: RtpPortPair
    rtp: { address: string; port: number }
    rtcp: { address: string; port: number }
    signallingAddress: string
    srtp?: SrtpContext
  } {
    this.close()
    this.disconnect()
    const srtp = this.opts.srtp && this.srtp && relayContext(this.opts.srtp, this.srtp)
    return {
      ports: this.opts.ports,
      rtp: { ...this.remote },
      rtcp: { ...this.rtcpRemote },
      signallingAddress: this.opts.signallingAddress,
      ...(srtp && { srtp }),
    }
  }

  close(): void {
    if (this.closed) return
    try {
      this.sendRtcp(this.rtcp.buildBye())
    } catch (err) {
      this.opts.logger.warn({ err }, 'RTCP BYE not sent')
    }
    this.closed = true
    clearTimeout(this.rtcpTimer)
    this.flush()
  }
}

/** dst[at...] = src[from..to): a loop rather than set(subarray()), which makes a view per call. */
function copyRange(dst: Int16Array, at: number, src: Int16Array, from: number, to: number): void {
  for (let i = from; i < to; i++) dst[at++] = src[i]
}
