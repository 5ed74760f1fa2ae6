// The toll-fraud guard: every INVITE the server originates is decided here first. A stolen
// trunk is dialled to premium and international numbers in bursts, so the rules are an allow
// list of prefixes (nothing when unset), an hourly cap over all trunks, and per-trunk channel
// and call-rate limits. With several instances (REDIS_URL) the counts are the cluster's.
import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { dialledNumber, splitHostPort, type TrunkConfig } from './trunk.ts'

export type RefusalReason = 'prefix' | 'hourly_cap' | 'channels' | 'cps'

export type DialDecision =
  | { ok: true; number: string; trunk?: TrunkConfig; /** Call when the call has ended (or never started). */ release: () => void }
  | { ok: false; number: string; trunk?: TrunkConfig; reason: RefusalReason; message: string }

export interface OutboundGuardOptions {
  trunks: TrunkConfig[]
  /** OUTBOUND_ALLOW_PREFIXES: for trunks without their own list, and for URIs that name no trunk. */
  allowPrefixes: string[]
  /** Outbound calls allowed in any 60 minutes, over all trunks; 0 forbids all. */
  maxCallsPerHour: number
  logger: Logger
  onRefused?: (reason: RefusalReason, trunk: string) => void
  now?: () => number
}

const HOUR_MS = 3_600_000

/** The same limits counted across the instances (cluster/cluster.ts). */
export interface SharedDialLimits {
  /** 'fallback': no answer in time, the local counts decide; a call that is not refused ends with dialEnded */
  dial(callId: string, trunk: TrunkConfig | undefined, maxCallsPerHour: number): Promise<'ok' | 'fallback' | Exclude<RefusalReason, 'prefix'>>
  dialEnded(callId: string, trunk: TrunkConfig | undefined): void
}

export class OutboundGuard {
  private readonly started: number[] = []
  private readonly live = new Map<string, number>()
  private readonly lastSecond = new Map<string, number[]>()
  private readonly now: () => number
  private shared: SharedDialLimits | undefined

  constructor(private readonly opts: OutboundGuardOptions) {
    this.now = opts.now ?? Date.now
  }

  /** From now on the hourly cap, channels and calls per second are also counted across the instances. */
  useShared(shared: SharedDialLimits): void {
    this.shared = shared
  }

  /** The trunk a sip: URI goes through: the one whose host (or domain) it names. */
  trunkFor(target: string): TrunkConfig | undefined {
    const hostPort = /^sips?:(?:[^@]*@)?([^;?>]+)/i.exec(target)?.[1]
    if (!hostPort) return undefined
    let dest: { host: string; port: number }
    try {
      dest = splitHostPort(hostPort)
    } catch {
      return undefined
    }
    const same = (h: string) => h.toLowerCase() === dest.host.toLowerCase()
    return this.opts.trunks.find((t) => (same(t.host) && dest.port === t.port) || (same(t.domain) && (dest.port === 5060 || dest.port === t.port)))
  }

  /** Prefixes a call through `trunk` (or to a URI that names no trunk) must match. */
  prefixesFor(trunk: TrunkConfig | undefined): string[] {
    return trunk && trunk.allowPrefixes.length ? trunk.allowPrefixes : this.opts.allowPrefixes
  }

  /** Whether `number` may be dialled at all (prefix rule only): start-up checks of transfer targets. */
  allows(target: string): boolean {
    const number = dialledNumber(target)
    return matches(number, this.prefixesFor(this.trunkFor(target)))
  }

