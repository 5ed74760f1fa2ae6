// Strict SIP message parsing (RFC 3261 §7, §18.3, §19, §20, §25; RFC 4475; RFC 5118).
//
// The `sip` package's parser is too lax to sit on a network edge: it swallows header errors,
// accepts broken start lines, unescapes header names and methods (RFC 4475 §3.1.1.5), and
// reads IPv6 Via hosts as "[2001" with the branch lost. So parsing is done here, producing
// the same data shapes the package produces (and its stringify writes back); see types.ts.

import { isIPv4, isIPv6 } from 'node:net'
import { isRequest } from './types.ts'
import type { CSeq, DropOutcome, NameAddr, Params, ParseOutcome, RejectedRequest, RejectOutcome, SipHeaders, SipMessage, SipUri, Via } from './types.ts'

export type { DropOutcome, MessageOutcome, ParseOutcome, RejectOutcome } from './types.ts'

/** Larger datagrams are dropped unread. */
export const MAX_MESSAGE = 64 * 1024

/**
 * A header section (start line and header fields, without the empty line) parsed and
 * validated. `contentLength` is the framing length when the section names exactly one
 * well-formed Content-Length, even for a broken message, so a stream can skip its body.
 */
export type HeadResult =
  | { kind: 'head'; message: SipMessage; contentLength: number | undefined }
  | { kind: 'bad'; outcome: RejectOutcome | DropOutcome; contentLength: number | undefined }

/** Parse one UDP datagram. Never throws. */
export function parseDatagram(buf: Buffer): ParseOutcome {
  if (buf.length > MAX_MESSAGE) return drop('message exceeds 64 KiB')
  const s = buf.toString('latin1')
  let start = 0
  while (s.startsWith('\r\n', start)) start += 2
  if (start === s.length) return drop('keep-alive')
  const end = s.indexOf('\r\n\r\n', start)
  const head = parseHead(end < 0 ? s.slice(start).replace(/\r\n$/, '') : s.slice(start, end))
  if (head.kind === 'bad') return head.outcome
  const m = head.message
  if (end < 0) return refuse(m, 'no empty line after the header section')
  const body = s.slice(end + 4)
  const length = head.contentLength
  // §18.3: over UDP a missing Content-Length means "the rest of the datagram", a longer
  // datagram is cut at Content-Length (RFC 4475 §3.1.1.8), and a shorter one is an error.
  if (length !== undefined && body.length < length) return refuse(m, 'body shorter than Content-Length')
  m.content = length === undefined ? body : body.slice(0, length)
  return { kind: 'message', message: m }
}

/** The outcome for a message whose header section was sound but cannot be delivered. */
export function refuse(m: SipMessage, reason: string): RejectOutcome | DropOutcome {
  if (!isRequest(m)) return drop(reason)
  return { kind: 'reject', status: 400, reason, request: m }
}

/** Parse and validate a header section (start line and header lines, CRLF-separated). Never throws. */
export function parseHead(head: string): HeadResult {
  try {
    return parseHeadOrThrow(head)
  } catch (err) {
    return { kind: 'bad', outcome: drop(`parser error: ${err instanceof Error ? err.message : String(err)}`), contentLength: undefined }
  }
}

/** A strict SIP or SIPS URI parse (IPv6 references included); undefined when invalid. */
export function parseSipUri(s: string): SipUri | undefined {
  try {
    return sipUri(s)
  } catch (err) {
    if (err instanceof Invalid) return undefined
    throw err
  }
}

// ---- header section -------------------------------------------------------------------

/** A validation failure; its message is the reason given back. */
class Invalid extends Error {}

function fail(reason: string): never {
  throw new Invalid(reason)
}

function drop(reason: string): DropOutcome {
  return { kind: 'drop', reason }
}

interface Field {
  /** Lower-case, compact forms expanded. */
  name: string
  /** Unfolded and trimmed. */
  value: string
}

