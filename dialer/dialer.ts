import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import client from 'prom-client'
import type { OriginateRequest } from '../media-server/call/originate-request.ts'
import type { OriginateOptions, OriginateResult } from '../media-server/call/originator.ts'
import { attemptOutcomeOf, type CallRecordView } from './attempt-outcome.ts'
import type { Campaign, CampaignStore, Claimed, Contact, ContactNext } from './campaign-store.ts'
import { isOpen, nextOpen, parseCallingWindow, type CallingWindow } from './calling-window.ts'
import { decide, parseRetryPolicy, type AttemptOutcome, type Decision, type RetryPolicy } from './retry-policy.ts'

/** The cluster-wide count of a campaign's calls (Cluster.campaignSlot); absent: this instance alone. */
export interface CampaignSlots {
  campaignSlot(campaignId: string, callId: string, max: number): Promise<'ok' | 'full' | 'fallback'>
  campaignEnded(campaignId: string, callId: string): void
}

export interface DialerDeps {
  store: CampaignStore
  /** the record of a call (CallStore.getCall): what an attempt came to is read from it */
  callRecord: (id: string) => Promise<CallRecordView | null>
  /** builds the call of a contact (the same checks as POST /api/calls), or says why it cannot be placed */
  request: (campaign: Campaign, contact: Contact, trunk: string | undefined) => { ok: true; request: OriginateRequest } | { ok: false; error: string }
  originate: (req: OriginateRequest, opts: OriginateOptions) => Promise<OriginateResult>
  /** calls this instance can still take (SIP_MAX_CALLS and the port pool less what is live) */
  capacity: () => number
  slots?: CampaignSlots
  /** the contact leases are this instance's (a stable id: after a restart it takes back its own) */
  instanceId: string
  logger: Logger
  registry: client.Registry
  /** the dialer's clock: windows, retries and leases are read on it (a test sets it) */
  now?: () => Date
  tickMs?: number
  leaseMs?: number
}

/** A trunk refused before any INVITE for a reason that passes: the contact waits this long, uncounted. */
const REFUSAL_WAIT_MS: Record<string, number> = { cps: 1000, channels: 2000, hourly_cap: 60_000, capacity: 2000 }
/** Every trunk of the campaign answered 5xx: the contact tries again from the first, this much later. */
const ALL_TRUNKS_FAILED_MIN = 30
const DEFAULT_TICK_MS = 250
const DEFAULT_LEASE_MS = 30_000

/** A campaign as the dialer runs it: the stored row with its window and policy parsed. */
interface Running {
  campaign: Campaign
  window: CallingWindow
  policy: RetryPolicy
}

/**
 * Runs the campaigns on this instance: every tick, for each running campaign, it claims due
 * contacts while the campaign's concurrency (across the instances, with Redis), the instance's
 * capacity and the trunk allow; re-checks the callee's calling window and the do-not-call list just
 * before the INVITE; and when a call is over reads its record, applies the retry policy, and
 * moves the contact on. The trunk's calls per second and channels are the toll-fraud guard's:
 * a refusal for them puts the contact back, uncounted.
 */
export class Dialer {
  private readonly log: Logger
  private readonly now: () => Date
  private readonly tickMs: number
  private readonly leaseMs: number
  /** calls of this instance in progress, per campaign */
  private readonly inflight = new Map<string, Set<string>>()
  private readonly parsed = new Map<string, { updatedAt: string; running: Running }>()
  /** attempts being settled (their calls ended): the store stays open until they are written */
  private readonly settling = new Set<Promise<void>>()
  private timer?: NodeJS.Timeout
  private ticking?: Promise<void>
  private ticks = 0
  private stopped = false
  private readonly attempts: client.Counter<'rule'>
  private readonly active: client.Gauge

