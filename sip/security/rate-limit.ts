/**
 * A per-source request limiter in the manner of Kamailio's pike module: requests are counted per
 * source address in fixed windows; a source over the limit is banned for a while, and everything
 * it sends meanwhile is dropped unanswered (answering a flood is amplifying it).
 */
export interface RateLimitOptions {
  windowMs: number
  /** Requests a source may send per window. */
  max: number
  banMs: number
  /** Sources tracked at most: beyond it (a spoofed-source flood) new sources go uncounted rather than memory growing. */
  maxSources?: number
  now?: () => number
  /** A source was banned here (not by ban()): the hook that shares the ban with other instances. */
  onBan?: (source: string, banMs: number) => void
}

interface Entry {
  windowStart: number
  count: number
  bannedUntil: number
}

export type RateVerdict = 'ok' | 'banned-now' | 'banned'

export class RateLimiter {
  private readonly entries = new Map<string, Entry>()
  private readonly now: () => number
  private readonly maxSources: number
  private lastSweep = 0

  constructor(private readonly opts: RateLimitOptions) {
    this.now = opts.now ?? Date.now
    this.maxSources = opts.maxSources ?? 100_000
  }

  /** Counts one request from `source`: 'banned-now' the first time it goes over, 'banned' while banned. */
  hit(source: string): RateVerdict {
    const now = this.now()
    this.sweep(now)
    let e = this.entries.get(source)
    if (!e) {
      if (this.entries.size >= this.maxSources) return 'ok'
      e = { windowStart: now, count: 0, bannedUntil: 0 }
      this.entries.set(source, e)
    }
    if (e.bannedUntil > now) return 'banned'
    if (now - e.windowStart >= this.opts.windowMs) {
      e.windowStart = now
      e.count = 0
    }
    e.count++
    if (e.count <= this.opts.max) return 'ok'
    e.bannedUntil = now + this.opts.banMs
    this.opts.onBan?.(source, this.opts.banMs)
    return 'banned-now'
  }

  /** Bans `source` for `ms` from now (a ban another instance made); an existing longer ban stands. */
  ban(source: string, ms: number): void {
    const now = this.now()
    let e = this.entries.get(source)
    if (!e) {
      if (this.entries.size >= this.maxSources) return
      e = { windowStart: now, count: 0, bannedUntil: 0 }
      this.entries.set(source, e)
    }
    e.bannedUntil = Math.max(e.bannedUntil, now + ms)
  }

  /** Sources banned right now. */
  get banned(): number {
    const now = this.now()
    let n = 0
    for (const e of this.entries.values()) if (e.bannedUntil > now) n++
    return n
  }

  /** Forgets sources that are neither banned nor inside a live window, once per window. */
  private sweep(now: number): void {
    if (now - this.lastSweep < this.opts.windowMs) return
    this.lastSweep = now
    for (const [k, e] of this.entries) if (e.bannedUntil <= now && now - e.windowStart >= this.opts.windowMs) this.entries.delete(k)
  }
}
