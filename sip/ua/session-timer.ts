// Session timers (RFC 4028) for one dialog: the interval and who refreshes it, negotiated on every
// 2xx to an INVITE or UPDATE; we refresh at half the interval when it is our turn, and end the
// dialog when the peer's refresh does not come in time.
import type { Logger } from 'pino'
import type { SipRequest, SipResponse } from '../message/types.ts'

export interface SessionTimerConfig {
  /** The interval we ask for and the most we grant (SESSION_EXPIRES_S; RFC 4028 recommends 1800). */
  expiresS: number
  /** The least we accept: smaller Session-Expires get 422 with this Min-SE (MIN_SE_S; RFC minimum 90). */
  minSeS: number
}

export const DEFAULT_SESSION_TIMER: SessionTimerConfig = { expiresS: 1800, minSeS: 90 }

export type Refresher = 'uac' | 'uas'

export interface SessionExpires {
  deltaS: number
  refresher?: Refresher
}

function raw(m: SipRequest | SipResponse, name: string): string | undefined {
  const v = m.headers[name]
  if (typeof v === 'string') return v
  if (Array.isArray(v) && typeof v[0] === 'string') return v.join(',')
  return undefined
}

/** Session-Expires (or its compact form x): `delta-seconds *(;param)`; undefined when absent or unreadable. */
export function parseSessionExpires(m: SipRequest | SipResponse): SessionExpires | undefined {
  const match = /^\s*(\d{1,9})\s*((?:;[^;]*)*)$/.exec(raw(m, 'session-expires') ?? '')
  if (!match) return undefined
  const refresher = /;\s*refresher\s*=\s*(uac|uas)\b/i.exec(match[2])?.[1]?.toLowerCase() as Refresher | undefined
  return { deltaS: Number(match[1]), ...(refresher ? { refresher } : {}) }
}

/** Min-SE: delta-seconds; undefined when absent or unreadable. */
export function parseMinSe(m: SipRequest | SipResponse): number | undefined {
  const match = /^\s*(\d{1,9})\s*(?:;.*)?$/.exec(raw(m, 'min-se') ?? '')
  return match ? Number(match[1]) : undefined
}

/** Option tags in Supported (k) and Require. */
export function optionTags(m: SipRequest | SipResponse, name: 'supported' | 'require'): string[] {
  return (raw(m, name) ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean)
}

/**
 * The Min-SE for a 422 (RFC 4028 §8.1) when the request's Session-Expires is below what we
 * accept; undefined when the request may go on.
 */
export function intervalTooSmall(rq: SipRequest, cfg: SessionTimerConfig): number | undefined {
  const se = parseSessionExpires(rq)
  if (!se || se.deltaS >= cfg.minSeS) return undefined
  return Math.max(cfg.minSeS, parseMinSe(rq) ?? 0)
}

export interface SessionTimerActions {
  /** Sends a session refresh (UPDATE or re-INVITE) with these headers; resolves with its final response. */
  refresh(headers: Record<string, string>): Promise<SipResponse | 'timeout'>
  /** The session expired: BYE. */
  expire(): void
}

/**
 * The session timer of one dialog, from our side. The timers are named for what they do:
 * `refreshTimer` (ours to refresh, at half the interval) and `expiryTimer` (the session's end when
 * no refresh came: the interval less a third of it, at most 32 s, RFC 4028 §10).
 */
export class SessionTimer {
  /** seconds */
  interval: number
  /** true: we send the refreshes; false: the peer does and we only watch */
  weRefresh = false
  private refreshTimer: NodeJS.Timeout | undefined
  private expiryTimer: NodeJS.Timeout | undefined
  private stopped = false

  constructor(
    private readonly cfg: SessionTimerConfig,
    private readonly actions: SessionTimerActions,
    private readonly log: Logger,
  ) {
    this.interval = cfg.expiresS
  }

