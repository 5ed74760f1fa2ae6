import type { Logger } from 'pino'
import type { Remote, SipRequest } from '../message/types.ts'
import type { ChallengeHeader, DigestServer } from './digest-server.ts'
import { RateLimiter, type RateLimitOptions } from './rate-limit.ts'
import type { TrustList } from './cidr.ts'

/** trusted-only: only trusted sources; auth: trusted sources, and others that pass digest
 *  authentication; open: anyone (for a lab; scanners, floods and call limits still apply). */
export type InboundMode = 'trusted-only' | 'auth' | 'open'

export type RefusalReason = 'untrusted' | 'call_limit_source' | 'call_limit_total' | 'draining' | 'at_capacity'

/** Counters the gate reports; the media server backs them with prom-client. */
export interface InboundStats {
  scannerDropped(): void
  /** 'banned': a source went over its rate and was banned; 'dropped': a request from a banned source. */
  rateLimited(action: 'banned' | 'dropped'): void
  authFailure(reason: string): void
  refused(reason: RefusalReason): void
}

export const NO_INBOUND_STATS: InboundStats = { scannerDropped() {}, rateLimited() {}, authFailure() {}, refused() {} }

export interface InboundGateOptions {
  mode: InboundMode
  trust: TrustList
  digest?: DigestServer
  isScanner: (userAgent: string) => boolean
  /** onBan: a source was banned here (the cluster shares it); see ban() for bans made elsewhere. */
  rate: Pick<RateLimitOptions, 'windowMs' | 'max' | 'banMs' | 'onBan'>
  /** Concurrent calls from one untrusted source (0: no limit), and from everyone (0: no limit). */
  maxCallsPerSource: number
  maxCalls: number
  /** Retry-After of a 503 (call limit, drain), in seconds. */
  retryAfterS: number
  /** Whether the media has room for one more call (free RTP ports); OPTIONS says 503 when not. */
  mediaHasRoom?: () => boolean
  logger: Logger
  stats?: InboundStats
}

/** A response instead of processing the request. */
export interface GateRefusal {
  status: number
  reason?: string
  headers?: Record<string, string>
  /** WWW-Authenticate values (a 401). */
  challenge?: ChallengeHeader[]
}

/**
 * What the SIP endpoint lets in, checked in the order that costs an attacker most and us least:
 * scanners and banned sources are dropped before a transaction exists (screen), new out-of-dialog
 * requests are checked for trust or credentials (authorize), and a new call for the limits (admitCall).
 */
export class InboundGate {
  /** Set by a drain: new calls and OPTIONS get 503, so a dispatcher sends elsewhere. */
  draining = false
  private readonly limiter: RateLimiter
  private readonly stats: InboundStats
  /** Admitted inbound calls: "call-id|from-tag" -> source address (undefined: trusted, no per-source limit). */
  private readonly calls = new Map<string, string | undefined>()
  private readonly perSource = new Map<string, number>()

  constructor(private readonly opts: InboundGateOptions) {
    this.limiter = new RateLimiter(opts.rate)
    this.stats = opts.stats ?? NO_INBOUND_STATS
  }

  get trust(): TrustList {
    return this.opts.trust
  }

  get mode(): InboundMode {
    return this.opts.mode
  }

  get bannedSources(): number {
    return this.limiter.banned
  }

  /** Bans an untrusted `source` for `ms` (a ban another instance made): its requests are dropped. */
  ban(source: string, ms: number): void {
    if (!this.opts.trust.match(source)) this.limiter.ban(source, ms)
  }

  get activeCalls(): number {
    return this.calls.size
  }

  /** Every request, retransmissions and ACKs included: false means drop it without a word. */
  screen(rq: SipRequest, remote: Remote): boolean {
    const ua = rq.headers['user-agent']
    if (typeof ua === 'string' && this.opts.isScanner(ua)) {
      this.stats.scannerDropped()
      this.opts.logger.debug({ remote: remote.address, ua }, 'SIP scanner dropped')
      return false
    }
    // Trusted peers (the trunks) are not rate limited: banning the trunk would be an outage we
    // did to ourselves; their volume is bounded by the call limits and by the trunk's channels.
    if (this.opts.trust.match(remote.address)) return true
    const verdict = this.limiter.hit(remote.address)
    if (verdict === 'ok') return true
    if (verdict === 'banned-now') {
      this.stats.rateLimited('banned')
      this.opts.logger.warn(
        { remote: remote.address, banS: this.opts.rate.banMs / 1000, max: this.opts.rate.max, windowS: this.opts.rate.windowMs / 1000 },
        'SIP source over its request rate: banned, its requests are dropped',
      )
    } else this.stats.rateLimited('dropped')
    return false
  }

