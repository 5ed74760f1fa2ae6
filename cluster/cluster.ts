import type { Logger } from 'pino'
import type client from 'prom-client'
import { CallSlots, type SlotLimits } from './call-slots.ts'
import { ClusterMetrics } from './cluster-metrics.ts'
import { InstanceRegistry } from './instance-registry.ts'
import { ClusterKeys } from './keys.ts'
import { LiveCallDirectory } from './live-call-directory.ts'
import { RedisLink, redactUrl, within } from './redis-link.ts'
import { SharedBans } from './shared-bans.ts'
import { DialWindows, type RateWindow } from './dial-windows.ts'
import type { AdmitVerdict, DialVerdict, InstanceRecord, LiveCallSummary } from './types.ts'

/** How long a call may wait for its cluster-wide admission before the local limits alone decide. */
export const ADMIT_TIMEOUT_MS = 100
const HOUR_MS = 3_600_000

/** What the cluster needs of a trunk to share its limits. */
export interface DialTrunk {
  name: string
  /** concurrent calls through it (0: no limit) */
  channels: number
  /** new calls per second through it (0: no limit) */
  cps: number
}

/** How long the API waits for the other instances' live calls before it lists its own only. */
export const READ_TIMEOUT_MS = 500

export interface ClusterOptions {
  url: string
  keyPrefix: string
  instanceId: string
  leaseMs: number
  heartbeatMs: number
  limits: SlotLimits
  /** a trusted source (a trunk) has no per-source limit, as in the local gate */
  isTrusted: (address: string) => boolean
  /** bans a source here that another instance banned */
  applyBan: (source: string, ms: number) => void
  /** what this instance's record says right now */
  status: () => Pick<InstanceRecord, 'sip' | 'http' | 'liveCalls' | 'draining'>
  /** this instance's live calls right now */
  liveCalls: () => LiveCallSummary[]
  logger: Logger
  registry: client.Registry
}

/**
 * What instances share through Redis (REDIS_URL): their records and live calls (InstanceRegistry,
 * LiveCallDirectory), cluster-wide call limits (CallSlots), bans (SharedBans). Redis being down
 * never stops a call: each operation is bounded in time, and a failed one leaves the local state
 * (local limits, local bans, local live calls) to decide, as a single instance does.
 */
export class Cluster {
  readonly id: string
  private readonly link: RedisLink
  private readonly keys: ClusterKeys
  private readonly registry: InstanceRegistry
  private readonly directory: LiveCallDirectory
  private readonly slots: CallSlots
  /** per trunk with a channel limit: its channels across the instances */
  private readonly trunkSlots = new Map<string, CallSlots>()
  /** per campaign: its slots and their limit (the campaign's concurrency, which an operator may change) */
  private readonly campaignSlots = new Map<string, { slots: CallSlots; limits: SlotLimits }>()
  private readonly windows: DialWindows
  private readonly bans: SharedBans
  private readonly metrics: ClusterMetrics
  private readonly log: Logger
  private readonly startedAt = new Date().toISOString()
  private timer: NodeJS.Timeout | undefined
  private publishing: Promise<void> | undefined
  private publishAgain = false
  private stopped = false

  constructor(private readonly opts: ClusterOptions) {
    this.id = opts.instanceId
    this.log = opts.logger
    this.metrics = new ClusterMetrics(opts.registry)
    this.link = new RedisLink({ url: opts.url, logger: opts.logger, onState: (up) => this.onState(up) })
    this.keys = new ClusterKeys(opts.keyPrefix)
    this.registry = new InstanceRegistry(this.link.client, this.keys, opts.leaseMs)
    this.directory = new LiveCallDirectory(this.link.client, this.keys, opts.leaseMs)
    this.slots = new CallSlots(this.link.client, this.keys, this.id, opts.limits, opts.leaseMs)
    this.windows = new DialWindows(this.link.client)
    this.bans = new SharedBans(this.link.client, this.link.subscriberConnection(), this.keys, this.id, opts.applyBan, opts.logger, () =>
      this.metrics.bans.labels('received').inc(),
    )
  }

  get redisUp(): boolean {
    return this.link.isUp
  }

  /** Waits up to `readyMs` for Redis (not failing without it), joins, and starts the heartbeat. */
  async start(readyMs = 2000): Promise<void> {
    const up = await this.link.waitReady(readyMs)
    if (!up)
      this.log.warn(
        { redis: redactUrl(this.opts.url), instance: this.id },
        'redis not reachable at start: this instance runs alone (local limits, bans and calls) and keeps trying',
      )
    // the bans in force are loaded before the first call is taken (a banned scanner must not slip in
    // while the instance starts); a Redis that is up but slow delays the start by readyMs at most
    if (up) await within(this.bans.start(), readyMs).catch((err) => this.log.warn({ err: err.message }, 'shared bans: not loaded at start'))
    else void this.bans.start().catch((err) => this.log.warn({ err: err.message }, 'shared bans: subscription failed'))
    await this.beat()
    this.timer = setInterval(() => void this.beat(), this.opts.heartbeatMs).unref()
    this.log.info(
      { instance: this.id, keyPrefix: this.opts.keyPrefix, leaseS: this.opts.leaseMs / 1000, limits: this.opts.limits },
      'cluster: sharing live calls, call limits and bans through redis',
    )
  }

