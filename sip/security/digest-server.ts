import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { SipRequest } from '../message/types.ts'

/** Server side of SIP digest authentication (RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760):
 *  challenges with SHA-256 and MD5, qop=auth; verifies the Authorization of the retry. */

export type DigestAlgorithm = 'MD5' | 'SHA-256'

export interface DigestServerOptions {
  realm: string
  /** user name -> password */
  users: Map<string, string>
  /** How long a nonce is good for; a retry with an older one gets a new challenge with stale=true. */
  nonceTtlMs?: number
  /** Offered in this order (RFC 8760 §2.4: preferred first); responses in others are refused.
   *  Default SHA-256 then MD5. Some clients (SIPp 3.6) read only the first challenge. */
  algorithms?: DigestAlgorithm[]
  /** Tests pass their own clock. */
  now?: () => number
}

export type DigestVerdict =
  | { ok: true; user: string }
  | { ok: false; reason: 'missing' | 'malformed' | 'unknown-user' | 'bad-nonce' | 'stale' | 'replay' | 'bad-response' | 'unsupported'; stale: boolean }

/** A challenge as the `sip` package writes it: values are written as given, so quoted ones carry their quotes. */
export interface ChallengeHeader {
  scheme: string
  [param: string]: string
}

const unquote = (v: string | undefined) => (v && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1).replace(/\\(.)/g, '$1') : v)
const hash = (alg: DigestAlgorithm, s: string) =>
  createHash(alg === 'MD5' ? 'md5' : 'sha256')
    .update(s, 'latin1')
    .digest('hex')

/** The most nonces whose last nonce-count we remember (replay protection); the oldest go first. */
const MAX_TRACKED_NONCES = 20_000

export class DigestServer {
  readonly realm: string
  private readonly users: Map<string, string>
  private readonly ttlMs: number
  private readonly now: () => number
  private readonly algorithms: DigestAlgorithm[]
  /** Per-process secret: nonces are self-validating (no state per challenge, so a flood of
   *  INVITEs cannot fill memory with challenges), and die with the process. */
  private readonly secret = randomBytes(32)
  /** nonce -> highest nc seen: a response replayed with the same nc is refused. */
  private readonly counts = new Map<string, number>()

  constructor(opts: DigestServerOptions) {
    this.realm = opts.realm
    this.users = opts.users
    this.ttlMs = opts.nonceTtlMs ?? 300_000
    this.now = opts.now ?? Date.now
    this.algorithms = opts.algorithms?.length ? opts.algorithms : ['SHA-256', 'MD5']
  }

  get hasUsers(): boolean {
    return this.users.size > 0
  }

  private nonce(): string {
    const ts = this.now().toString(36)
    const salt = randomBytes(9).toString('base64url')
    const mac = createHmac('sha256', this.secret).update(`${ts}.${salt}`).digest('base64url').slice(0, 22)
    return `${ts}.${salt}.${mac}`
  }

  /** 'fresh', 'stale' (ours, expired), or 'forged' (not ours). */
  private checkNonce(nonce: string): 'fresh' | 'stale' | 'forged' {
    const [ts, salt, mac, extra] = nonce.split('.')
    if (!ts || !salt || !mac || extra !== undefined) return 'forged'
    const want = createHmac('sha256', this.secret).update(`${ts}.${salt}`).digest('base64url').slice(0, 22)
    if (mac.length !== want.length || !timingSafeEqual(Buffer.from(mac), Buffer.from(want))) return 'forged'
    const age = this.now() - parseInt(ts, 36)
    return age >= 0 && age <= this.ttlMs ? 'fresh' : 'stale'
  }

  /** WWW-Authenticate values for a 401, one per algorithm, preferred first (MD5 is for older phones). */
  challenge(stale = false): ChallengeHeader[] {
    const nonce = this.nonce()
    return this.algorithms.map((algorithm) => ({
      scheme: 'Digest',
      realm: `"${this.realm}"`,
      nonce: `"${nonce}"`,
      algorithm,
      qop: '"auth"',
      ...(stale ? { stale: 'true' } : {}),
    }))
  }