  /** A new request outside any dialog (not ACK or CANCEL): null lets it through. */
  authorize(rq: SipRequest, remote: Remote): GateRefusal | null {
    const refusal = this.checkTrust(rq, remote)
    if (refusal) return refusal
    if (this.draining && (rq.method === 'INVITE' || rq.method === 'OPTIONS')) {
      this.stats.refused('draining')
      return { status: 503, reason: 'Draining', headers: { 'Retry-After': String(this.opts.retryAfterS) } }
    }
    // A dispatcher probing with OPTIONS takes a full instance out of rotation until it has room.
    if (rq.method === 'OPTIONS' && !this.hasRoom()) {
      this.stats.refused('at_capacity')
      return { status: 503, reason: 'At Capacity', headers: { 'Retry-After': String(this.opts.retryAfterS) } }
    }
    return null
  }

  private hasRoom(): boolean {
    if (this.opts.maxCalls > 0 && this.calls.size >= this.opts.maxCalls) return false
    return this.opts.mediaHasRoom?.() ?? true
  }

  private checkTrust(rq: SipRequest, remote: Remote): GateRefusal | null {
    const { mode, digest } = this.opts
    if (mode === 'open' || this.opts.trust.match(remote.address)) return null
    if (mode === 'trusted-only' || !digest?.hasUsers) {
      this.stats.refused('untrusted')
      // debug: scans from many addresses would flood the log; the metric counts them
      this.opts.logger.debug({ remote: remote.address, method: rq.method }, 'SIP request from an untrusted source: 403')
      return { status: 403 }
    }
    const v = digest.verify(rq)
    if (v.ok) return null
    // 'missing' is the first leg of every authenticated call, not a failure
    if (v.reason !== 'missing') {
      this.stats.authFailure(v.reason)
      this.opts.logger.info({ remote: remote.address, method: rq.method, reason: v.reason }, 'SIP digest authentication failed')
    }
    return { status: 401, challenge: digest.challenge(v.stale) }
  }

  /** A new inbound call: null admits it (and counts it until callEnded), else a 503 to send. */
  admitCall(rq: SipRequest, remote: Remote): GateRefusal | null {
    const key = `${rq.headers['call-id']}|${rq.headers.from.params.tag ?? ''}`
    // the same call-id and tag again (a looped or repeated INVITE): counted once, released once
    if (this.calls.has(key)) return null
    const retry = { 'Retry-After': String(this.opts.retryAfterS) }
    if (this.opts.maxCalls > 0 && this.calls.size >= this.opts.maxCalls) {
      this.stats.refused('call_limit_total')
      this.opts.logger.warn({ remote: remote.address, max: this.opts.maxCalls }, 'concurrent call limit reached: 503')
      return { status: 503, reason: 'Too Many Calls', headers: retry }
    }
    const source = this.opts.trust.match(remote.address) ? undefined : remote.address
    if (source !== undefined && this.opts.maxCallsPerSource > 0) {
      const n = this.perSource.get(source) ?? 0
      if (n >= this.opts.maxCallsPerSource) {
        this.stats.refused('call_limit_source')
        this.opts.logger.warn({ remote: source, max: this.opts.maxCallsPerSource }, 'concurrent call limit of this source reached: 503')
        return { status: 503, reason: 'Too Many Calls From This Source', headers: retry }
      }
      this.perSource.set(source, n + 1)
    }
    this.calls.set(key, source)
    return null
  }

  /** The dialog of an inbound call is over (answered or not). */
  callEnded(callId: string, remoteTag: string): void {
    const key = `${callId}|${remoteTag}`
    if (!this.calls.has(key)) return
    const source = this.calls.get(key)
    this.calls.delete(key)
    if (source === undefined) return
    const n = (this.perSource.get(source) ?? 1) - 1
    if (n <= 0) this.perSource.delete(source)
    else this.perSource.set(source, n)
  }
}