  /**
   * The peer's INVITE, re-INVITE or UPDATE that we are about to answer 2xx (we are its UAS,
   * RFC 4028 §9): sets the interval and refresher, returns the headers for the 2xx.
   */
  negotiate(rq: SipRequest): Record<string, string> {
    const se = parseSessionExpires(rq)
    const peerTimer = optionTags(rq, 'supported').includes('timer') || optionTags(rq, 'require').includes('timer')
    const floor = Math.max(this.cfg.minSeS, parseMinSe(rq) ?? 0)
    // we may shorten the interval asked for, never below the Min-SE
    this.interval = Math.max(floor, Math.min(se?.deltaS ?? this.cfg.expiresS, this.cfg.expiresS))
    // a peer that knows timers refreshes unless it says otherwise; one that does not leaves it to us
    const refresher: Refresher = se?.refresher ?? (peerTimer ? 'uac' : 'uas')
    this.weRefresh = refresher === 'uas'
    const headers: Record<string, string> = { 'Session-Expires': `${this.interval};refresher=${refresher}` }
    // Require: timer only towards a peer that supports it (§9)
    if (peerTimer) headers.Require = 'timer'
    return headers
  }

  /** The headers of our INVITE (we are its UAC, §7.1): the interval we want and the least we accept. */
  offerHeaders(): Record<string, string> {
    return { 'session-expires': String(this.interval), 'min-se': String(this.cfg.minSeS) }
  }

  /**
   * The 2xx to our INVITE (§7.2): the interval and refresher it names. Without Session-Expires the
   * peer has no timer, and we refresh at the interval we asked for.
   */
  accept(res: SipResponse): void {
    const se = parseSessionExpires(res)
    if (se) this.interval = se.deltaS
    this.weRefresh = se?.refresher !== 'uas'
  }

  /** A 422 to our request (§7.3): the interval raised to the peer's Min-SE; false when that asks for nothing higher. */
  raiseToMinSe(res: SipResponse): boolean {
    const minSe = parseMinSe(res)
    if (!minSe || minSe <= this.interval) return false
    this.interval = minSe
    return true
  }

  /** (Re)starts the timers: after each 2xx of a refresh, either way. */
  arm(): void {
    if (this.stopped) return
    this.clear()
    if (this.weRefresh) {
      this.refreshTimer = setTimeout(() => void this.refresh(), (this.interval * 1000) / 2)
      this.refreshTimer.unref()
    }
    // also when we refresh: refreshes that keep failing end the session all the same
    const expiresMs = (this.interval - Math.min(32, this.interval / 3)) * 1000
    this.expiryTimer = setTimeout(
      () => {
        if (this.stopped) return
        this.log.warn({ intervalS: this.interval, weRefresh: this.weRefresh }, 'session expired without a refresh: BYE')
        this.stop()
        this.actions.expire()
      },
      this.weRefresh ? this.interval * 1000 : expiresMs,
    )
    this.expiryTimer.unref()
  }

  /** The headers of a refresh we send (§7.4): the interval in force, we as refresher. */
  private requestHeaders(): Record<string, string> {
    return { 'Session-Expires': `${this.interval};refresher=uac`, 'Min-SE': String(this.cfg.minSeS) }
  }

  private async refresh(retried = false): Promise<void> {
    if (this.stopped) return
    const res = await this.actions.refresh(this.requestHeaders())
    if (this.stopped) return
    // §10: a refresh that times out or finds no dialog ends the session
    if (res === 'timeout' || res.status === 408 || res.status === 481) {
      this.log.warn({ status: res === 'timeout' ? 'timeout' : res.status }, 'session refresh failed: BYE')
      this.stop()
      return this.actions.expire()
    }
    if (res.status === 491 && !retried) {
      // RFC 3261 §14.1: our refresh crossed one of theirs; try again after 2.1-4 s
      this.refreshTimer = setTimeout(() => void this.refresh(true), 2100 + Math.random() * 1900)
      this.refreshTimer.unref()
      return
    }
    // §7.3: ask again with at least the peer's Min-SE
    if (res.status === 422 && !retried && this.raiseToMinSe(res)) return this.refresh(true)
    if (res.status >= 300) {
      this.log.warn({ status: res.status }, 'session refresh refused; the session ends at its expiry unless the peer refreshes')
      return
    }
    this.accept(res)
    this.arm()
  }

  private clear(): void {
    clearTimeout(this.refreshTimer)
    clearTimeout(this.expiryTimer)
    this.refreshTimer = this.expiryTimer = undefined
  }

  stop(): void {
    this.stopped = true
    this.clear()
  }
}