  /**
   * A cluster-wide slot for a new inbound call from `remote`. Never rejects and never takes longer
   * than ADMIT_TIMEOUT_MS: without an answer in time the verdict is 'fallback' (local limits only).
   */
  async admit(callId: string, remote: string): Promise<AdmitVerdict> {
    const { maxCalls, maxCallsPerSource } = this.opts.limits
    if (maxCalls <= 0 && maxCallsPerSource <= 0) return 'ok'
    let verdict: AdmitVerdict = 'fallback'
    const source = this.opts.isTrusted(remote) ? '' : remote
    // admitted without Redis, the call still counts once Redis is back (resync)
    if (!this.link.isUp) this.slots.hold(callId, source)
    else {
      try {
        verdict = await within(this.slots.admit(callId, source), ADMIT_TIMEOUT_MS)
      } catch (err) {
        this.log.warn({ err: (err as Error).message, callId }, 'cluster admission: no answer from redis in time; the local limits decide')
      }
    }
    this.metrics.admitted(verdict)
    return verdict
  }

  /** The call ended: its slot is released (never throws; a slot Redis missed expires with the lease). */
  release(callId: string): void {
    void this.slots
      .release(callId)
      .catch((err) => this.log.debug({ err: err.message, callId }, 'cluster slot release failed; it is rewritten when redis answers'))
  }

  /**
   * Cluster-wide limits of a new outbound call (OUTBOUND_MAX_CALLS_PER_HOUR over all trunks, the
   * trunk's channels and calls per second): checked and taken at once, within ADMIT_TIMEOUT_MS or
   * 'fallback'. An 'ok' or 'fallback' call is ended with dialEnded.
   */
  async dial(callId: string, trunk: DialTrunk | undefined, maxCallsPerHour: number): Promise<DialVerdict> {
    const slots = trunk?.channels ? this.channelsOf(trunk) : undefined
    let verdict: DialVerdict = 'fallback'
    if (!this.link.isUp) slots?.hold(callId, '')
    else {
      try {
        verdict = await within(this.takeDial(callId, trunk, slots, maxCallsPerHour), ADMIT_TIMEOUT_MS)
      } catch (err) {
        this.log.warn({ err: (err as Error).message, callId }, 'cluster dial limits: no answer from redis in time; the local counts decide')
      }
    }
    this.metrics.dialled(verdict)
    return verdict
  }

  private async takeDial(callId: string, trunk: DialTrunk | undefined, slots: CallSlots | undefined, maxCallsPerHour: number): Promise<DialVerdict> {
    if (slots && (await slots.admit(callId, '')) !== 'ok') return 'channels'
    const hour: RateWindow = { key: this.keys.dialHour, windowMs: HOUR_MS, max: maxCallsPerHour }
    const second: RateWindow | undefined = trunk?.cps ? { key: this.keys.dialSecond(trunk.name), windowMs: 1000, max: trunk.cps } : undefined
    const full = await this.windows.take(callId, second ? [hour, second] : [hour])
    if (!full) return 'ok'
    await slots?.release(callId)
    return full === hour ? 'hourly_cap' : 'cps'
  }

  /** The outbound call ended (or never started): its channel is free again. */
  dialEnded(callId: string, trunk: DialTrunk | undefined): void {
    const slots = trunk && this.trunkSlots.get(trunk.name)
    if (!slots) return
    void slots.release(callId).catch((err) => this.log.debug({ err: err.message, callId }, 'trunk channel release failed; it is rewritten when redis answers'))
  }

  private channelsOf(trunk: DialTrunk): CallSlots {
    let slots = this.trunkSlots.get(trunk.name)
    if (!slots) {
      const limits = { maxCalls: trunk.channels, maxCallsPerSource: 0 }
      slots = new CallSlots(this.link.client, this.keys.trunkChannels(trunk.name), this.id, limits, this.opts.leaseMs)
      this.trunkSlots.set(trunk.name, slots)
    }
    return slots
  }

