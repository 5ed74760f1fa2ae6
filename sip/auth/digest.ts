// SIP digest authentication, client side (RFC 3261 §22 on RFC 2617, RFC 7616 for SHA-256 and
// RFC 8760 for its use in SIP). Hand-written on node:crypto rather than taken from npm: the npm
// digest packages are HTTP fetch wrappers (they want a URL and a fetch, not a SIP method and
// Request-URI), and the whole computation is a dozen lines.
import { createHash, randomBytes } from 'node:crypto'

export type DigestAlgorithm = 'MD5' | 'SHA-256'

/** A WWW-Authenticate / Proxy-Authenticate challenge, parameters as received. */
export interface DigestChallenge {
  realm: string
  nonce: string
  algorithm: DigestAlgorithm
  opaque?: string
  /** The qop options offered ("auth", "auth-int"); empty for an RFC 2069 style challenge. */
  qop: string[]
  /** The previous Authorization was right but its nonce had expired (RFC 2617 §3.2.1). */
  stale: boolean
}

export interface DigestCredentials {
  username: string
  password: string
}

/** Splits `a=b, c="d, e"` into lower-cased keys and unquoted values. */
function parseParams(s: string): Record<string, string> {
  const out: Record<string, string> = {}
  const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g
  for (let m = re.exec(s); m; m = re.exec(s)) out[m[1].toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]
  return out
}

/**
 * Reads one challenge header value. Returns null for a scheme other than Digest or an
 * algorithm we do not implement (MD5-sess, SHA-512-256): the caller tries the next header.
 */
export function parseChallenge(header: string | Record<string, string>): DigestChallenge | null {
  let p: Record<string, string>
  if (typeof header === 'string') {
    const m = /^\s*Digest\s+(.*)$/is.exec(header)
    if (!m) return null
    p = parseParams(m[1])
  } else {
    // As sip/message/parse.ts gives it: { scheme, name: value with its quotes kept }.
    if (String(header.scheme).toLowerCase() !== 'digest') return null
    p = {}
    for (const [k, v] of Object.entries(header)) p[k.toLowerCase()] = /^".*"$/s.test(v) ? v.slice(1, -1).replace(/\\(.)/g, '$1') : v
  }
  if (p.realm === undefined || !p.nonce) return null
  const alg = (p.algorithm ?? 'MD5').toUpperCase()
  if (alg !== 'MD5' && alg !== 'SHA-256') return null
  return {
    realm: p.realm,
    nonce: p.nonce,
    algorithm: alg,
    ...(p.opaque !== undefined && { opaque: p.opaque }),
    qop: (p.qop ?? '')
      .split(',')
      .map((q) => q.trim().toLowerCase())
      .filter(Boolean),
    stale: (p.stale ?? '').toLowerCase() === 'true',
  }
}

/** The first usable challenge among the values of a (Proxy-|WWW-)Authenticate header; SHA-256 preferred (RFC 8760 §2.4). */
export function pickChallenge(values: unknown): DigestChallenge | null {
  const list = (Array.isArray(values) ? values : values === undefined ? [] : [values]) as Array<string | Record<string, string>>
  const parsed = list.map((v) => parseChallenge(typeof v === 'object' && v ? v : String(v))).filter((c): c is DigestChallenge => c !== null)
  return parsed.find((c) => c.algorithm === 'SHA-256') ?? parsed[0] ?? null
}

const hash = (alg: DigestAlgorithm, s: string) =>
  createHash(alg === 'MD5' ? 'md5' : 'sha256')
    .update(s, 'latin1')
    .digest('hex')

export interface DigestInput {
  challenge: DigestChallenge
  credentials: DigestCredentials
  method: string
  uri: string
  /** Nonce count for qop=auth, 1 for the first use of a nonce. */
  nc?: number
  /** Client nonce; random when not given (tests pass the RFC's). */
  cnonce?: string
}

