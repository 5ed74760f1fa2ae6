import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import { createOffer, negotiate, offerCryptoFor, readAnswer, type LocalMedia, type ReadAnswerResult } from '../../sip/sdp/negotiate.ts'
import type { CallControl, InboundCall, SipEndReason } from '../../sip/ua/call-control.ts'
import type { AdmitVerdict, LiveCallSummary } from '../../cluster/types.ts'
import { Call, type CallDeps, type CallOptions, type CallResult } from './call.ts'
import type { CallDirection, CallPatch } from '../../crm/call-store.ts'

/** A call ready to talk: what runAnswered needs of either direction. */
export interface AnsweredCall {
  id: string
  sip: InboundCall
  port: number
  neg: Extract<ReadAnswerResult, { ok: true }>
  local: LocalMedia
  /** our SDP answer still to send in the 200 (inbound with an offer); null: answered already */
  answer: string | null
  startedAt: Date
  direction: CallDirection
  log: Logger
  options?: CallOptions
}

/** A live call as the manager keeps it: the call, its port, and when its dialog ended. */
interface LiveCall {
  call: Call
  port: number
  /** what the call list shows of it while it lasts */
  summary: Omit<LiveCallSummary, 'answeredAt' | 'codec' | 'turnCount'>
  /** performance.now() when the SIP dialog ended; the call should be finished soon after. */
  sipEndedAt?: number
}

/** Broken invariants at one check: each should be zero at every moment after start-up. */
export interface InvariantReport {
  /** live calls whose dialog ended longer than the grace ago */
  liveWithoutDialog: string[]
  /** RTP ports taken from the pool that no live call holds */
  portsWithoutCall: number[]
  /** this instance's call rows without an end that no call in progress owns (left behind) */
  rowsWithoutCall: string[]
}

/** This instance's call rows without an end; null when the database cannot tell right now
 *  (unreachable, or writes still waiting in the journal). */
export type OpenRows = () => Promise<string[] | null>

/** What the call lifecycle asks of the instances' shared state (cluster/cluster.ts, with REDIS_URL). */
export interface ClusterHooks {
  /** A cluster-wide slot for a new inbound call; bounded in time, never rejects. */
  admit(callId: string, remote: string): Promise<AdmitVerdict>
  /** The call is over (refused or finished): its slot, if any, is free. */
  release(callId: string): void
  /** The live calls changed (one began or ended). */
  callsChanged(): void
  /** this instance's id, written into its live calls */
  readonly id: string
}

/**
 * Admission and lifecycle of inbound calls: a record from the first INVITE, an RTP
 * port pair (503 when none is left), SDP negotiation (488 when nothing fits), then the
 * Call runs and everything is released whatever the outcome. Calls we place (Originator)
 * join at runAnswered once the callee answered; while they ring their ports are tracked here. A watchdog checks that every
 * call reaches a final state: a call still live well after its dialog ended is ended by force.
 */
export class CallManager {
  private readonly calls = new Map<string, LiveCall>()
  /** Calls between their INVITE and their live entry (or refusal): their rows are open, rightly. */
  private readonly admitting = new Map<string, number | undefined>()
  /** Every call seen since the invariant check began: one that starts and ends while the
   *  database is being asked is not a row left behind. */
  private readonly seen = new Set<string>()
  private readonly afterCalls = new Set<Promise<void>>()
  private readonly log: Logger
  private readonly watchdog: NodeJS.Timeout
  private closing = false
  private cluster: ClusterHooks | undefined

  /** How long a call may stay live after its dialog ended before the watchdog gives up on it:
   *  64*T1 (32 s by default), the longest any SIP transaction of its may still run. */
  private readonly graceMs: number

  constructor(
    callControl: CallControl,
    private readonly deps: CallDeps,
    private readonly openRows: OpenRows = async () => null,
  ) {
    this.log = deps.logger
    this.graceMs = 64 * deps.config.sip.t1Ms
    callControl.on('call', (sip) => {
      this.onCall(sip).catch((err) => {
        this.log.error({ err, sipCallId: sip.sipCallId }, 'call failed')
        sip.reject(500) // a no-op once answered; otherwise the INVITE would wait for ever
      })
    })
    this.watchdog = setInterval(
      () => void this.check().catch((err) => this.log.error({ err }, 'invariant check failed')),
      Math.min(5000, this.graceMs / 4),
    ).unref()
  }

  /** A call in progress, by id. */
  liveCall(id: string): Call | undefined {
    return this.calls.get(id)?.call
  }

