// The SDES crypto suites we speak (RFC 4568 §6.2) and the keying material one SRTP session needs.

export type SrtpSuiteName = 'AES_CM_128_HMAC_SHA1_80' | 'AES_CM_128_HMAC_SHA1_32'

export interface CryptoSuite {
  name: SrtpSuiteName
  /** AES-128 master key */
  keyBytes: 16
  /** master salt */
  saltBytes: 14
  /** authentication tag of SRTP packets */
  rtpTagBytes: number
  /** authentication tag of SRTCP packets: 80 bits for both suites (RFC 4568 §6.2.2, RFC 3711 §5.2) */
  rtcpTagBytes: 10
}

export const SUITES: Record<SrtpSuiteName, CryptoSuite> = {
  AES_CM_128_HMAC_SHA1_80: { name: 'AES_CM_128_HMAC_SHA1_80', keyBytes: 16, saltBytes: 14, rtpTagBytes: 10, rtcpTagBytes: 10 },
  AES_CM_128_HMAC_SHA1_32: { name: 'AES_CM_128_HMAC_SHA1_32', keyBytes: 16, saltBytes: 14, rtpTagBytes: 4, rtcpTagBytes: 10 },
}

/** The suites in our order of preference when we offer. */
export const SUITE_NAMES = Object.keys(SUITES) as SrtpSuiteName[]

export function suiteOf(name: string): CryptoSuite | undefined {
  return Object.hasOwn(SUITES, name) ? SUITES[name as SrtpSuiteName] : undefined
}

/**
 * A call's SRTP keying as SDES agreed it: plain data, so it crosses to a media worker as it is.
 * Each key is the master key followed by the master salt (30 bytes), base64 as in a=crypto.
 */
export interface SrtpKeying {
  suite: SrtpSuiteName
  /** what we protect our packets with (our a=crypto) */
  local: string
  /** what the peer protects its packets with (its a=crypto) */
  remote: string
}
