import type { RemoteInfo } from 'node:dgram'
import type { Logger } from 'pino'
import type { AudioCodec } from '../../codecs/codec.ts'
import { eventToDigit, parseTelephoneEvent } from '../../codecs/telephone-event.ts'
import type { ClockSubscriber } from '../clock/pacing-clock.ts'
import type { Metrics } from '../metrics.ts'
import { isRtcp, parseRtp, writeRtpHeader } from './packet.ts'
import type { RtpPortPair } from './port-pool.ts'
import { add16, add32 } from './seq.ts'
import { RtpStats } from './rtp-stats.ts'

export type MediaDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive'

export interface RtpSessionOptions {
  ports: RtpPortPair
  codec: AudioCodec
  payloadType: number
  telephoneEventPt?: number
  /** Where the SDP says to send; replaced by the real source once packets arrive. */
  remote: { address: string; port: number }
  /** The SIP peer's address: packets from it are trusted before latching, like the SDP address. */
  signallingAddress: string
  ptimeMs: number
  clockPeriodMs: number
  metrics: Metrics
  logger: Logger
}

/** A packet buffer with its send callback, made once, so a send allocates nothing. */
interface PacketSlot {
  buf: Buffer
  done: () => void
}

interface QueuedPrompt {
  pcm: Int16Array
  offset: number
  done: (completed: boolean) => void
}

/**
 * One call's RTP: receive, validate, latch (symmetric RTP), decode; and send, paced by
 * the shared clock, from a queue of prompts, with silence between them.
 */
export class RtpSession implements ClockSubscriber {
  readonly stats = new RtpStats()
  direction: MediaDirection = 'sendrecv'
  /** Decoded caller audio, called per packet with a view that is reused afterwards. */
  onAudio: (pcm: Int16Array) => void = () => {}
  onDtmf: (digit: string) => void = () => {}
  /** Every tick's outgoing audio (prompt or silence), for the recording. */
  onFrame: (pcm: Int16Array) => void = () => {}
  /** The first packet of a prompt left the socket. */
  onPromptStart: () => void = () => {}

  private remote: { address: string; port: number }
  private latched = false
  private readonly queue: QueuedPrompt[] = []
  private talking = false
  private seq = Math.floor(Math.random() * 0x10000)
  private timestamp = Math.floor(Math.random() * 0x100000000) >>> 0
  private readonly ssrc = Math.floor(Math.random() * 0x100000000) >>> 0
  private readonly frameSamples: number
  private readonly ticksPerPacket: number
  private readonly frame: Int16Array
  private readonly decoded = new Int16Array(8000) // room for 1 s of 8 kHz audio
  /** Packet buffers not in flight: dgram holds a buffer until its send callback, so one
   *  is reused only after that; the list grows only if the socket backs up. */
  private readonly freeSlots: PacketSlot[] = []
  private readonly packetBytes: number
  private lastDtmfTs: number | undefined
  private closed = false

  constructor(private readonly opts: RtpSessionOptions) {
    this.remote = { ...opts.remote }
    this.frameSamples = (opts.codec.sampleRate * opts.ptimeMs) / 1000
    this.ticksPerPacket = Math.max(1, Math.round(opts.ptimeMs / opts.clockPeriodMs))
    this.frame = new Int16Array(this.frameSamples)
    this.packetBytes = 12 + this.frameSamples * 2
    opts.ports.rtp.on('message', (buf, rinfo) => this.onPacket(buf, rinfo))
    // RTCP is not processed yet (issue: media core); count what arrives so it shows up.
    opts.ports.rtcp.on('message', () => this.stats.rtcpIn++)
  }

  get port(): number {
    return this.opts.ports.port
  }

  get remoteAddress(): { address: string; port: number; latched: boolean } {
    return { ...this.remote, latched: this.latched }
  }

  /** A re-INVITE moved the peer or changed direction. */
  update(remote: { address: string; port: number }, direction: MediaDirection): void {
    if (remote.address !== this.remote.address || remote.port !== this.remote.port) {
      this.remote = { ...remote }
      this.latched = false
    }
    this.direction = direction
  }

  private drop(reason: string): void {
    this.stats.countDrop(reason)
    this.opts.metrics.rtpDropped.labels(reason).inc()
  }