  get liveCount(): number {
    return this.calls.size
  }

  /** False once shutting down: no new call, either way. */
  get accepting(): boolean {
    return !this.closing
  }

  /** A call placed by us holds `port` while it rings: it is the call's (see invariants), and so is its open row. */
  track(id: string, port: number): void {
    this.admitting.set(id, port)
    this.seen.add(id)
  }

  /** The placed call ended before it was answered (its port is released by the caller). */
  untrack(id: string): void {
    this.admitting.delete(id)
  }

  /** With REDIS_URL: admission takes a cluster-wide slot, and live calls are published. */
  useCluster(cluster: ClusterHooks): void {
    this.cluster = cluster
  }

  /** The calls in progress as the call list shows them, newest first. */
  liveSummaries(): LiveCallSummary[] {
    return [...this.calls.values()]
      .map(({ call, summary }) => {
        const v = call.liveView() as { answeredAt: string | null; codec: string | null; turns: unknown[] }
        return { ...summary, answeredAt: v.answeredAt, codec: v.codec, turnCount: v.turns.length }
      })
      .sort((a, b) => (a.startedAt < b.startedAt ? 1 : -1))
  }

  private async onCall(sip: InboundCall): Promise<void> {
    const id = randomUUID()
    this.admitting.set(id, undefined)
    this.seen.add(id)
    try {
      await this.admitAndRun(id, sip)
    } finally {
      this.admitting.delete(id)
      this.cluster?.release(id)
    }
  }

  private async admitAndRun(id: string, sip: InboundCall): Promise<void> {
    const { store, metrics, config, media } = this.deps
    const log = this.log.child({ callId: id, sipCallId: sip.sipCallId })
    if (this.closing) {
      log.info('incoming call while shutting down: 503')
      return sip.reject(503, 'shutting down')
    }
    log.info({ from: sip.fromUri, to: sip.toUri, remote: sip.remote }, 'incoming call')
    const startedAt = new Date()
    // the cluster-wide limits (SIP_MAX_CALLS, SIP_MAX_CALLS_PER_SOURCE across instances): the
    // local gate has admitted the call already; at most ~100 ms, then the local limits alone decide
    const verdict = this.cluster ? await this.cluster.admit(id, sip.remote.address) : 'ok'
    try {
      await store.createCall({ id, sipCallId: sip.sipCallId, direction: 'inbound', fromUri: sip.fromUri, toUri: sip.toUri, callerId: sip.callerId, startedAt })
    } catch (err) {
      log.error({ err }, 'call record not created; the call goes on without it')
    }
    // a caller refused at capacity rang for nothing: `missed` writes the end with the CRM steps (a
    // "call back" to-do), as for a call cancelled while ringing; a call we cannot talk to (488) gets none
    const refuse = async (status: number, reason: string, result: CallResult, opts: { headers?: Record<string, string>; missed?: boolean } = {}) => {
      log.warn({ status, reason, missed: !!opts.missed }, 'call refused')
      sip.reject(status, reason, opts.headers)
      metrics.calls.labels(result).inc()
      await this.endUnanswered(id, { endedAt: new Date(), result, endReason: `${status} ${reason}` }, !!opts.missed, log)
    }
    const retry = { headers: { 'Retry-After': String(this.deps.config.inbound.retryAfterS) }, missed: true }
    if (verdict === 'total') return refuse(503, 'Too Many Calls', 'failed', retry)
    if (verdict === 'source') return refuse(503, 'Too Many Calls From This Source', 'failed', retry)
    const port = await media.allocate()
    this.admitting.set(id, port ?? undefined)
    if (port === null) return refuse(503, 'no RTP ports left', 'failed', { missed: true })

    const local: LocalMedia = {
      address: config.publicIp,
      port,
      codecs: config.codecs,
      sessionId: String(Date.now()),
      sessionVersion: 1,
      srtp: this.deps.srtpPolicy?.(sip.remote.address) ?? config.srtp,
    }
    let neg: ReadAnswerResult
    let answer: string | null = null
    if (sip.offer) {
      const answered = negotiate(sip.offer, local)
      if (!answered.ok) {
        media.release(port)
        return refuse(488, answered.reason, 'failed')
      }
      neg = answered
      answer = answered.answer
      sip.progress(180)
    } else {
      // Delayed offer (RFC 3261 §13.2.1): our offer goes in the 200, the caller's answer comes
      // in the ACK, so the media session can only be opened once the ACK is here.
      const delayed = await this.answerDelayedOffer(sip, local, log)
      if (!delayed.ok) {
        media.release(port)
        metrics.calls.labels(delayed.result).inc()
        // cancelled while ringing: a missed call, with its CRM steps
        await this.endUnanswered(id, { endedAt: new Date(), result: delayed.result, endReason: delayed.endReason }, delayed.result === 'cancelled', log)
        return
      }
      neg = delayed.neg
    }

    await this.runAnswered({ id, sip, port, neg, local, answer, startedAt, direction: 'inbound', log })
  }