  /**
   * A slot among campaign `campaignId`'s `max` concurrent calls across the instances, within
   * ADMIT_TIMEOUT_MS: 'ok', 'full', or 'fallback' (Redis did not answer: the instance's own count decides).
   */
  async campaignSlot(campaignId: string, callId: string, max: number): Promise<'ok' | 'full' | 'fallback'> {
    let entry = this.campaignSlots.get(campaignId)
    if (!entry) {
      const limits = { maxCalls: max, maxCallsPerSource: 0 }
      entry = { limits, slots: new CallSlots(this.link.client, this.keys.campaignCalls(campaignId), this.id, limits, this.opts.leaseMs) }
      this.campaignSlots.set(campaignId, entry)
    }
    // the slots read the limit at every admission: a changed concurrency applies to the next call
    entry.limits.maxCalls = max
    if (!this.link.isUp) {
      entry.slots.hold(callId, '')
      return 'fallback'
    }
    try {
      return (await within(entry.slots.admit(callId, ''), ADMIT_TIMEOUT_MS)) === 'ok' ? 'ok' : 'full'
    } catch (err) {
      this.log.warn({ err: (err as Error).message, callId, campaignId }, 'campaign slot: no answer from redis in time; the local count decides')
      return 'fallback'
    }
  }

  /** The campaign's call ended (or never started): its slot is free again. */
  campaignEnded(campaignId: string, callId: string): void {
    const entry = this.campaignSlots.get(campaignId)
    if (!entry) return
    void entry.slots
      .release(callId)
      .catch((err) => this.log.debug({ err: err.message, callId }, 'campaign slot release failed; it is rewritten when redis answers'))
  }

  /** Every set of slots this instance holds: inbound calls, each trunk's channels, each campaign's calls. */
  private allSlots(): CallSlots[] {
    return [this.slots, ...this.trunkSlots.values(), ...[...this.campaignSlots.values()].map((e) => e.slots)]
  }

  /** This instance's live calls changed: they are published (coalesced). */
  callsChanged(): void {
    if (this.stopped) return
    if (this.publishing) {
      this.publishAgain = true
      return
    }
    this.publishing = within(this.directory.publish(this.id, this.opts.liveCalls()), READ_TIMEOUT_MS)
      .catch((err) => this.log.debug({ err: err.message }, 'live calls not published'))
      .finally(() => {
        this.publishing = undefined
        if (this.publishAgain) {
          this.publishAgain = false
          this.callsChanged()
        }
      })
  }

  /** This instance banned `source` for `ms` (its rate limiter): the others ban it too. */
  banned(source: string, ms: number): void {
    if (!this.link.isUp) return
    this.metrics.bans.labels('sent').inc()
    void this.bans.share(source, ms).catch((err) => this.log.warn({ err: err.message, remote: source }, 'ban not shared'))
  }

  /** Live calls of every instance, newest first; null when Redis does not answer (list your own). */
  async liveCalls(): Promise<LiveCallSummary[] | null> {
    if (!this.link.isUp) return null
    try {
      return await within(
        this.registry.ids().then((ids) => this.directory.list(ids.includes(this.id) ? ids : [...ids, this.id])),
        READ_TIMEOUT_MS,
      )
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'live calls of the other instances not read')
      return null
    }
  }

  /** The instances whose lease holds; null when Redis does not answer. */
  async instances(): Promise<InstanceRecord[] | null> {
    if (!this.link.isUp) return null
    return within(this.registry.list(), READ_TIMEOUT_MS).catch(() => null)
  }

  private record(): InstanceRecord {
    return { id: this.id, ...this.opts.status(), startedAt: this.startedAt, updatedAt: new Date().toISOString() }
  }

  /** The heartbeat: the record, the live calls and the slots' lease, renewed; bans missed, taken. */
  private async beat(): Promise<void> {
    if (this.stopped || !this.link.isUp) return
    try {
      await within(
        Promise.all([
          this.registry.beat(this.record()),
          this.directory.publish(this.id, this.opts.liveCalls()),
          ...this.allSlots().map((s) => s.renew()),
          this.bans.load(),
        ]),
        this.opts.heartbeatMs,
      )
    } catch (err) {
      this.metrics.heartbeatFailures.inc()
      this.log.warn({ err: (err as Error).message }, 'cluster heartbeat failed')
    }
  }

  private onState(up: boolean): void {
    this.metrics.redisUp.set(up ? 1 : 0)
    // back after an outage: Redis may have lost everything (a restart), or missed releases
    if (up && !this.stopped)
      void Promise.all(this.allSlots().map((s) => s.resync()))
        .catch(() => {})
        .then(() => this.beat())
  }

  /** Leaves at once (record and live calls removed) rather than at the lease's end, and disconnects. */
  async stop(): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    if (this.link.isUp) {
      await within(Promise.all([this.registry.leave(this.id), this.directory.remove(this.id), ...this.allSlots().map((s) => s.resync())]), 1000).catch(() => {})
    }
    await this.link.close()
  }
}