  constructor(private readonly deps: DialerDeps) {
    this.log = deps.logger.child({ component: 'dialer' })
    this.now = deps.now ?? (() => new Date())
    this.tickMs = deps.tickMs ?? DEFAULT_TICK_MS
    this.leaseMs = deps.leaseMs ?? DEFAULT_LEASE_MS
    this.attempts = new client.Counter({
      name: 'voice_campaign_attempts_total',
      help: 'Campaign call attempts that ended, by the retry policy rule that matched',
      labelNames: ['rule'] as const,
      registers: [deps.registry],
    })
    this.active = new client.Gauge({
      name: 'voice_campaign_calls',
      help: 'Campaign calls in progress on this instance',
      registers: [deps.registry],
      collect: () => this.active.set(this.inflightCount()),
    })
  }

  /** Settles what this instance's previous run left dialing, then runs the campaigns. */
  async start(): Promise<void> {
    await this.recover(true).catch((err) => this.log.error({ err }, 'campaign contacts of the previous run not recovered; they come back with their lease'))
    this.timer = setInterval(() => void this.tick(), this.tickMs)
    this.timer.unref()
  }

  /** One round: lease upkeep, then as many calls as each running campaign may start now. */
  tick(): Promise<void> {
    if (this.ticking || this.stopped) return this.ticking ?? Promise.resolve()
    this.ticking = this.round()
      .catch((err) => this.log.error({ err }, 'dialer round failed; the next one tries again'))
      .finally(() => (this.ticking = undefined))
    return this.ticking
  }

  private async round(): Promise<void> {
    const at = this.now()
    // leases: renewed well before they end; other instances' expired ones taken over
    if (this.ticks++ % Math.max(1, Math.floor(this.leaseMs / 3 / this.tickMs)) === 0) {
      await this.deps.store.renew(this.deps.instanceId, at, this.leaseMs)
      await this.recover(false)
    }
    for (const campaign of await this.deps.store.running()) {
      if (this.stopped) return
      const running = this.parse(campaign)
      if (running) await this.fill(running, at)
    }
  }

  /** The window and policy were checked by the API; a row that fails them anyway pauses, saying why. */
  private parse(campaign: Campaign): Running | undefined {
    const cached = this.parsed.get(campaign.id)
    if (cached && cached.updatedAt === campaign.updatedAt) return { ...cached.running, campaign }
    try {
      const running = { campaign, window: parseCallingWindow(campaign.callingWindow), policy: parseRetryPolicy(campaign.retryPolicy) }
      this.parsed.set(campaign.id, { updatedAt: campaign.updatedAt, running })
      return running
    } catch (err) {
      void this.deps.store.pauseFor(campaign.id, `invalid campaign: ${(err as Error).message}`, this.now())
      return undefined
    }
  }

  private inflightOf(campaignId: string): Set<string> {
    let set = this.inflight.get(campaignId)
    if (!set) this.inflight.set(campaignId, (set = new Set()))
    return set
  }

  private inflightCount(): number {
    let n = 0
    for (const s of this.inflight.values()) n += s.size
    return n
  }

  private async fill(r: Running, at: Date): Promise<void> {
    const { campaign } = r
    const mine = this.inflightOf(campaign.id)
    while (!this.stopped && mine.size < campaign.maxConcurrent && this.deps.capacity() > 0) {
      const callId = randomUUID()
      if (this.deps.slots && (await this.deps.slots.campaignSlot(campaign.id, callId, campaign.maxConcurrent)) === 'full') return
      const contact = await this.deps.store.claim(campaign.id, this.deps.instanceId, callId, at, this.leaseMs).catch((err) => {
        this.log.error({ err, campaignId: campaign.id }, 'contact not claimed')
        return null
      })
      if (!contact) {
        this.deps.slots?.campaignEnded(campaign.id, callId)
        if (!mine.size) await this.deps.store.finishIfDone(campaign.id, at)
        return
      }
      if (!(await this.place(r, contact, at))) {
        this.deps.slots?.campaignEnded(campaign.id, callId)
        return
      }
    }
  }

