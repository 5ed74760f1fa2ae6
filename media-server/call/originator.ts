import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { CallStore } from '../../crm/call-store.ts'
import { fromUserOf, trunkUser } from '../../sip/trunks/trunk-route.ts'
import { createOffer, offerCryptoFor, readAnswer, type LocalMedia } from '../../sip/sdp/negotiate.ts'
import type { SdesCrypto } from '../../rtp/srtp/sdes.ts'
import { DialError, type CallControl, type OutboundCall } from '../../sip/ua/call-control.ts'
import type { RefusalReason } from '../../sip/trunks/outbound-guard.ts'
import type { Config } from '../config.ts'
import type { MediaPlane } from '../media/media-session.ts'
import type { Metrics } from '../metrics.ts'
import { AnsweredLeg } from './answered-leg.ts'
import type { CallManager } from './call-manager.ts'
import type { OriginateRequest } from './originate-request.ts'
import { dialOutcome, type OutboundState } from './sip-outcome.ts'

export interface OriginatorDeps {
  config: Config
  logger: Logger
  metrics: Metrics
  store: CallStore
  media: MediaPlane
  sip: CallControl
  calls: Pick<CallManager, 'accepting' | 'track' | 'untrack' | 'runAnswered' | 'liveCount'>
  /** draining (SIGTERM, POST /api/drain): no new call */
  draining: () => boolean
}

/** A refusal before any INVITE: 403 with the guard's reason, 503 when draining or at capacity. */
export type OriginateResult =
  { ok: true; id: string } | { ok: false; status: 403; error: string; refusal?: RefusalReason | 'srtp' } | { ok: false; status: 503; error: string }

/** What a placer of many calls (the campaign dialer) gives with each. */
export interface OriginateOptions {
  /** the call's id, chosen by the caller (it is written on the contact before the INVITE) */
  id?: string
  /** called once when a call whose INVITE went out is over and its record finished */
  onEnd?: () => void
}

/** A placed call as the API shows it until it is answered or over. */
export interface PlacedCallView {
  sipCallId: string
  target: string
  trunk: string | null
  state: OutboundState
  /** the last status above 100 the callee's side sent */
  sipStatus: number | null
  earlyMedia: boolean
}

/** Our offer to the callee: our side of the stream, and the a=crypto lines when it was RTP/SAVP. */
interface OurOffer {
  local: LocalMedia
  crypto?: SdesCrypto[]
}

/** One call we are placing: from the guard's yes to the answer or the final response. */
interface Placing {
  id: string
  view: PlacedCallView
  abort: AbortController
  /** the call's row; later writes wait for it */
  created?: Promise<void>
}

/**
 * Places calls on request (POST /api/calls): the toll-fraud guard decides inside dial() before
 * any INVITE; a port pair from the media plane makes our offer; the callee's answer configures
 * the media session, and the call then runs as an inbound one does (CallManager.runAnswered),
 * the bot greeting first. A call that is not answered gets its row with the SIP result.
 */
export class Originator {
  private readonly placing = new Map<string, Placing>()
  private readonly log: Logger

  constructor(private readonly deps: OriginatorDeps) {
    this.log = deps.logger.child({ component: 'outbound' })
  }

  /** A call being placed (not yet answered or over), by id. */
  placed(id: string): PlacedCallView | undefined {
    return this.placing.get(id)?.view
  }

  get count(): number {
    return this.placing.size
  }

  /**
   * Resolves once the INVITE is out (202 for the API, the row written), or with the refusal:
   * 403 from the guard, 503 when draining or out of capacity. The call goes on after.
   */
  async originate(req: OriginateRequest, opts: OriginateOptions = {}): Promise<OriginateResult> {
    const { config, media, calls } = this.deps
    if (!calls.accepting || this.deps.draining()) return { ok: false, status: 503, error: 'draining: no new calls' }
    const max = config.inbound.maxCalls
    if (max > 0 && calls.liveCount + this.placing.size >= max) return { ok: false, status: 503, error: `at capacity: ${max} calls (SIP_MAX_CALLS)` }
    const port = await media.allocate()
    if (port === null) return { ok: false, status: 503, error: 'at capacity: no RTP ports left' }
    const id = opts.id ?? randomUUID()
    calls.track(id, port)
    const p: Placing = {
      id,
      abort: new AbortController(),
      view: { sipCallId: '', target: req.to, trunk: req.trunk ?? null, state: 'calling', sipStatus: null, earlyMedia: false },
    }
    this.placing.set(id, p)
    // the offer is made once the route is known: RTP/SAVP when its trunk (else SRTP) requires it
    const ours: OurOffer = { local: { address: config.publicIp, port, codecs: config.codecs, sessionId: String(Date.now()), sessionVersion: 1 } }
    const log = this.log.child({ callId: id, target: req.uri })
    const ringTimeoutS = config.outbound.ringTimeoutS
    const startedAt = new Date()
    let invited!: (ok: boolean) => void
    const inviteOut = new Promise<boolean>((resolve) => (invited = resolve))
    const dial = this.deps.sip.dial(req.uri, {
      sdp: (route) => {
        ours.local.srtp = route.srtp ?? config.srtp
        ours.crypto = offerCryptoFor(ours.local.srtp)
        return createOffer({ ...ours.local, crypto: ours.crypto })
      },
      ringTimeoutMs: ringTimeoutS * 1000,
      callerId: req.callerId,
      trunk: req.trunk,
      signal: p.abort.signal,
      onInvite: (sipCallId) => {
        p.view.sipCallId = sipCallId
        log.info({ sipCallId, trunk: req.trunk }, 'outbound call: INVITE sent')
        p.created = this.createRow(p, req, startedAt, log)
        void p.created.then(() => invited(true))
      },
      onProgress: (status, sdp) => {
        p.view.state = 'ringing'
        p.view.sipStatus = status
        // early media (183 with SDP): ringback or an announcement; the dialog starts at the 200
        if (sdp) p.view.earlyMedia = true
        log.info({ status, earlyMedia: !!sdp }, 'outbound call: ringing')
      },
    })
    const settled = dial.then(
      (leg) => ({ leg }),
      (err: unknown) => ({ err }),
    )
    void settled.then(async (r) => {
      if ('err' in r && r.err instanceof DialError && r.err.status === 'refused') return invited(false)
      invited(true)
      try {
        if ('leg' in r) await this.answered(p, r.leg, port, ours, req, startedAt, log)
        else await this.unanswered(p, r.err, port, req, startedAt, log)
      } catch (err) {
        log.error({ err }, 'outbound call failed')
      } finally {
        this.placing.delete(id)
        opts.onEnd?.()
      }
    })
    if (await inviteOut) return { ok: true, id }
    const refusal = ((await settled) as { err: DialError }).err
    this.placing.delete(id)
    calls.untrack(id)
    media.release(port)
    return { ok: false, status: 403, error: refusal.message, refusal: refusal.refusal }
  }