  /**
   * The record of an inbound call that ends before our answer. A missed one (the caller rang: it was
   * cancelled while ringing, or refused at capacity) is finished with the CRM steps in the same
   * transaction (CallStore.finishCall), so the CRM gets a "call back" for it; any other only gets its end.
   */
  private async endUnanswered(id: string, end: CallPatch, missed: boolean, log: Logger): Promise<void> {
    try {
      if (missed) await this.deps.store.finishCall(id, end)
      else await this.deps.store.updateCall(id, end)
      if (missed) log.info({ result: end.result, endReason: end.endReason }, 'missed call recorded with its CRM steps')
    } catch (err) {
      log.warn({ err }, 'call record not finished')
    }
  }

  /**
   * A call whose media is negotiated (inbound: before our 200; outbound: after the callee's):
   * its media session opens, the conversation runs, and everything is released and recorded
   * whatever the outcome. The port is the call's from here on.
   */
  async runAnswered(a: AnsweredCall): Promise<void> {
    const { metrics, config, media } = this.deps
    const { id, sip, port, neg, local, answer, startedAt, log } = a
    log.info({ codec: neg.codec.name, srtp: neg.srtp?.suite ?? 'off' }, 'media negotiated')
    const session = media.open(
      {
        callId: id,
        port,
        codec: neg.codec.name,
        payloadType: neg.codec.payloadType,
        telephoneEventPt: neg.telephoneEvent?.payloadType,
        remote: neg.remote,
        rtcpMux: neg.rtcpMux,
        signallingAddress: sip.remote.address,
        jitter: config.jitter,
        cname: `voice-agent-${id}@${config.publicIp}`,
        srtp: neg.srtp,
        // the answer's ptime (10-60 ms), on the worker's 10 ms clock
        ptimeMs: neg.ptime,
        opusComplexity: config.opus.complexity,
        direction: neg.direction,
        bargeIn: { minSpeechMs: config.bargeIn.minSpeechMs, echo: { tailMs: config.bargeIn.echoTailMs, marginDb: config.bargeIn.echoMarginDb } },
      },
      log,
    )
    const call = new Call(id, sip, session, neg, local, { ...this.deps, logger: log }, a.options)
    const summary = {
      id,
      sipCallId: sip.sipCallId,
      direction: a.direction,
      fromUri: sip.fromUri,
      toUri: sip.toUri,
      callerId: sip.callerId,
      startedAt: startedAt.toISOString(),
      endedAt: null,
      result: null,
      endReason: null,
      recordingPath: null,
      recordingError: null,
      leadOutcome: null,
      live: true as const,
      instance: this.cluster?.id ?? '',
    }
    const entry: LiveCall = { call, port, summary }
    sip.once('ended', () => (entry.sipEndedAt = performance.now()))
    this.calls.set(id, entry)
    this.admitting.delete(id)
    metrics.activeCalls.inc()
    this.cluster?.callsChanged()
    let result: CallResult = 'failed'
    try {
      result = await Promise.race([call.run(answer), call.aborted])
    } catch (err) {
      call.fault(err, 'dialog')
    } finally {
      try {
        await call.finish(result)
      } catch (err) {
        log.error({ err }, 'call record not finished')
      }
      this.calls.delete(id)
      this.cluster?.release(id)
      this.cluster?.callsChanged()
      media.release(port)
      metrics.activeCalls.dec()
      metrics.calls.labels(result).inc()
      log.info({ result }, 'call finished')
      // The port pair and the live entry are free already; the summary may still be written.
      const after = call.afterCall
      this.afterCalls.add(after)
      void after.finally(() => this.afterCalls.delete(after))
    }
  }