  /**
   * The last checks and the INVITE. False when the campaign should start no more calls this round
   * (a refusal that passes: the trunk's rate, the instance's capacity).
   */
  private async place(r: Running, c: Claimed, at: Date): Promise<boolean> {
    const { store, instanceId } = this.deps
    const { campaign, window } = r
    const log = this.log.child({ campaignId: campaign.id, contactId: c.id, callId: c.callId })
    if (!isOpen(window, c.timeZone, at)) {
      const when = nextOpen(window, c.timeZone, at)
      log.debug({ zone: c.timeZone, next: when.toISOString() }, 'outside the calling window: deferred')
      await store.defer(c, instanceId, when, at)
      return true
    }
    if (await store.isDoNotCall(c.phone)) {
      log.info({ phone: c.phone }, 'number on the do-not-call list: never called')
      await store.markDoNotCall(c, instanceId, at)
      return true
    }
    const trunk = campaign.trunks[c.trunkIndex] ?? campaign.trunks[0]
    const built = this.deps.request(campaign, c, trunk)
    if (!built.ok) {
      log.warn({ error: built.error }, 'contact cannot be called')
      await this.settle(r, c, { sip: 'failed' }, { rule: 'invalid-target', action: 'never', countsAsAttempt: true, reason: built.error }, at)
      return true
    }
    await store.attempt(c, trunk ?? null, at)
    const mine = this.inflightOf(campaign.id)
    mine.add(c.callId)
    const res = await this.deps
      .originate(built.request, { id: c.callId, onEnd: () => this.track(this.ended(r, c)) })
      .catch((err: Error): OriginateResult => ({ ok: false, status: 503, error: err.message }))
    if (res.ok) {
      log.info({ to: built.request.to, trunk, attempt: c.attempts }, 'campaign call placed')
      return true
    }
    mine.delete(c.callId)
    const refusal = res.status === 503 ? 'capacity' : res.refusal
    const wait = refusal && REFUSAL_WAIT_MS[refusal]
    if (wait) {
      // nothing went out: the contact waits for the rate or the capacity, and this try does not count
      await this.settle(
        r,
        c,
        { sip: 'failed' },
        { rule: `refused-${refusal}`, action: 'retry', countsAsAttempt: false, reason: res.error },
        at,
        new Date(at.getTime() + wait),
      )
      return false
    }
    log.warn({ error: res.error }, 'campaign call refused')
    await this.settle(r, c, { sip: 'failed' }, { rule: `refused-${refusal ?? 'other'}`, action: 'never', countsAsAttempt: true, reason: res.error }, at)
    return true
  }

  private track(p: Promise<void>): void {
    this.settling.add(p)
    void p.finally(() => this.settling.delete(p))
  }

  /** The call is over and its record finished: what it came to decides the contact's next state. */
  private async ended(r: Running, c: Claimed): Promise<void> {
    this.inflightOf(r.campaign.id).delete(c.callId)
    this.deps.slots?.campaignEnded(r.campaign.id, c.callId)
    const at = this.now()
    try {
      const outcome = attemptOutcomeOf(await this.deps.callRecord(c.callId))
      await this.settle(r, c, outcome, decide(r.policy, outcome, c.attempts - 1), at)
    } catch (err) {
      this.log.error({ err, callId: c.callId }, 'campaign attempt not settled; its lease runs out and a dialer settles it then')
    }
  }