export interface DigestResponse {
  response: string
  /** The header value: `Digest username="...", ...`. */
  header: string
  /** The same as sip/message/serialize.ts writes it: { scheme, name: value as written }. */
  params: Record<string, string>
}

/** The digest response (RFC 2617 §3.2.2.1, RFC 7616 §3.4.1), qop=auth when offered. */
export function digestResponse(input: DigestInput): DigestResponse {
  const { challenge: c, credentials, method, uri } = input
  const ha1 = hash(c.algorithm, `${credentials.username}:${c.realm}:${credentials.password}`)
  const ha2 = hash(c.algorithm, `${method}:${uri}`)
  // auth-int would need the body's hash; we ask for plain auth, which every registrar offers with it.
  const qop = c.qop.includes('auth') ? 'auth' : undefined
  const nc = (input.nc ?? 1).toString(16).padStart(8, '0')
  const cnonce = input.cnonce ?? randomBytes(12).toString('hex')
  const response = qop ? hash(c.algorithm, `${ha1}:${c.nonce}:${nc}:${cnonce}:${qop}:${ha2}`) : hash(c.algorithm, `${ha1}:${c.nonce}:${ha2}`)
  const q = (s: string) => `"${s.replace(/["\\]/g, '\\$&')}"`
  const params: Record<string, string> = {
    username: q(credentials.username),
    realm: q(c.realm),
    nonce: q(c.nonce),
    uri: q(uri),
    response: q(response),
    algorithm: c.algorithm,
    ...(c.opaque !== undefined && { opaque: q(c.opaque) }),
    ...(qop && { qop, nc, cnonce: q(cnonce) }),
  }
  const header = `Digest ${Object.entries(params)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ')}`
  return { response, header, params: { scheme: 'Digest', ...params } }
}

/**
 * One set of credentials answering challenges for one peer: remembers the nonce to count nc,
 * and says when a second challenge means the password is wrong (not stale).
 */
export class DigestSession {
  private nonce = ''
  private nc = 0
  private last: { challenge: DigestChallenge; proxy: boolean } | undefined

  /** `realm`: when set, challenges from any other realm are not answered. */
  constructor(
    private readonly credentials: DigestCredentials,
    private readonly realm = '',
  ) {}

  /**
   * Credentials for the next request from the last challenge (its nonce, nc counted on), so a
   * refresh need not be challenged again; null before any challenge. A registrar that has
   * retired the nonce answers 401 with stale=true, which `answer` handles.
   */
  preemptive(method: string, uri: string): { name: 'authorization' | 'proxy-authorization'; value: Record<string, string> } | null {
    if (!this.last) return null
    this.nc += 1
    const { params } = digestResponse({ challenge: this.last.challenge, credentials: this.credentials, method, uri, nc: this.nc })
    return { name: this.last.proxy ? 'proxy-authorization' : 'authorization', value: params }
  }

  /**
   * The header (name and value) answering a 401/407, or null when the challenge cannot be
   * answered: no usable Digest challenge, or the same credentials were just refused and the
   * nonce is not stale (retrying would only lock the account).
   */
  answer(
    res: { status: number; headers: Record<string, unknown> },
    method: string,
    uri: string,
    alreadyTried: boolean,
  ): { name: 'authorization' | 'proxy-authorization'; value: Record<string, string> } | null {
    const proxy = res.status === 407
    const challenge = pickChallenge(res.headers[proxy ? 'proxy-authenticate' : 'www-authenticate'])
    if (!challenge) return null
    if (this.realm && challenge.realm !== this.realm) return null
    if (alreadyTried && !challenge.stale) return null
    this.last = { challenge, proxy }
    if (challenge.nonce !== this.nonce) {
      this.nonce = challenge.nonce
      this.nc = 0
    }
    this.nc += 1
    const { params } = digestResponse({ challenge, credentials: this.credentials, method, uri, nc: this.nc })
    // A list, as the serializer writes these headers (one line per credentials).
    return { name: proxy ? 'proxy-authorization' : 'authorization', value: params }
  }
}