  /**
   * An INVITE without SDP: 180, then our offer (every codec we take) in the 200; the ACK brings
   * the answer. No usable answer in the ACK: BYE, and the call failed as 'bad-answer'.
   */
  private async answerDelayedOffer(
    sip: InboundCall,
    local: LocalMedia,
    log: Logger,
  ): Promise<{ ok: true; neg: Extract<ReadAnswerResult, { ok: true }> } | { ok: false; result: CallResult; endReason: string }> {
    const sipEnd: { reason?: SipEndReason } = {}
    sip.once('ended', (reason) => (sipEnd.reason = reason))
    const endedWith = (): SipEndReason | undefined => sipEnd.reason
    sip.progress(180)
    const delay = this.deps.config.answerDelayMs
    // a CANCEL during the delay ends the wait: the missed call is recorded at once
    if (delay > 0) await new Promise<void>((r) => (setTimeout(r, delay).unref(), sip.once('ended', () => r())))
    if (sipEnd.reason) return { ok: false, result: sipEnd.reason === 'cancelled' ? 'cancelled' : 'failed', endReason: sipEnd.reason }
    let ackBody: string | undefined
    const crypto = offerCryptoFor(local.srtp ?? 'off')
    try {
      ackBody = await sip.answer(createOffer({ ...local, crypto }))
    } catch (err) {
      log.warn({ err }, 'delayed-offer call not confirmed')
      const reason = endedWith() ?? 'ack-timeout'
      return { ok: false, result: reason === 'remote-bye' ? 'caller-hangup' : 'failed', endReason: reason }
    }
    const neg = readAnswer(ackBody, local, crypto)
    if (!neg.ok) {
      log.warn({ reason: neg.reason }, 'delayed offer: no usable answer in the ACK; BYE')
      await sip.hangup('bad-answer')
      return { ok: false, result: 'failed', endReason: 'bad-answer' }
    }
    return { ok: true, neg }
  }

  /** What is wrong right now; exported as metrics and asserted by the fault tests. */
  async invariants(): Promise<InvariantReport> {
    // a call that finishes while the query runs was known before it; one admitted meanwhile is seen
    const before = new Set([...this.calls.keys(), ...this.admitting.keys()])
    this.seen.clear()
    const rows = await this.openRows().catch(() => null)
    const rowsWithoutCall = (rows ?? []).filter((id) => !before.has(id) && !this.seen.has(id))
    const now = performance.now()
    // ports of calls being admitted (negotiating) are theirs already
    const held = new Set<number>([...this.admitting.values()].filter((p) => p !== undefined))
    const liveWithoutDialog: string[] = []
    for (const [id, l] of this.calls) {
      held.add(l.port)
      const bridge = l.call.bridgePort
      if (bridge !== undefined) held.add(bridge)
      if (l.sipEndedAt !== undefined && now - l.sipEndedAt > this.graceMs) liveWithoutDialog.push(id)
    }
    const portsWithoutCall = [...this.deps.media.inUse].filter((p) => !held.has(p))
    return { liveWithoutDialog, portsWithoutCall, rowsWithoutCall }
  }

  /** The watchdog: reports broken invariants and ends, by force, a call its dialog left behind. */
  private async check(): Promise<void> {
    const report = await this.invariants()
    const m = this.deps.metrics.invariantViolations
    m.labels('live_without_dialog').set(report.liveWithoutDialog.length)
    m.labels('ports_without_call').set(report.portsWithoutCall.length)
    m.labels('rows_without_call').set(report.rowsWithoutCall.length)
    if (report.portsWithoutCall.length) this.log.error({ ports: report.portsWithoutCall }, 'invariant broken: RTP ports held by no call')
    if (report.rowsWithoutCall.length) this.log.error({ callIds: report.rowsWithoutCall }, 'invariant broken: call rows without an end and without a call')
    for (const id of report.liveWithoutDialog) {
      this.log.error({ callId: id }, 'invariant broken: call live without a dialog; ending it')
      this.calls.get(id)?.call.abort('watchdog')
    }
  }

  /**
   * Ends every live call with BYE (`ended` reports 'shutdown'; the lead says so) and refuses new
   * ones with 503; resolves when all of them are finished, forcing those still live at `graceMs`.
   */
  async shutdown(graceMs: number): Promise<void> {
    this.closing = true
    for (const l of this.calls.values()) void l.call.hangup('shutdown').catch(() => {})
    const deadline = Date.now() + graceMs
    while (this.calls.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    for (const l of this.calls.values()) l.call.abort('shutdown')
    // finishing writes the records; storage that hangs must not hold the process for ever
    const last = Date.now() + 5000
    while (this.calls.size && Date.now() < last) await new Promise((r) => setTimeout(r, 20))
    clearInterval(this.watchdog)
  }

  /** Resolves when the work finished calls left behind (summaries) is done. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.afterCalls])
  }
}
