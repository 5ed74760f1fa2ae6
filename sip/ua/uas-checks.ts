import type { SipRequest } from '../message/types.ts'

/** Methods this endpoint implements, as advertised in Allow. */
// NOTIFY: only inside a dialog, for the subscription a REFER of ours created.
// UPDATE (RFC 3311) and PRACK (RFC 3262): only inside a dialog too.
export const ALLOWED_METHODS = ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'INFO', 'NOTIFY', 'UPDATE', 'PRACK'] as const
export const ALLOW = ALLOWED_METHODS.join(', ')
/** Option tags we implement (RFC 3262 reliable provisionals, RFC 4028 session timers), as advertised in Supported.
 *  Not replaces: we cannot take over a dialog by Replaces (RFC 3891). */
export const SUPPORTED = '100rel, timer'

/** Methods we know but do not serve here (we are no registrar, no presence server). */
const KNOWN_NOT_ALLOWED = new Set(['REGISTER', 'MESSAGE', 'SUBSCRIBE', 'PUBLISH', 'REFER'])
const SUPPORTED_SCHEMES = new Set(['sip', 'sips', 'tel'])
/** Option tags we understand in Require (RFC 3261 §8.2.2.3); anything else gets 420. */
const SUPPORTED_EXTENSIONS = new Set(SUPPORTED.split(', '))

export interface Refusal {
  status: number
  reason?: string
  headers?: Record<string, string>
}

function headerList(rq: SipRequest, name: string): string[] {
  const v = rq.headers[name]
  if (typeof v !== 'string') return []
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
}

/**
 * The UAS request checks of RFC 3261 §8.2, in the order the RFC gives them:
 * method (405/501), Request-URI scheme (416), Require (420), body type (415), Accept (406).
 * Returns null when the request may be processed.
 */
export function checkRequest(rq: SipRequest): Refusal | null {
  const method = rq.method
  if (!(ALLOWED_METHODS as readonly string[]).includes(method)) {
    return { status: KNOWN_NOT_ALLOWED.has(method) ? 405 : 501, headers: { Allow: ALLOW } }
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(rq.uri)?.[1]?.toLowerCase()
  if (!scheme || !SUPPORTED_SCHEMES.has(scheme)) return { status: 416 }
  if (method !== 'ACK' && method !== 'CANCEL') {
    const unsupported = headerList(rq, 'require').filter((tag) => !SUPPORTED_EXTENSIONS.has(tag.toLowerCase()))
    if (unsupported.length) return { status: 420, headers: { Unsupported: unsupported.join(', ') } }
  }
  if (method === 'INVITE' || method === 'UPDATE') {
    const type = String(rq.headers['content-type'] ?? '')
      .split(';')[0]
      .trim()
      .toLowerCase()
    if (rq.content.length > 0 && type !== 'application/sdp') {
      return { status: 415, headers: { Accept: 'application/sdp' } }
    }
  }
  if (method === 'INVITE' || method === 'OPTIONS') {
    const accept = headerList(rq, 'accept').map((a) => a.split(';')[0].trim().toLowerCase())
    if (accept.length && !accept.some((a) => a === 'application/sdp' || a === 'application/*' || a === '*/*')) {
      return { status: 406, headers: { Accept: 'application/sdp', Warning: '399 - "application/sdp is the only session description we speak"' } }
    }
  }
  return null
}
