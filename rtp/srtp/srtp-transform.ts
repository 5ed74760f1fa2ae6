// SRTP (RFC 3711 §3.3, §4): AES-CM encryption of the RTP payload and an HMAC-SHA1 tag over the
// packet and its rollover counter. One SrtpSender per stream we send, one SrtpReceiver per stream
// we receive; both keep the 48-bit packet index (ROC * 2^16 + SEQ).
import { createHmac, timingSafeEqual } from 'node:crypto'
import { RTP_HEADER_BYTES } from '../packet.ts'
import { seqDiff } from '../seq.ts'
import { aesCmXor } from './aes-cm.ts'
import { SUITES, type SrtpSuiteName } from './crypto-suite.ts'
import { deriveRtpKeys, type SessionKeys } from './key-derivation.ts'
import { ReplayWindow } from './replay-window.ts'

/** Why a packet was not unprotected (the session counts it as srtp-<reason> or srtcp-<reason>). */
export type SrtpDropReason = 'malformed' | 'auth' | 'replay'

/** The master key and salt of one direction, from its a=crypto key (30 bytes). */
export function splitMaster(master: Buffer): { key: Buffer; salt: Buffer } {
  if (master.length !== 30) throw new Error(`SRTP master key and salt must be 30 bytes, got ${master.length}`)
  return { key: master.subarray(0, 16), salt: master.subarray(16) }
}

/**
 * Where an RTP packet's payload starts (fixed header, CSRCs, extension), or -1. Not parseRtp: its
 * padding check reads the last byte, which SRTP has encrypted.
 */
export function rtpHeaderLength(packet: Buffer): number {
  if (packet.length < RTP_HEADER_BYTES || packet[0] >> 6 !== 2) return -1
  let off = RTP_HEADER_BYTES + 4 * (packet[0] & 0x0f)
  if (packet[0] & 0x10) {
    if (off + 4 > packet.length) return -1
    off += 4 + 4 * packet.readUInt16BE(off + 2)
  }
  return off > packet.length ? -1 : off
}

/** The AES-CM IV of RFC 3711 §4.1.1: (k_s * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16). */
export function packetIv(salt: Buffer, ssrc: number, index: number): Buffer {
  const iv = Buffer.alloc(16)
  salt.copy(iv, 0, 0, 14)
  iv.writeUInt32BE((iv.readUInt32BE(4) ^ ssrc) >>> 0, 4)
  iv.writeUInt16BE(iv.readUInt16BE(8) ^ Math.floor(index / 0x100000000), 8)
  iv.writeUInt32BE((iv.readUInt32BE(10) ^ index) >>> 0, 10)
  return iv
}

/**
 * The packet index of a sequence number (RFC 3711 §3.3.1, Appendix A): the index nearest to the
 * highest one seen, so a wrap of the 16-bit sequence number moves the ROC either way.
 */
export class PacketIndex {
  private highest: number | undefined

  estimate(seq: number): number {
    if (this.highest === undefined) return seq
    const index = this.highest + seqDiff(seq, this.highest & 0xffff)
    return index < 0 ? seq : index
  }

  /** After a packet is sent, or received and authenticated. */
  advance(index: number): void {
    if (this.highest === undefined || index > this.highest) this.highest = index
  }
}

abstract class SrtpStream {
  protected readonly keys: SessionKeys
  protected readonly tagBytes: number

  constructor(suite: SrtpSuiteName, master: Buffer) {
    const { key, salt } = splitMaster(master)
    this.keys = deriveRtpKeys(key, salt)
    this.tagBytes = SUITES[suite].rtpTagBytes
  }

  /** HMAC-SHA1 over the authenticated portion and the ROC (RFC 3711 §4.2), truncated. */
  protected tag(authenticated: Buffer, index: number): Buffer {
    const roc = Buffer.alloc(4)
    roc.writeUInt32BE(Math.floor(index / 0x10000) >>> 0)
    return createHmac('sha1', this.keys.authKey).update(authenticated).update(roc).digest().subarray(0, this.tagBytes)
  }
}

export class SrtpSender extends SrtpStream {
  private readonly index = new PacketIndex()

  /** Bytes protect() adds to a packet. */
  get overhead(): number {
    return this.tagBytes
  }

  /**
   * Protects the RTP packet in buf[0, length) in place: the payload encrypted, the tag appended.
   * `buf` must have `overhead` bytes of room after it. Returns the SRTP packet's length.
   */
  protect(buf: Buffer, length: number): number {
    const packet = buf.subarray(0, length)
    const header = rtpHeaderLength(packet)
    if (header < 0) throw new Error('not an RTP packet')
    const index = this.index.estimate(packet.readUInt16BE(2))
    this.index.advance(index)
    aesCmXor(this.keys.encKey, packetIv(this.keys.salt, packet.readUInt32BE(8), index), packet.subarray(header))
    this.tag(packet, index).copy(buf, length)
    return length + this.tagBytes
  }
}

/** A received source's index and replay list. */
interface SourceState {
  index: PacketIndex
  replay: ReplayWindow
}

/** Sources a receiver keeps state for (the audio's, a gateway's own SSRC for telephone-events,
 *  a re-anchored stream); the oldest is forgotten beyond it. */
const MAX_SOURCES = 8

export class SrtpReceiver extends SrtpStream {
  /** per SSRC, created only once a packet of it authenticated: garbage makes no state */
  private readonly sources = new Map<number, SourceState>()

  /**
   * Authenticates and decrypts an SRTP packet in place; returns the RTP packet (a view of `buf`)
   * or why it was dropped. Garbage of any shape is a reason, never a throw.
   */
  unprotect(buf: Buffer): Buffer | SrtpDropReason {
    if (buf.length < 12 + this.tagBytes) return 'malformed'
    const packet = buf.subarray(0, buf.length - this.tagBytes)
    const header = rtpHeaderLength(packet)
    if (header < 0) return 'malformed'
    const ssrc = packet.readUInt32BE(8)
    const known = this.sources.get(ssrc)
    const index = known ? known.index.estimate(packet.readUInt16BE(2)) : packet.readUInt16BE(2)
    if (known && !known.replay.check(index)) return 'replay'
    if (!timingSafeEqual(this.tag(packet, index), buf.subarray(packet.length))) return 'auth'
    const state = known ?? this.addSource(ssrc)
    state.replay.accept(index)
    state.index.advance(index)
    aesCmXor(this.keys.encKey, packetIv(this.keys.salt, ssrc, index), packet.subarray(header))
    return packet
  }

  private addSource(ssrc: number): SourceState {
    if (this.sources.size >= MAX_SOURCES) this.sources.delete(this.sources.keys().next().value!)
    const state = { index: new PacketIndex(), replay: new ReplayWindow() }
    this.sources.set(ssrc, state)
    return state
  }
}