const TOKEN = /[A-Za-z0-9.!%*_+`'~-]+/y
const TOKEN_ONLY = /^[A-Za-z0-9.!%*_+`'~-]+$/
const STATUS_LINE = /^SIP\/(\d+\.\d+) (\d{3})(?: (.*))?$/is
// Recognises a request line however badly spaced, so the request can be answered 400.
const LOOSE_REQUEST_LINE = /^(\S+)[ \t]+(\S(?:.*\S)?)[ \t]+SIP\/(\d+\.\d+)[ \t]*$/is
const REQUEST_LINE = /^[A-Za-z0-9.!%*_+`'~-]+ [^ \t]+ SIP\/\d+\.\d+$/i

// RFC 3261 §7.3.3 plus the registered compact forms of later RFCs.
const COMPACT = new Map(
  Object.entries({
    a: 'accept-contact',
    b: 'referred-by',
    c: 'content-type',
    d: 'request-disposition',
    e: 'content-encoding',
    f: 'from',
    i: 'call-id',
    j: 'reject-contact',
    k: 'supported',
    l: 'content-length',
    m: 'contact',
    n: 'identity-info',
    o: 'event',
    r: 'refer-to',
    s: 'subject',
    t: 'to',
    u: 'allow-events',
    v: 'via',
    x: 'session-expires',
    y: 'identity',
  }),
)

// The methods of RFC 3261 and its registered extensions. A request with any other method
// is answered 501 by the user agent whatever its CSeq says, and RFC 4475 §3.1.2.18 prefers
// that 501 to a 400 for the CSeq mismatch, so the mismatch check is kept to these.
const KNOWN_METHODS = new Set([
  'INVITE',
  'ACK',
  'BYE',
  'CANCEL',
  'OPTIONS',
  'REGISTER',
  'PRACK',
  'SUBSCRIBE',
  'NOTIFY',
  'PUBLISH',
  'INFO',
  'REFER',
  'MESSAGE',
  'UPDATE',
])

function parseHeadOrThrow(head: string): HeadResult {
  const lines = head.split('\r\n')
  const start = lines[0]
  const { fields, error } = splitFields(lines)
  const contentLength = framingLength(fields)
  const bad = (outcome: RejectOutcome | DropOutcome): HeadResult => ({ kind: 'bad', outcome, contentLength })

  if (/^SIP\//i.test(start)) {
    const sl = STATUS_LINE.exec(start)
    if (!sl || /[\r\n]/.test(start)) return bad(drop('malformed Status-Line'))
    const status = Number(sl[2])
    if (sl[1] !== '2.0') return bad(drop(`SIP/${sl[1]} response`))
    if (status < 100 || status > 699) return bad(drop('status code out of range'))
    try {
      if (error) fail(error)
      const message = { status, reason: sl[3] ?? '', version: '2.0', headers: buildHeaders(fields), content: '' }
      return { kind: 'head', message, contentLength }
    } catch (err) {
      if (err instanceof Invalid) return bad(drop(err.message))
      throw err
    }
  }

  const rl = LOOSE_REQUEST_LINE.exec(start)
  if (!rl || /[\r\n]/.test(start)) return { kind: 'bad', outcome: drop('not a SIP message'), contentLength: undefined }
  const [, method, uri, version] = rl
  const reject = (status: 400 | 505, reason: string): HeadResult => {
    const request = salvage(method, uri, version, fields)
    return bad(request ? { kind: 'reject', status, reason, request } : drop(`${reason}; no Via or CSeq to answer`))
  }
  // A message in another version cannot be checked against the 2.0 grammar: answer 505 first.
  if (version !== '2.0') return reject(505, `SIP/${version} is not supported`)
  try {
    if (error) fail(error)
    if (!REQUEST_LINE.test(start)) fail('malformed Request-Line (spacing or whitespace in the Request-URI)')
    labelled('Request-URI', () => requestUri(uri))
    const headers = buildHeaders(fields)
    if (KNOWN_METHODS.has(method) && headers.cseq.method !== method) fail('CSeq method does not match the request method')
    return { kind: 'head', message: { method, uri, version, headers, content: '' }, contentLength }
  } catch (err) {
    if (err instanceof Invalid) return reject(400, err.message)
    throw err
  }
}

/** Unfold the header lines into fields; a broken line is left out and reported as `error`. */
function splitFields(lines: string[]): { fields: Field[]; error?: string } {
  const logical: string[] = []
  let error: string | undefined
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]
    if (line[0] === ' ' || line[0] === '\t') {
      // §7.3.1: a continuation line is part of the previous field; the start line has none.
      if (logical.length) logical[logical.length - 1] += line
      else error ??= 'folded line right after the start line'
    } else {
      logical.push(line)
    }
  }
  const fields: Field[] = []
  for (const line of logical) {
    const m = /^([^: \t]*)[ \t]*:(.*)$/s.exec(line)
    if (/[\r\n]/.test(line)) error ??= 'bare CR or LF in the header section'
    else if (!m) error ??= line.includes(':') ? 'header name is not a token' : 'header line without a colon'
    else if (!TOKEN_ONLY.test(m[1])) error ??= 'header name is not a token'
    else {
      const name = m[1].toLowerCase()
      fields.push({ name: COMPACT.get(name) ?? name, value: m[2].replace(/^[ \t]+|[ \t]+$/g, '') })
    }
  }
  return { fields, error }
}

function framingLength(fields: Field[]): number | undefined {
  const cl = fields.filter((f) => f.name === 'content-length')
  return cl.length === 1 ? contentLengthValue(cl[0].value) : undefined
}

function contentLengthValue(v: string): number | undefined {
  return /^\d+$/.test(v) ? Number(v) : undefined
}

const PRETTY: Record<string, string> = {
  via: 'Via',
  from: 'From',
  to: 'To',
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  contact: 'Contact',
  route: 'Route',
  'record-route': 'Record-Route',
  path: 'Path',
  'refer-to': 'Refer-To',
  'max-forwards': 'Max-Forwards',
  'content-length': 'Content-Length',
  authorization: 'Authorization',
  'proxy-authorization': 'Proxy-Authorization',
  'www-authenticate': 'WWW-Authenticate',
  'proxy-authenticate': 'Proxy-Authenticate',
  'authentication-info': 'Authentication-Info',
}

// §20: headers that must appear at most once, and those every message must carry.
const SINGLE = ['from', 'to', 'call-id', 'cseq', 'max-forwards', 'content-length']
const REQUIRED = ['via', 'from', 'to', 'call-id', 'cseq']

type Parser = (c: Cursor, prev: unknown) => unknown

const PARSERS = new Map<string, Parser>(
  Object.entries({
    via: (c, prev) => append(prev, list(c, via)),
    from: (c) => single(c, (c) => nameAddr(c, true)),
    to: (c) => single(c, (c) => nameAddr(c, true)),
    'refer-to': (c) => single(c, (c) => nameAddr(c, true)),
    contact: (c, prev) => {
      if (c.s === '*') {
        if (prev !== undefined) fail('* must be the only Contact')
        return '*'
      }
      if (prev === '*') fail('* must be the only Contact')
      return append(
        prev,
        list(c, (c) => nameAddr(c, true)),
      )
    },
    route: (c, prev) =>
      append(
        prev,
        list(c, (c) => nameAddr(c, false)),
      ),
    'record-route': (c, prev) =>
      append(
        prev,
        list(c, (c) => nameAddr(c, false)),
      ),
    path: (c, prev) =>
      append(
        prev,
        list(c, (c) => nameAddr(c, false)),
      ),
    'call-id': (c) => (/^[\x21-\x7e]+$/.test(c.s) ? c.s : fail('must be visible ASCII without spaces')),
    cseq: (c) => cseq(c.s),
    'max-forwards': (c) => (/^\d+$/.test(c.s) ? c.s : fail('not a number')),
    'content-length': (c) => contentLengthValue(c.s) ?? fail('not a non-negative number'),
    authorization: (c, prev) => append(prev, list(c, credentials)),
    'proxy-authorization': (c, prev) => append(prev, list(c, credentials)),
    'www-authenticate': (c, prev) => append(prev, list(c, credentials)),
    'proxy-authenticate': (c, prev) => append(prev, list(c, credentials)),
    'authentication-info': (c) => single(c, (c) => authParams(c, dict())),
  } satisfies Record<string, Parser>),
)

/** Repeated list headers accumulate in order (§7.3.1). */
function append<T>(prev: unknown, items: T[]): T[] {
  if (prev === undefined) return items
  for (const item of items) (prev as T[]).push(item)
  return prev as T[]
}

function buildHeaders(fields: Field[]): SipHeaders {
  const counts = new Map<string, number>()
  for (const f of fields) counts.set(f.name, (counts.get(f.name) ?? 0) + 1)
  for (const n of SINGLE) if ((counts.get(n) ?? 0) > 1) fail(`more than one ${PRETTY[n]}`)
  const missing = REQUIRED.filter((n) => !counts.get(n))
  if (missing.length) fail(`missing ${missing.map((n) => PRETTY[n]).join(', ')}`)

  // No prototype: header names come off the wire.
  const headers = dict<unknown>()
  for (const f of fields) {
    const parse = PARSERS.get(f.name)
    if (!parse) {
      // As the `sip` package does: unknown headers stay raw, repeats joined with commas.
      headers[f.name] = f.name in headers ? `${headers[f.name] as string},${f.value}` : f.value
      continue
    }
    headers[f.name] = labelled(PRETTY[f.name], () => parse(new Cursor(f.value), headers[f.name]))
  }
  return headers as SipHeaders
}

function labelled<T>(label: string, parse: () => T): T {
  try {
    return parse()
  } catch (err) {
    if (err instanceof Invalid) fail(`${label}: ${err.message}`)
    throw err
  }
}

function cseq(v: string): CSeq {
  const m = /^(\d+)[ \t]+([A-Za-z0-9.!%*_+`'~-]+)$/.exec(v) ?? fail('must be a number and a method')
  const digits = m[1].replace(/^0+(?=\d)/, '')
  // §8.1.1.5: the sequence number is a 32-bit unsigned integer (RFC 4475 §3.1.2.4).
  if (digits.length > 10 || Number(digits) > 0xffffffff) fail('number exceeds 2**32-1')
  return { seq: Number(digits), method: m[2] }
}

// ---- lexical helpers ----------------------------------------------------------------------

function dict<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>
}

