import type { RemoteInfo } from 'node:dgram'
import type { Logger } from 'pino'
import type { AudioCodec } from '../../codecs/codec.ts'
import { DtmfToneDetector } from '../../codecs/dtmf-goertzel.ts'
import { eventToDigit, parseTelephoneEvent } from '../../codecs/telephone-event.ts'
import type { ClockSubscriber } from '../clock/pacing-clock.ts'
import type { Metrics } from '../metrics.ts'
import { CodecPipeline, INTERNAL_RATE } from './codec-pipeline.ts'
import { JitterBuffer } from './jitter-buffer.ts'
import { isRtcp, parseRtp, writeRtpHeader } from './packet.ts'
import type { RtpPortPair } from './port-pool.ts'
import { RtcpReporter } from './rtcp-reporter.ts'
import { add16, add32 } from './seq.ts'
import { RtpStats } from './rtp-stats.ts'

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
  metrics: Metrics
  logger: Logger
  now?: () => number
}

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
  done: () => void
}

/**
 * One call's RTP and RTCP. In: validate, latch (symmetric RTP), jitter buffer, decode or
 * conceal, 16 kHz PCM out to the call. Out: 16 kHz prompts encoded for the line, paced by
 * the shared clock, silence between prompts. Both directions run on the clock's ticks.
 */
export class RtpSession implements ClockSubscriber {
  readonly stats = new RtpStats()
  readonly jitterBuffer: JitterBuffer
  direction: MediaDirection = 'sendrecv'
  /** Caller audio at 16 kHz, a view reused after the call returns, with how long it waited in
   *  the jitter buffer (for a concealed gap: the wait of the last packet played). */
  onAudio: (pcm: Int16Array, bufferedMs: number) => void = () => {}
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
  private readonly ticksPerPacket: number
  /** One packet of outgoing audio at 16 kHz (recording) and at the line rate (encoder). */
  private readonly frame: Int16Array
  private readonly lineFrame: Int16Array
  private readonly pipeline: CodecPipeline
  private readonly rtcp: RtcpReporter
  private readonly toneDetector: DtmfToneDetector | undefined
  private readonly freeSlots: PacketSlot[] = []
  private readonly packetBytes: number
  private readonly now: () => number
  private lastDtmfTs: number | undefined
  private rtcpTimer: NodeJS.Timeout | undefined
  private closed = false

  constructor(private readonly opts: RtpSessionOptions) {
    this.remote = { address: opts.remote.address, port: opts.remote.port }
    this.rtcpRemote = { address: opts.remote.address, port: opts.rtcpMux ? opts.remote.port : opts.remote.rtcpPort }
    this.now = opts.now ?? (() => performance.now())
    this.tsPerPacket = (opts.codec.clockRate * opts.ptimeMs) / 1000
    this.ticksPerPacket = Math.max(1, Math.round(opts.ptimeMs / opts.clockPeriodMs))
    this.frame = new Int16Array((INTERNAL_RATE * opts.ptimeMs) / 1000)
    this.packetBytes = 12 + 1500
    this.pipeline = new CodecPipeline(opts.codec)
    this.lineFrame = new Int16Array((opts.codec.sampleRate * opts.ptimeMs) / 1000)
    this.jitterBuffer = new JitterBuffer({ clockRate: opts.codec.clockRate, initialDelayMs: opts.jitter.initialDelayMs, maxDelayMs: opts.jitter.maxDelayMs })
    this.rtcp = new RtcpReporter({ ssrc: this.ssrc, cname: opts.cname, clockRate: opts.codec.clockRate })
    // Tones inside the audio are the fallback for trunks that do not send RFC 4733 events.
    this.toneDetector = opts.telephoneEventPt === undefined ? new DtmfToneDetector(INTERNAL_RATE) : undefined
    opts.ports.rtp.on('message', (buf, rinfo) => this.onPacket(buf, rinfo))
    opts.ports.rtcp.on('message', (buf, rinfo) => this.onRtcp(buf, rinfo))
    this.scheduleRtcp()
  }

