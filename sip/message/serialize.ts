// Writing SIP messages: the `sip` package's stringify, made safe to put on the wire.

import sip from 'sip'
import type { NameAddr, RejectedRequest, SipHeaders, SipMessage, SipRequest, SipResponse } from './types.ts'

/** Reason phrases of RFC 3261 §21 (and RFC 3265 for 489) for the codes this server sends. */
export const REASON_PHRASES: Readonly<Record<number, string>> = {
  100: 'Trying',
  180: 'Ringing',
  183: 'Session Progress',
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme',
  420: 'Bad Extension',
  422: 'Session Interval Too Small',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  483: 'Too Many Hops',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  489: 'Bad Event',
  491: 'Request Pending',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  504: 'Server Time-out',
  505: 'Version Not Supported',
  603: 'Decline',
}

/** Header names whose registered spelling the `sip` package's capitalising would miss (RFC 3262, 4028). */
const SPELLING: Readonly<Record<string, string>> = { rseq: 'RSeq', rack: 'RAck', 'min-se': 'Min-SE' }

/**
 * The wire bytes of a message. Content-Length is always written and always equals the body's
 * octet count (the message itself is not modified). Throws on a message that cannot be sent
 * as it stands: a line break inside a header value, or characters beyond latin1 (text must
 * be encoded to bytes and carried as a latin1 string, as types.ts says).
 */
export function serialize(m: SipMessage): Buffer {
  const content = m.content ?? ''
  const headers: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(m.headers)) headers[typeof value === 'string' ? (SPELLING[name] ?? name) : name] = value
  const copy = { ...m, content, headers: { ...headers, 'content-length': content.length } }
  if (hasLineBreak(copy.headers) || hasLineBreak('method' in m ? m.uri : m.reason)) {
    throw new Error('SIP header value contains CR or LF')
  }
  const s = sip.stringify(copy)
  if (/[^\x00-\xff]/.test(s)) throw new Error('SIP message has characters beyond latin1')
  return Buffer.from(s, 'latin1')
}

function hasLineBreak(v: unknown): boolean {
  if (typeof v === 'string') return /[\r\n]/.test(v)
  if (v && typeof v === 'object') return Object.values(v).some(hasLineBreak)
  return false
}

export interface ResponseOptions {
  /** Added to To unless the request's To already has a tag (RFC 3261 §8.2.6.2). */
  toTag?: string
}

const COPIED = new Set(['via', 'from', 'to', 'call-id', 'cseq'])

/**
 * A response to `rq` (RFC 3261 §8.2.6): Via (all, in order), From, To, Call-ID and CSeq
 * copied, no body. `extra` adds headers by name (any case; written as raw values) and may
 * not replace the copied ones. For a RejectedRequest the response carries only the headers
 * that could be salvaged (RFC 4475 §3.3.1 has no From, To or Call-ID); it is meant to be
 * serialized and sent, nothing more.
 */
export function makeResponse(
  rq: SipRequest | RejectedRequest,
  status: number,
  reason?: string,
  extra?: Record<string, string>,
  opts: ResponseOptions = {},
): SipResponse {
  if (!Number.isInteger(status) || status < 100 || status > 699) throw new RangeError(`invalid SIP status code ${status}`)
  const h = rq.headers
  const to = h.to && copyAddr(h.to)
  if (to && opts.toTag && !to.params.tag) to.params.tag = opts.toTag
  const headers: Record<string, unknown> = {
    via: h.via.map((v) => ({ ...v, params: { ...v.params } })),
    from: h.from && copyAddr(h.from),
    to,
    'call-id': h['call-id'],
    cseq: { ...h.cseq },
  }
  // A response that sets up a dialog carries the request's Record-Route back (RFC 3261 12.1.1):
  // without it a record-routing proxy (Kamailio before the instances) never sees the ACK or BYE.
  const rr = (h as Partial<SipHeaders>)['record-route']
  if (rr && status > 100 && status < 300 && (h.cseq.method === 'INVITE' || h.cseq.method === 'SUBSCRIBE')) headers['record-route'] = rr
  for (const [name, value] of Object.entries(extra ?? {})) {
    const key = name.toLowerCase()
    if (COPIED.has(key)) throw new Error(`makeResponse: ${name} is copied from the request, not set`)
    headers[key] = value
  }
  headers['content-length'] = 0
  return { status, reason: reason ?? REASON_PHRASES[status] ?? '', version: '2.0', headers: headers as SipHeaders, content: '' }
}

function copyAddr(a: NameAddr): NameAddr {
  return { ...a, params: { ...a.params } }
}
