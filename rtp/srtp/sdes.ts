// SDES (RFC 4568): the a=crypto attribute, read strictly and written for our answers and offers.
//   a=crypto:<tag> <crypto-suite> inline:<base64 master key || salt>[|<lifetime>][|<MKI>:<length>] [<session-params>]
import { randomBytes } from 'node:crypto'
import { suiteOf, type CryptoSuite, type SrtpSuiteName } from './crypto-suite.ts'

/** One a=crypto line of a description, as sdp-transform splits it. */
export interface CryptoAttribute {
  id: number | string
  suite: string
  config: string
  sessionConfig?: string
}

/** A usable a=crypto line: its tag, suite and the master key || salt (base64, 30 bytes). */
export interface SdesCrypto {
  tag: number
  suite: SrtpSuiteName
  key: string
}

/** The least lifetime we take: we never re-key, and 2^31 packets are 497 days at 50 packets/s. */
const MIN_LIFETIME_LOG2 = 31

/** Reads one a=crypto line; a string says why it cannot be used. Never throws. */
export function parseCrypto(a: CryptoAttribute): SdesCrypto | string {
  const tag = Number(a.id)
  if (!Number.isInteger(tag) || tag < 0 || tag > 999999999) return `bad crypto tag ${String(a.id).slice(0, 20)}`
  const suite = suiteOf(String(a.suite))
  if (!suite) return `unsupported crypto suite ${String(a.suite).slice(0, 40)}`
  if (a.sessionConfig !== undefined && String(a.sessionConfig).trim() !== '') return `unsupported session parameters ${String(a.sessionConfig).slice(0, 40)}`
  const params = String(a.config ?? '')
  if (params.includes(';')) return 'several master keys (needs MKI): unsupported'
  const m = /^inline:([^|]*)(?:\|([^|]*))?(?:\|([^|]*))?$/.exec(params)
  if (!m) return 'key parameters are not inline:<key>'
  const key = keyOf(m[1], suite)
  if (typeof key !== 'string') return key.error
  for (const extra of [m[2], m[3]]) {
    if (extra === undefined) continue
    if (extra.includes(':')) return 'MKI is not supported'
    if (!lifetimeOk(extra)) return `key lifetime ${extra.slice(0, 20)} is shorter than 2^${MIN_LIFETIME_LOG2} packets`
  }
  return { tag, suite: suite.name, key }
}

function keyOf(b64: string, suite: CryptoSuite): string | { error: string } {
  const bytes = suite.keyBytes + suite.saltBytes
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return { error: 'key is not base64' }
  const raw = Buffer.from(b64, 'base64')
  if (raw.length !== bytes || raw.toString('base64') !== b64) return { error: `key must be ${bytes} bytes of base64, got ${raw.length}` }
  return b64
}

/** `2^n` or a decimal number of packets. */
function lifetimeOk(s: string): boolean {
  const pow = /^2\^(\d{1,2})$/.exec(s)
  if (pow) return Number(pow[1]) >= MIN_LIFETIME_LOG2 && Number(pow[1]) <= 48
  return /^\d{1,15}$/.test(s) && Number(s) >= 2 ** MIN_LIFETIME_LOG2
}

/** The first line we can use, in the offerer's order (its preference), or why none fits. */
export function chooseCrypto(lines: CryptoAttribute[] | undefined): SdesCrypto | string {
  const why: string[] = []
  for (const a of lines ?? []) {
    const c = parseCrypto(a)
    if (typeof c !== 'string') return c
    why.push(c)
  }
  return why.length ? `no usable a=crypto: ${why.join('; ')}` : 'RTP/SAVP without a=crypto'
}

/** A fresh master key and salt for a suite, base64. */
export function newMasterKey(suite: SrtpSuiteName): string {
  const s = suiteOf(suite)!
  return randomBytes(s.keyBytes + s.saltBytes).toString('base64')
}

/** Our a=crypto line, as sdp-transform writes it. */
export function formatCrypto(c: SdesCrypto): CryptoAttribute & { id: number } {
  return { id: c.tag, suite: c.suite, config: `inline:${c.key}` }
}
