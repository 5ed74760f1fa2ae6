// SRTCP (RFC 3711 §3.4): the compound RTCP packet encrypted after its first 8 bytes (header and
// sender SSRC), then the E flag with the 31-bit SRTCP index, then the HMAC-SHA1 tag over all of it.
import { createHmac, timingSafeEqual } from 'node:crypto'
import { aesCmXor } from './aes-cm.ts'
import { SUITES, type SrtpSuiteName } from './crypto-suite.ts'
import { deriveRtcpKeys, type SessionKeys } from './key-derivation.ts'
import { ReplayWindow } from './replay-window.ts'
import { packetIv, splitMaster, type SrtpDropReason } from './srtp-transform.ts'

const ENCRYPTED_FROM = 8
const E_FLAG = 0x80000000
const INDEX_MASK = 0x7fffffff

abstract class SrtcpStream {
  protected readonly keys: SessionKeys
  protected readonly tagBytes: number

  constructor(suite: SrtpSuiteName, master: Buffer) {
    const { key, salt } = splitMaster(master)
    this.keys = deriveRtcpKeys(key, salt)
    this.tagBytes = SUITES[suite].rtcpTagBytes
  }

  protected tag(authenticated: Buffer): Buffer {
    return createHmac('sha1', this.keys.authKey).update(authenticated).digest().subarray(0, this.tagBytes)
  }
}

export class SrtcpSender extends SrtcpStream {
  private index = 0

  /** A new buffer: the SRTCP packet of a compound RTCP packet (built fresh for each report). */
  protect(rtcp: Buffer): Buffer {
    if (rtcp.length < ENCRYPTED_FROM) throw new Error('RTCP packet too short')
    const index = this.index
    this.index = (this.index + 1) & INDEX_MASK
    const out = Buffer.alloc(rtcp.length + 4 + this.tagBytes)
    rtcp.copy(out)
    aesCmXor(this.keys.encKey, packetIv(this.keys.salt, rtcp.readUInt32BE(4), index), out.subarray(ENCRYPTED_FROM, rtcp.length))
    out.writeUInt32BE((E_FLAG | index) >>> 0, rtcp.length)
    this.tag(out.subarray(0, rtcp.length + 4)).copy(out, rtcp.length + 4)
    return out
  }
}

export class SrtcpReceiver extends SrtcpStream {
  private readonly replay = new ReplayWindow()

  /** The RTCP packet (a view of `buf`, decrypted in place), or why it was dropped; never throws. */
  unprotect(buf: Buffer): Buffer | SrtpDropReason {
    const end = buf.length - this.tagBytes - 4
    if (end < ENCRYPTED_FROM) return 'malformed'
    const authenticated = buf.subarray(0, end + 4)
    const word = buf.readUInt32BE(end)
    const index = word & INDEX_MASK
    if (!this.replay.check(index)) return 'replay'
    if (!timingSafeEqual(this.tag(authenticated), buf.subarray(end + 4))) return 'auth'
    this.replay.accept(index)
    const rtcp = buf.subarray(0, end)
    // E = 0: the sender left this one in the clear (RFC 3711 §3.4 allows it)
    if (word & E_FLAG) aesCmXor(this.keys.encKey, packetIv(this.keys.salt, rtcp.readUInt32BE(4), index), rtcp.subarray(ENCRYPTED_FROM))
    return rtcp
  }
}
