// SRTP key derivation (RFC 3711 §4.3) with the AES-CM PRF and a key derivation rate of 0: the
// session keys are derived once, from the master key and salt, for index 0.
import { aesCmKeystream } from './aes-cm.ts'

/** RFC 3711 §4.3.2 labels */
const LABEL = { rtpEncryption: 0, rtpAuth: 1, rtpSalt: 2, rtcpEncryption: 3, rtcpAuth: 4, rtcpSalt: 5 } as const

/** HMAC-SHA1 keys are 160 bits (RFC 3711 §4.2.1 n_a). */
const AUTH_KEY_BYTES = 20

export interface SessionKeys {
  encKey: Buffer
  authKey: Buffer
  /** 14 bytes */
  salt: Buffer
}

/**
 * One session key: the PRF's keystream for x = label * 2^48 XOR master salt (with r = 0), used as
 * the IV (x * 2^16) under the master key, truncated to `n` bytes.
 */
export function deriveKey(masterKey: Buffer, masterSalt: Buffer, label: number, n: number): Buffer {
  const iv = Buffer.alloc(16)
  masterSalt.copy(iv, 0, 0, 14)
  iv[7] ^= label // byte 7 of the 14-byte salt holds bits 48..55 counting from its right end
  return aesCmKeystream(masterKey, iv, n)
}

function keys(masterKey: Buffer, masterSalt: Buffer, enc: number, auth: number, salt: number): SessionKeys {
  return {
    encKey: deriveKey(masterKey, masterSalt, enc, masterKey.length),
    authKey: deriveKey(masterKey, masterSalt, auth, AUTH_KEY_BYTES),
    salt: deriveKey(masterKey, masterSalt, salt, 14),
  }
}

export function deriveRtpKeys(masterKey: Buffer, masterSalt: Buffer): SessionKeys {
  return keys(masterKey, masterSalt, LABEL.rtpEncryption, LABEL.rtpAuth, LABEL.rtpSalt)
}

export function deriveRtcpKeys(masterKey: Buffer, masterSalt: Buffer): SessionKeys {
  return keys(masterKey, masterSalt, LABEL.rtcpEncryption, LABEL.rtcpAuth, LABEL.rtcpSalt)
}