class Cursor {
  i = 0
  constructor(readonly s: string) {}

  get done(): boolean {
    return this.i >= this.s.length
  }

  /** The character here (a method, so checks across moves are not narrowed away). */
  ch(): string | undefined {
    return this.s[this.i]
  }

  /** Match a sticky regex here and move past it. */
  take(re: RegExp): string | undefined {
    re.lastIndex = this.i
    const m = re.exec(this.s)
    if (!m) return undefined
    this.i = re.lastIndex
    return m[0]
  }

  /** Skip SP and HTAB (folding is already undone); true if any were skipped. */
  ws(): boolean {
    const from = this.i
    while (this.s[this.i] === ' ' || this.s[this.i] === '\t') this.i++
    return this.i > from
  }

  expect(ch: string, reason: string): void {
    if (this.s[this.i] !== ch) fail(reason)
    this.i++
  }
}

// qdtext and quoted-pair of §25.1; bytes 0x80-0xFF are UTF-8 octets read as latin1.
const QUOTED = /"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\x00-\x09\x0b\x0c\x0e-\x7f])*"/y
// gen-value = token / host / quoted-string; the colon admits RFC 5118 §4.5 received=IPv6.
const PARAM_VALUE = /[A-Za-z0-9.!%*_+`'~:[\]-]+/y
const DISPLAY_TOKENS = /[A-Za-z0-9.!%*_+`'~-]+(?:[ \t]+[A-Za-z0-9.!%*_+`'~-]+)*/y