  private onPacket(buf: Buffer, rinfo: RemoteInfo): void {
    if (this.closed) return
    if (isRtcp(buf)) return this.drop('rtcp-on-rtp-port')
    const p = parseRtp(buf)
    if (typeof p === 'string') return this.drop(p)
    if (!this.latched) {
      if (rinfo.address !== this.remote.address && rinfo.address !== this.opts.signallingAddress) return this.drop('foreign-source')
      // Symmetric RTP: answer to where the caller's packets really come from (NAT).
      this.remote = { address: rinfo.address, port: rinfo.port }
      this.latched = true
    } else if (rinfo.address !== this.remote.address || rinfo.port !== this.remote.port) {
      return this.drop('foreign-source')
    }
    if (p.payloadType === this.opts.payloadType) {
      this.stats.onPacket(p.ssrc, p.sequenceNumber, buf.length)
      this.opts.metrics.rtpIn.inc()
      if (this.direction === 'sendonly' || this.direction === 'inactive') return
      const n = this.opts.codec.decode(p.payload, this.decoded)
      this.onAudio(this.decoded.subarray(0, n))
    } else if (p.payloadType === this.opts.telephoneEventPt) {
      this.stats.onPacket(p.ssrc, p.sequenceNumber, buf.length)
      this.opts.metrics.rtpIn.inc()
      this.onTelephoneEvent(p.payload, p.timestamp)
    } else {
      this.drop('unknown-payload-type')
    }
  }

  /** RFC 4733 §2.5.1: one event per timestamp; the repeated end packets share it. */
  private onTelephoneEvent(payload: Uint8Array, timestamp: number): void {
    const ev = parseTelephoneEvent(payload)
    if (!ev) return this.drop('bad-telephone-event')
    if (timestamp === this.lastDtmfTs) return
    this.lastDtmfTs = timestamp
    const digit = eventToDigit(ev.event)
    if (digit) this.onDtmf(digit)
  }

  /** Queue audio at the codec's sample rate; resolves true when played, false when flushed. */
  play(pcm: Int16Array): Promise<boolean> {
    return new Promise((done) => this.queue.push({ pcm, offset: 0, done }))
  }

  flush(): void {
    for (const q of this.queue.splice(0)) q.done(false)
    this.talking = false
  }

  onTick(tick: number): void {
    if (this.closed || tick % this.ticksPerPacket !== 0) return
    const frame = this.frame
    let filled = 0
    let marker = false
    while (filled < frame.length && this.queue.length) {
      const q = this.queue[0]
      const n = Math.min(frame.length - filled, q.pcm.length - q.offset)
      frame.set(q.pcm.subarray(q.offset, q.offset + n), filled)
      if (q.offset === 0 && !this.talking) marker = true // RFC 3551 §4.1: first packet of a talkspurt
      q.offset += n
      filled += n
      this.talking = true
      if (q.offset >= q.pcm.length) {
        this.queue.shift()
        q.done(true)
      }
    }
    if (filled < frame.length) {
      frame.fill(0, filled)
      if (!this.queue.length) this.talking = false
    }
    this.onFrame(frame)
    this.send(marker)
    if (marker) this.onPromptStart()
  }

  private send(marker: boolean): void {
    // Sequence numbers and timestamps run on through silence, so they stay continuous.
    this.seq = add16(this.seq, 1)
    this.timestamp = add32(this.timestamp, this.frameSamples)
    if (this.direction === 'recvonly' || this.direction === 'inactive') return
    const slot = this.freeSlots.pop() ?? this.newSlot()
    const buf = slot.buf
    writeRtpHeader(buf, { marker, payloadType: this.opts.payloadType, sequenceNumber: this.seq, timestamp: this.timestamp, ssrc: this.ssrc })
    const n = this.opts.codec.encode(this.frame, buf.subarray(12))
    this.opts.ports.rtp.send(buf, 0, 12 + n, this.remote.port, this.remote.address, slot.done)
    this.stats.packetsOut++
    this.stats.octetsOut += 12 + n
    this.opts.metrics.rtpOut.inc()
  }

  private newSlot(): PacketSlot {
    const slot: PacketSlot = { buf: Buffer.alloc(this.packetBytes), done: () => this.freeSlots.push(slot) }
    return slot
  }

  close(): void {
    this.closed = true
    this.flush()
  }
}