  /** Checks the request's Authorization for our realm. */
  verify(rq: SipRequest): DigestVerdict {
    const fail = (reason: Exclude<DigestVerdict, { ok: true }>['reason'], stale = false): DigestVerdict => ({ ok: false, reason, stale })
    const all = rq.headers.authorization
    if (!Array.isArray(all) || !all.length) return fail('missing')
    const creds = (all as Array<Record<string, string>>).find((a) => /^digest$/i.test(a.scheme ?? '') && unquote(a.realm) === this.realm)
    if (!creds) return fail('missing')
    const user = unquote(creds.username)
    const nonce = unquote(creds.nonce)
    const uri = unquote(creds.uri)
    const response = unquote(creds.response)?.toLowerCase()
    const algorithm = (unquote(creds.algorithm) ?? 'MD5').toUpperCase()
    const qop = unquote(creds.qop)
    const nc = unquote(creds.nc)
    const cnonce = unquote(creds.cnonce)
    if (!user || !nonce || !uri || !response) return fail('malformed')
    if (!(this.algorithms as string[]).includes(algorithm)) return fail('unsupported')
    // We offer qop=auth only: nc and cnonce are what stops a captured response being replayed.
    if (qop !== 'auth' || !nc || !/^[0-9a-f]{8}$/i.test(nc) || !cnonce) return fail('unsupported')
    // The digest covers the client's uri. Some clients (SIPp) write the host without the user
    // part, so the host and port must match the Request-URI's; replays are stopped by nc.
    if (uriHost(uri) !== uriHost(rq.uri)) return fail('malformed')
    const password = this.users.get(user)
    if (password === undefined) return fail('unknown-user')
    const alg = algorithm as DigestAlgorithm
    const ha1 = hash(alg, `${user}:${this.realm}:${password}`)
    const ha2 = hash(alg, `${rq.method}:${uri}`)
    const want = hash(alg, `${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`)
    const good = want.length === response.length && timingSafeEqual(Buffer.from(want), Buffer.from(response))
    const state = this.checkNonce(nonce)
    if (state === 'forged') return fail('bad-nonce')
    if (!good) return fail('bad-response')
    // right password, old nonce: the client retries with a new one without asking its user (RFC 2617 §3.2.1)
    if (state === 'stale') return fail('stale', true)
    const count = parseInt(nc, 16)
    const last = this.counts.get(nonce) ?? 0
    if (count <= last) return fail('replay')
    this.remember(nonce, count)
    return { ok: true, user }
  }

  private remember(nonce: string, count: number): void {
    this.counts.delete(nonce)
    this.counts.set(nonce, count)
    if (this.counts.size <= MAX_TRACKED_NONCES) return
    // Map keeps insertion order: drop the oldest, and any whose nonce has expired anyway
    for (const n of this.counts.keys()) {
      if (this.counts.size <= MAX_TRACKED_NONCES && this.checkNonce(n) === 'fresh') break
      this.counts.delete(n)
    }
  }
}

/** "alice:secret,bob:pa:ss" -> Map (the first colon splits; a password may hold colons, not commas). */
export function parseUsers(spec: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const part of spec
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const i = part.indexOf(':')
    if (i <= 0 || i === part.length - 1) throw new Error(`"${part.replace(/:.*/, ':...')}" is not user:password`)
    out.set(part.slice(0, i), part.slice(i + 1))
  }
  return out
}

/** "SHA-256,MD5" -> the algorithms in that order; throws on others. */
export function parseAlgorithms(spec: string): DigestAlgorithm[] {
  const out = spec
    .split(',')
    .map((a) => a.trim().toUpperCase())
    .filter(Boolean)
  for (const a of out) if (a !== 'MD5' && a !== 'SHA-256') throw new Error(`unknown digest algorithm "${a}" (MD5, SHA-256)`)
  if (!out.length) throw new Error('name at least one digest algorithm')
  return out as DigestAlgorithm[]
}

/** "sip:alice@Host:5060;transport=udp" -> "host:5060" */
function uriHost(uri: string): string {
  return (/^[a-z]+:(?:[^@]*@)?([^;?>]*)/i.exec(uri)?.[1] ?? uri).toLowerCase()
}