function list<T>(c: Cursor, item: (c: Cursor) => T): T[] {
  const out: T[] = []
  for (;;) {
    out.push(item(c))
    c.ws()
    if (c.done) return out
    c.expect(',', 'unexpected text after a value')
  }
}

function single<T>(c: Cursor, item: (c: Cursor) => T): T {
  const v = item(c)
  c.ws()
  if (!c.done) fail('unexpected text after the value')
  return v
}

/** `*( SEMI param )`, names lower-cased, values as written (quotes kept), null when valueless. */
function params(c: Cursor): Params {
  const out = dict<string | null>()
  for (;;) {
    const at = c.i
    c.ws()
    if (c.ch() !== ';') {
      c.i = at
      return out
    }
    c.i++
    c.ws()
    const name = c.take(TOKEN) ?? fail('empty or malformed parameter')
    const afterName = c.i
    c.ws()
    if (c.ch() === '=') {
      c.i++
      c.ws()
      out[name.toLowerCase()] = c.ch() === '"' ? quoted(c) : (c.take(PARAM_VALUE) ?? fail('parameter without a value'))
    } else {
      c.i = afterName
      out[name.toLowerCase()] = null
    }
  }
}

function quoted(c: Cursor): string {
  return c.take(QUOTED) ?? fail('unbalanced or invalid quoted string')
}