  /** Who the callee sees calling: the asked caller id, else the trunk's. */
  private fromUri(req: OriginateRequest): string {
    const trunk = this.deps.config.trunks.find((t) => t.name === req.trunk)
    const user = fromUserOf(trunkUser(trunk), { callerId: req.callerId })
    return `sip:${user}@${trunk?.domain ?? this.deps.config.publicIp}`
  }

  private async createRow(p: Placing, req: OriginateRequest, startedAt: Date, log: Logger): Promise<void> {
    try {
      await this.deps.store.createCall({
        id: p.id,
        sipCallId: p.view.sipCallId || `not-sent-${p.id}`,
        direction: 'outbound',
        fromUri: this.fromUri(req),
        toUri: req.uri,
        callerId: req.to,
        startedAt,
      })
    } catch (err) {
      log.error({ err }, 'call record not created; the call goes on without it')
    }
  }

  /** The callee answered: its SDP sets where our RTP goes, and the conversation runs. */
  private async answered(p: Placing, leg: OutboundCall, port: number, ours: OurOffer, req: OriginateRequest, startedAt: Date, log: Logger): Promise<void> {
    await p.created
    const { local, crypto } = ours
    const neg = readAnswer(leg.answer, local, crypto)
    if (!neg.ok) {
      log.warn({ reason: neg.reason }, 'outbound call answered with no usable SDP: BYE')
      await leg.hangup()
      return this.finishUnanswered(p, port, { result: 'failed', status: 200, reason: `200 with no usable SDP: ${neg.reason}` }, log)
    }
    p.view.state = 'answered'
    p.view.sipStatus = 200
    // written now, not only with the final record: after a crash the answer is known (a campaign
    // does not call again someone who picked up)
    void this.deps.store.updateCall(p.id, { answeredAt: new Date() }).catch((err) => log.error({ err }, 'answer time not recorded'))
    this.deps.metrics.outboundCalls.labels('answered').inc()
    const sip = new AnsweredLeg(leg, this.fromUri(req), req.to)
    try {
      await this.deps.calls.runAnswered({
        id: p.id,
        sip,
        port,
        neg,
        local,
        answer: null,
        startedAt,
        direction: 'outbound',
        log: log.child({ sipCallId: sip.sipCallId }),
        options: { scenarioFile: req.scenario, variables: req.variables, amd: req.amd },
      })
    } catch (err) {
      // the media session did not open: nothing holds the call yet, so it ends here
      log.error({ err }, 'answered call could not start: BYE')
      await leg.hangup()
      return this.finishUnanswered(p, port, { result: 'failed', status: 200, reason: `200, then the call could not start: ${(err as Error).message}` }, log)
    }
  }

  private async unanswered(p: Placing, err: unknown, port: number, req: OriginateRequest, startedAt: Date, log: Logger): Promise<void> {
    if (!p.created) p.created = this.createRow(p, req, startedAt, log) // it failed before any INVITE (e.g. DNS)
    await p.created
    const outcome = dialOutcome(err, { aborted: p.abort.signal.aborted, ringTimeoutS: this.deps.config.outbound.ringTimeoutS })
    return this.finishUnanswered(p, port, outcome, log)
  }

  /** The call ends without a conversation: its port freed, its row finished with the SIP result. */
  private async finishUnanswered(p: Placing, port: number, outcome: { result: OutboundState; status?: number; reason: string }, log: Logger): Promise<void> {
    const { store, media, metrics, calls } = this.deps
    calls.untrack(p.id)
    media.release(port)
    if (p.view.state !== 'answered') metrics.outboundCalls.labels(outcome.result).inc()
    metrics.calls.labels(outcome.result).inc()
    log.info({ result: outcome.result, status: outcome.status, reason: outcome.reason }, 'outbound call not answered')
    await store
      .updateCall(p.id, { endedAt: new Date(), result: outcome.result, endReason: outcome.reason })
      .catch((err) => log.error({ err }, 'call record not finished'))
  }

  /** Cancels every call still ringing (shutdown); each gets its record. */
  async shutdown(graceMs: number): Promise<void> {
    for (const p of this.placing.values()) p.abort.abort()
    const deadline = Date.now() + graceMs
    while (this.placing.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  }
}