  get remoteAddress(): { address: string; port: number; latched: boolean } {
    return { ...this.remote, latched: this.latched }
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

  private trusted(rinfo: RemoteInfo): boolean {
    return rinfo.address === this.remote.address || rinfo.address === this.opts.signallingAddress
  }

  private onPacket(buf: Buffer, rinfo: RemoteInfo): void {
    if (this.closed) return
    if (isRtcp(buf)) return this.opts.rtcpMux ? this.onRtcp(buf, rinfo) : this.drop('rtcp-on-rtp-port')
    const p = parseRtp(buf)
    if (typeof p === 'string') return this.drop(p)
    if (!this.latched) {
      if (!this.trusted(rinfo)) return this.drop('foreign-source')
      // Symmetric RTP: answer to where the caller's packets really come from (NAT).
      this.remote = { address: rinfo.address, port: rinfo.port }
      if (this.opts.rtcpMux) this.rtcpRemote = { ...this.remote }
      this.latched = true
      this.opts.ports.rtp.connect(rinfo.port, rinfo.address)
      this.connected = true
    } else if (rinfo.address !== this.remote.address || rinfo.port !== this.remote.port) {
      return this.drop('foreign-source')
    }
    if (p.payloadType === this.opts.payloadType) {
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
    const report = this.rtcp.onRtcp(buf)
    if (typeof report === 'string') return this.drop(`rtcp-${report}`)
    this.stats.rtcpIn++
    this.rtcpRemote = { address: rinfo.address, port: rinfo.port } // symmetric RTCP
  }

  private scheduleRtcp(): void {
    this.rtcpTimer = setTimeout(() => {
      if (this.closed) return
      this.sendRtcp(this.rtcp.buildReport(this.receptionSource()))
      this.scheduleRtcp()
    }, this.rtcp.nextIntervalMs())
  }

  private receptionSource() {
    const s = this.jitterBuffer.stats
    return { ssrc: this.stats.ssrc, expected: s.expected, received: s.received, extendedHighestSeq: s.extendedHighestSeq, jitterTs: s.jitterTs }
  }

  private sendRtcp(buf: Buffer): void {
    if (this.rtcpRemote.address === '0.0.0.0' || this.rtcpRemote.address === '::') return
    if (this.opts.rtcpMux && this.connected) this.opts.ports.rtp.send(buf)
    else (this.opts.rtcpMux ? this.opts.ports.rtp : this.opts.ports.rtcp).send(buf, this.rtcpRemote.port, this.rtcpRemote.address)
    this.stats.rtcpOut++
  }

  /** Queue 16 kHz audio; resolves true when played, false when flushed. */
  play(pcm: Int16Array): Promise<boolean> {
    const line = this.pipeline.toLineRate(pcm)
    return new Promise((done) => this.queue.push({ internal: pcm, line, offset: 0, done }))
  }

  flush(): void {
    for (const q of this.queue.splice(0)) q.done(false)
    this.talking = false
    this.held = false
  }

  /** Hold the queued audio where it is and send silence (a suspected barge-in), until
   *  resume() carries on from the same sample or flush() drops it. */
  hold(): void {
    this.held = true
    this.talking = false
  }

  resume(): void {
    this.held = false
  }

  onTick(tick: number): void {
    if (!this.closed && tick % this.ticksPerPacket === 0) this.sendFrame()
  }

  /** Inbound playout: whatever the jitter buffer has due, decoded or concealed. */
  afterTick(): void {
    if (this.closed) return
    const now = this.now()
    for (const ev of this.jitterBuffer.pull(now)) {
      const pcm = ev.kind === 'frame' ? this.pipeline.decode(ev.payload) : this.pipeline.conceal(ev.durationTs, ev.next)
      if (ev.kind === 'frame') this.bufferedMs = now - ev.arrivalMs
      if (this.toneDetector) for (const d of this.toneDetector.push(pcm)) this.onDtmf(d, 'inband')
      this.onAudio(pcm, this.bufferedMs)
    }
  }

  private sendFrame(): void {
    const line = this.lineFrame
    const frame = this.frame
    const ratio = frame.length / line.length
    let filled = 0
    let marker = false
    let promptStart = false
    while (filled < line.length && this.queue.length && !this.held) {
      const q = this.queue[0]
      const n = Math.min(line.length - filled, q.line.length - q.offset)
      line.set(q.line.subarray(q.offset, q.offset + n), filled)
      const from = Math.round(q.offset * ratio)
      const to = Math.min(q.internal.length, Math.round((q.offset + n) * ratio))
      frame.set(q.internal.subarray(from, to), Math.round(filled * ratio))
      if (q.offset === 0) {
        promptStart = true
        if (!this.talking) marker = true // RFC 3551 §4.1: first packet of a talkspurt
      }
      q.offset += n
      filled += n
      this.talking = true
      if (q.offset >= q.line.length) {
        this.queue.shift()
        q.done(true)
      }
    }
    if (filled < line.length) {
      line.fill(0, filled)
      frame.fill(0, Math.round(filled * ratio))
      if (!this.queue.length) this.talking = false
    }
    this.onFrame(frame)
    // Sequence numbers and timestamps run on through silence, so they stay continuous.
    this.seq = add16(this.seq, 1)
    this.timestamp = add32(this.timestamp, this.tsPerPacket)
    if (this.direction === 'recvonly' || this.direction === 'inactive') return
    const slot = this.freeSlots.pop() ?? this.newSlot()
    const buf = slot.buf
    writeRtpHeader(buf, { marker, payloadType: this.opts.payloadType, sequenceNumber: this.seq, timestamp: this.timestamp, ssrc: this.ssrc })
    const n = this.pipeline.encode(line, buf.subarray(12))
    if (this.connected) this.opts.ports.rtp.send(buf, 0, 12 + n, slot.done)
    else this.opts.ports.rtp.send(buf, 0, 12 + n, this.remote.port, this.remote.address, slot.done)
    this.rtcp.onRtpSent(n, this.timestamp)
    this.stats.packetsOut++
    this.stats.octetsOut += 12 + n
    this.opts.metrics.rtpOut.inc()
    if (promptStart) this.onPromptStart()
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

  private newSlot(): PacketSlot {
    const slot: PacketSlot = { buf: Buffer.alloc(this.packetBytes), done: () => this.freeSlots.push(slot) }
    return slot
  }

  /**
   * Ends this session's own media and leaves its sockets to another owner (a relay to a transfer
   * target): our source sends its RTCP BYE, nothing more is sent or handled here, and the RTP
   * socket is no longer connect()ed to the peer, so the new owner can send where it needs to.
   * Returns the sockets and where the peer receives RTP and RTCP now (latched). The sockets stay open.
   */
  handOver(): { ports: RtpPortPair; rtp: { address: string; port: number }; rtcp: { address: string; port: number } } {
    this.close()
    this.disconnect()
    return { ports: this.opts.ports, rtp: { ...this.remote }, rtcp: { ...this.rtcpRemote } }
  }

  close(): void {
    if (this.closed) return
    this.sendRtcp(this.rtcp.buildBye())
    this.closed = true
    clearTimeout(this.rtcpTimer)
    this.flush()
  }
}