function host(c: Cursor): string {
  if (c.ch() === '[') {
    const ref = c.take(/\[[0-9A-Fa-f:.]*\]/y) ?? fail('malformed IPv6 reference')
    // Node's check is RFC 4291's, so the extra colon of RFC 5118 §4.10 is refused.
    if (!isIPv6(ref.slice(1, -1))) fail('invalid IPv6 address')
    return ref
  }
  const name = c.take(/[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?/y) ?? fail('missing or malformed host')
  if (/^[\d.]+$/.test(name) && !isIPv4(name)) fail('numeric host is not an IPv4 address (IPv6 needs [])')
  return name
}

function port(digits: string | undefined): number {
  if (digits === undefined || digits.length > 5 || Number(digits) > 65535) fail('invalid port')
  return Number(digits)
}

// ---- Via ----------------------------------------------------------------------------------

function via(c: Cursor): Via {
  c.ws()
  const name = c.take(TOKEN)
  c.ws()
  c.expect('/', 'malformed sent-protocol')
  c.ws()
  const version = c.take(TOKEN)
  c.ws()
  c.expect('/', 'malformed sent-protocol')
  c.ws()
  const transport = c.take(TOKEN) ?? fail('missing transport')
  if (name?.toUpperCase() !== 'SIP' || version !== '2.0') fail('sent-protocol is not SIP/2.0')
  if (!c.ws()) fail('no space before sent-by')
  const h = host(c)
  const at = c.i
  c.ws()
  let p: number | undefined
  if (c.ch() === ':') {
    c.i++
    c.ws()
    p = port(c.take(/\d+/y))
  } else {
    c.i = at
  }
  return { version: '2.0', protocol: transport.toUpperCase(), host: h, port: p, params: params(c) }
}

// ---- name-addr / addr-spec -----------------------------------------------------------------

function nameAddr(c: Cursor, addrSpecAllowed: boolean): NameAddr {
  c.ws()
  let name: string | undefined
  if (c.ch() === '"') {
    name = quoted(c)
    c.ws()
    if (c.ch() !== '<') fail('display name not followed by <URI>')
  } else {
    const at = c.i
    const tokens = c.take(DISPLAY_TOKENS)
    c.ws()
    // RFC 4475 §3.1.1.6: LWS before "<" is optional in practice.
    if (tokens !== undefined && c.ch() === '<') name = tokens
    else c.i = at
  }
  let uri: string
  if (c.ch() === '<') {
    c.i++
    uri = c.take(/[^>]*/y) ?? ''
    c.expect('>', 'missing >')
    if (/[\s<"]/.test(uri)) fail('whitespace or quotes inside <>')
  } else {
    if (!addrSpecAllowed) fail('URI must be enclosed in <>')
    if (c.ch() === ',' || c.ch() === ';' || c.done) fail('missing URI')
    // An addr-spec ends at the first ";": what follows are header parameters.
    uri = c.take(/[^\s;,]+/y) ?? fail('malformed display name or URI')
    // §20: a URI with a comma, question mark or semicolon must be in name-addr form.
    if (uri.includes('?')) fail('a URI with ? must be enclosed in <>')
  }
  anyUri(uri)
  return { name, uri, params: params(c) }
}

// ---- URIs -------------------------------------------------------------------------------

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/
// Any other scheme is opaque here; the user agent decides whether it wants it (416).
const ABSOLUTE_URI = /^[A-Za-z][A-Za-z0-9+.-]*:[\x21\x23-\x3b\x3d\x3f-\x7e]+$/
const ESCAPED = '%[0-9A-Fa-f]{2}'
const USER = new RegExp(`^(?:[A-Za-z0-9\\-_.!~*'()&=+$,;?/]|${ESCAPED})+$`)
const PASSWORD = new RegExp(`^(?:[A-Za-z0-9\\-_.!~*'()&=+$,]|${ESCAPED})*$`)
const URI_PARAM = new RegExp(`^(?:[A-Za-z0-9\\-_.!~*'()[\\]/:&+$]|${ESCAPED})+$`)
const URI_HEADER = new RegExp(`^(?:[A-Za-z0-9\\-_.!~*'()[\\]/?:+$]|${ESCAPED})*$`)

function anyUri(s: string): void {
  if (/^sips?:/i.test(s)) sipUri(s)
  else if (!ABSOLUTE_URI.test(s)) fail('invalid URI')
}

function requestUri(s: string): void {
  if (!SCHEME.test(s)) fail('not a URI')
  if (!/^sips?:/i.test(s)) return anyUri(s)
  // §19.1.1: headers are not allowed in a Request-URI (RFC 4475 §3.1.2.11).
  if (Object.keys(sipUri(s).headers).length) fail('headers are not allowed here')
}

function sipUri(s: string): SipUri {
  const scheme = /^(sips?):/i.exec(s) ?? fail('not a SIP URI')
  let rest = s.slice(scheme[0].length)
  let user: string | undefined
  let password: string | undefined
  // "@" appears nowhere after the userinfo, which itself may hold "?", ";" and "/".
  const at = rest.indexOf('@')
  if (at >= 0) {
    const userinfo = rest.slice(0, at)
    const colon = userinfo.indexOf(':')
    user = colon < 0 ? userinfo : userinfo.slice(0, colon)
    password = colon < 0 ? undefined : userinfo.slice(colon + 1)
    if (!USER.test(user) || (password !== undefined && !PASSWORD.test(password))) fail('malformed userinfo in URI')
    rest = rest.slice(at + 1)
  }
  const c = new Cursor(rest)
  const h = host(c)
  let p: number | undefined
  if (c.ch() === ':') {
    c.i++
    p = port(c.take(/\d+/y))
  }
  const uriParams = dict<string | null>()
  while (c.ch() === ';') {
    c.i++
    const param = c.take(/[^;?]*/y) ?? ''
    const eq = param.indexOf('=')
    const name = eq < 0 ? param : param.slice(0, eq)
    const value = eq < 0 ? null : param.slice(eq + 1)
    if (!URI_PARAM.test(name) || (value !== null && !URI_PARAM.test(value))) fail('empty or malformed URI parameter')
    uriParams[name] = value
  }
  const headers = dict<string>()
  if (c.ch() === '?') {
    for (const pair of c.s.slice(c.i + 1).split('&')) {
      const eq = pair.indexOf('=')
      if (eq < 1 || !URI_HEADER.test(pair.slice(0, eq)) || !URI_HEADER.test(pair.slice(eq + 1))) fail('malformed URI header')
      headers[pair.slice(0, eq)] = pair.slice(eq + 1)
    }
    c.i = c.s.length
  }
  if (!c.done) fail('unexpected character in URI')
  return { schema: scheme[1].toLowerCase(), user, password, host: h, port: p, params: uriParams, headers }
}

// ---- authentication -------------------------------------------------------------------------

// The `sip` package's shape: { scheme, name: value as written }. Values outside the grammar
// (unquoted URIs from sloppy clients) are read as the package reads them.
const AUTH_VALUE = /[^\s,"]+/y
const NEXT_AUTH_PARAM = /[ \t]*,[ \t]*[A-Za-z0-9.!%*_+`'~-]+[ \t]*=/y

function credentials(c: Cursor): Record<string, string> {
  c.ws()
  const scheme = c.take(TOKEN) ?? fail('missing scheme')
  if (!c.ws()) fail('scheme without parameters')
  const out = dict<string>()
  out.scheme = scheme
  return authParams(c, out)
}

function authParams(c: Cursor, into: Record<string, string>): Record<string, string> {
  for (;;) {
    c.ws()
    const name = c.take(TOKEN) ?? fail('malformed parameter')
    c.ws()
    c.expect('=', 'parameter without =')
    c.ws()
    into[name] = c.ch() === '"' ? quoted(c) : (c.take(AUTH_VALUE) ?? fail('parameter without a value'))
    // A comma either continues these parameters or starts the next challenge/credentials.
    NEXT_AUTH_PARAM.lastIndex = c.i
    if (!NEXT_AUTH_PARAM.test(c.s)) return into
    c.ws()
    c.i++
  }
}

// ---- salvage for a response to a broken request ------------------------------------------

const LOOSE_VIA = /^[ \t]*SIP[ \t]*\/[ \t]*([^\s/]+)[ \t]*\/[ \t]*([^\s/;,]+)[ \t]+(\[[0-9A-Fa-f:.]*\]|[^\s;:,[\]]+)(?:[ \t]*:[ \t]*(\d{1,5}))?([^,]*)/i

/**
 * What a 400/505 needs from a request that failed validation. Strict parses are used where
 * they succeed, loose ones otherwise; undefined when there is no Via or CSeq to answer with.
 */
function salvage(method: string, uri: string, version: string, fields: Field[]): RejectedRequest | undefined {
  const first = (name: string) => fields.find((f) => f.name === name)?.value
  const vias: Via[] = []
  for (const f of fields) if (f.name === 'via') vias.push(...(tryStrict(() => list(new Cursor(f.value), via)) ?? looseVias(f.value)))
  const cs = /^(\d+)[ \t]+(\S+)/.exec(first('cseq') ?? '')
  if (!vias.length || !cs) return undefined
  const headers: RejectedRequest['headers'] = { via: vias, cseq: { seq: Number(cs[1]), method: cs[2] } }
  for (const name of ['from', 'to'] as const) {
    const v = first(name)
    const aor = v === undefined ? undefined : (tryStrict(() => single(new Cursor(v), (c) => nameAddr(c, true))) ?? looseAddr(v))
    if (aor) headers[name] = aor
  }
  const callId = first('call-id')
  if (callId) headers['call-id'] = callId
  return { method, uri, version, headers }
}

function tryStrict<T>(parse: () => T): T | undefined {
  try {
    return parse()
  } catch (err) {
    if (err instanceof Invalid) return undefined
    throw err
  }
}

function looseVias(v: string): Via[] {
  const out: Via[] = []
  for (const part of v.split(',')) {
    const m = LOOSE_VIA.exec(part)
    // A transport that is not a token cannot be echoed: the sip package upper-cases it, and
    // 'ÿ' becomes U+0178, beyond latin1 (found by test/fuzz). Such a Via is left out.
    if (m && TOKEN_ONLY.test(m[2]))
      out.push({ version: m[1], protocol: m[2].toUpperCase(), host: m[3], port: m[4] ? Number(m[4]) : undefined, params: looseParams(m[5]) })
  }
  return out
}

/** URI and tag are what a client matches a response on; a broken display name is left out. */
function looseAddr(v: string): NameAddr | undefined {
  const lt = v.indexOf('<')
  const gt = v.indexOf('>', lt)
  const semi = v.indexOf(';')
  const [uri, rest] = lt >= 0 && gt > lt ? [v.slice(lt + 1, gt), v.slice(gt + 1)] : semi >= 0 ? [v.slice(0, semi), v.slice(semi)] : [v, '']
  return uri.trim() ? { uri: uri.trim(), params: looseParams(rest) } : undefined
}

function looseParams(s: string): Params {
  const out = dict<string | null>()
  for (const part of s.split(';')) {
    const m = /^[ \t]*([A-Za-z0-9.!%*_+`'~-]+)(?:[ \t]*=[ \t]*([^\s;,]+))?[ \t]*$/.exec(part)
    if (m) out[m[1].toLowerCase()] = m[2] ?? null
  }
  return out
}