  /** Writes the attempt's result and the contact's next state; pauses the campaign when the policy says so. */
  private async settle(
    r: Running,
    c: Contact & { callId?: string },
    outcome: AttemptOutcome,
    d: Decision,
    at: Date,
    retryAt?: Date,
    instance: string | null = this.deps.instanceId,
  ): Promise<void> {
    const { campaign } = r
    const callId = c.callId ?? c.lastCallId ?? ''
    const next = this.next(campaign, c, d, outcome, at, retryAt)
    const rec = {
      sipResult: outcome.sip,
      sipStatus: outcome.status ?? null,
      amd: outcome.amd ?? null,
      conversation: outcome.conversation ?? null,
      rule: d.rule,
      action: d.action,
    }
    const mine = await this.deps.store.finishAttempt(c.id, callId, instance, rec, next, at)
    this.attempts.labels(d.rule).inc()
    this.log.info(
      {
        campaignId: campaign.id,
        contactId: c.id,
        callId,
        rule: d.rule,
        action: d.action,
        state: next.state,
        next: next.nextAttemptAt?.toISOString(),
        reason: d.reason,
      },
      'campaign attempt settled',
    )
    if (!mine) this.log.warn({ callId }, "the contact was no longer this instance's (its lease ran out): left as the other dialer set it")
    if (d.action === 'pause-campaign' && (await this.deps.store.pauseFor(campaign.id, d.reason, at)))
      this.log.error({ campaignId: campaign.id, reason: d.reason }, 'campaign paused: the trunk refused our calls; fix the trunk and resume it')
  }

  /** The contact's state after decision `d`. */
  private next(campaign: Campaign, c: Contact, d: Decision, outcome: AttemptOutcome, at: Date, retryAt?: Date): ContactNext {
    const later = (minutes: number) => new Date(at.getTime() + minutes * 60_000)
    const base = { trunkIndex: c.trunkIndex, uncount: !d.countsAsAttempt }
    switch (d.action) {
      case 'done':
        return { ...base, state: 'done' }
      case 'retry':
        return { ...base, state: 'pending', nextAttemptAt: retryAt ?? later(d.delayMinutes ?? 0) }
      case 'never':
        if (d.rule === 'exhausted') return { ...base, state: 'exhausted' }
        return outcome.conversation === 'do-not-call'
          ? { ...base, state: 'do-not-call', doNotCall: `the callee asked not to be called (call ${c.lastCallId ?? ''})` }
          : { ...base, state: 'failed' }
      case 'pause-campaign':
        // the contact is called when the campaign is resumed; the refused call is not its fault
        return { ...base, state: 'pending', nextAttemptAt: at, uncount: true }
      case 'failover': {
        const nextTrunk = c.trunkIndex + 1
        if (nextTrunk < campaign.trunks.length) return { state: 'pending', nextAttemptAt: at, trunkIndex: nextTrunk, uncount: true }
        return { state: 'pending', nextAttemptAt: later(ALL_TRUNKS_FAILED_MIN), trunkIndex: 0, uncount: false }
      }
    }
  }

  /**
   * Contacts left dialing: by this instance's previous run (at start) or by an instance whose lease
   * ran out. A contact whose attempt was never written never rang: it goes back. Otherwise its call
   * may have rung, so it is settled from the call's record and never re-dialled at once.
   */
  private async recover(ownPrevious: boolean): Promise<void> {
    const at = this.now()
    const orphans = await this.deps.store.orphans(this.deps.instanceId, at, this.leaseMs, ownPrevious)
    for (const { contact, attempted } of orphans) {
      if (!attempted) {
        await this.deps.store.unclaim(contact, this.deps.instanceId, at)
        continue
      }
      const campaign = await this.deps.store.get(contact.campaignId)
      const running = campaign && this.parse(campaign)
      if (!running) continue
      const outcome = attemptOutcomeOf(contact.lastCallId ? await this.deps.callRecord(contact.lastCallId) : null)
      this.log.warn(
        { campaignId: contact.campaignId, contactId: contact.id, callId: contact.lastCallId, outcome },
        'campaign call left by a stopped dialer: settled from its record',
      )
      await this.settle(running, contact, outcome, decide(running.policy, outcome, contact.attempts - 1), at)
    }
  }

  /** Starts no more calls; the calls in progress go on, and their ends are settled (see settled). */
  async stop(): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    await this.ticking
  }

  /** Once the calls are over: every ended attempt written (before the store closes). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.settling])
  }
}