  /**
   * Decides one dial against this instance's counts and then, with a cluster, against everyone's;
   * an allowed one holds a channel and a place in the hourly count.
   */
  async decide(target: string, trunkName?: string): Promise<DialDecision> {
    const local = this.check(target, trunkName)
    if (!local.ok || !this.shared) return local
    const id = randomUUID()
    const verdict = await this.shared.dial(id, local.trunk, this.opts.maxCallsPerHour)
    if (verdict === 'ok' || verdict === 'fallback') {
      const shared = this.shared
      return {
        ...local,
        release: () => {
          local.release()
          shared.dialEnded(id, local.trunk)
        },
      }
    }
    local.release()
    const trunk = local.trunk
    const name = trunk?.name ?? ''
    const message =
      verdict === 'hourly_cap'
        ? `the cluster's outbound calls in the last hour reach the cap of ${this.opts.maxCallsPerHour} (OUTBOUND_MAX_CALLS_PER_HOUR)`
        : verdict === 'channels'
          ? `all ${trunk?.channels} channels of trunk ${name} are busy across the cluster`
          : `trunk ${name} allows ${trunk?.cps} new calls per second across the cluster`
    return this.refuse(target, local.number, trunk, verdict, message)
  }

  private refuse(target: string, number: string, trunk: TrunkConfig | undefined, reason: RefusalReason, message: string): DialDecision {
    this.opts.logger.warn({ target, number, trunk: trunk?.name, reason }, `outbound call refused: ${message}`)
    this.opts.onRefused?.(reason, trunk?.name ?? '')
    return { ok: false, number, trunk, reason, message }
  }

  /**
   * Decides one dial on this instance's counts alone; an allowed one holds a channel and a place in
   * the hourly count. `trunkName`: the trunk the caller chose (two trunks may share a domain, e.g.
   * two accounts at one carrier); else the one the URI names.
   */
  check(target: string, trunkName?: string): DialDecision {
    const trunk = trunkName === undefined ? this.trunkFor(target) : this.opts.trunks.find((t) => t.name === trunkName)
    const number = dialledNumber(target)
    const name = trunk?.name ?? ''
    const refuse = (reason: RefusalReason, message: string) => this.refuse(target, number, trunk, reason, message)
    const prefixes = this.prefixesFor(trunk)
    if (!matches(number, prefixes)) {
      return refuse(
        'prefix',
        prefixes.length
          ? `${number} matches none of the allowed prefixes ${prefixes.join(',')}`
          : `no allowed prefixes are configured (OUTBOUND_ALLOW_PREFIXES${trunk ? ` or trunks[${trunk.name}].allowPrefixes` : ''}): nothing may be dialled`,
      )
    }
    const now = this.now()
    while (this.started.length && this.started[0] <= now - HOUR_MS) this.started.shift()
    if (this.started.length >= this.opts.maxCallsPerHour) {
      return refuse(
        'hourly_cap',
        `${this.started.length} outbound calls in the last hour reach the cap of ${this.opts.maxCallsPerHour} (OUTBOUND_MAX_CALLS_PER_HOUR)`,
      )
    }
    if (trunk?.channels && (this.live.get(name) ?? 0) >= trunk.channels) {
      return refuse('channels', `all ${trunk.channels} channels of trunk ${name} are busy`)
    }
    if (trunk?.cps) {
      const recent = (this.lastSecond.get(name) ?? []).filter((t) => t > now - 1000)
      this.lastSecond.set(name, recent)
      if (recent.length >= trunk.cps) return refuse('cps', `trunk ${name} allows ${trunk.cps} new calls per second`)
      recent.push(now)
    }
    this.started.push(now)
    this.live.set(name, (this.live.get(name) ?? 0) + 1)
    let released = false
    return {
      ok: true,
      number,
      trunk,
      release: () => {
        if (released) return
        released = true
        this.live.set(name, Math.max(0, (this.live.get(name) ?? 1) - 1))
      },
    }
  }

  /** Calls in progress per trunk ('' for calls that name no trunk). */
  liveCalls(trunk: string): number {
    return this.live.get(trunk) ?? 0
  }
}

/** Literal prefix match on the normalised number: "+7" does not match "8..." nor "7...". */
export function matches(number: string, prefixes: string[]): boolean {
  return number.length > 0 && prefixes.some((p) => p.length > 0 && number.startsWith(p))
}

/** "+7, 8" -> ["+7", "8"] */
export function parsePrefixes(spec: string | string[]): string[] {
  const list = Array.isArray(spec) ? spec.map(String) : spec.split(',')
  return list.map((p) => p.trim().replace(/[\s().-]/g, '')).filter(Boolean)
}
