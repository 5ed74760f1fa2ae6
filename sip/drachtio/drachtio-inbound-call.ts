import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type Srf from 'drachtio-srf'
import type { Remote, SipRequest } from '../message/types.ts'
import type {
  DialOptions,
  InboundCall,
  InboundCallEvents,
  MediaAnchor,
  OutboundCall,
  SessionChange,
  SipEndReason,
  TransferOptions,
  TransferResult,
} from '../ua/call-control.ts'
import { referTransfer } from '../ua/refer-transfer.ts'
import { callerIdOf } from '../ua/caller-id.ts'
import { ReferSubscription } from '../ua/refer-subscription.ts'
import { ALLOW } from '../ua/uas-checks.ts'
import { optionTags } from '../ua/session-timer.ts'
import { dialogRequest, sipErrorStatus } from './srf-message.ts'
import type { AnchoredMedia, FreeswitchMedia } from './freeswitch-media.ts'
import { answerDirection, audioKey } from '../sdp/re-offer.ts'

/** 64*T1 with the RFC's T1: our 2xx is given up on when no ACK came (drachtio-server retransmits it meanwhile). */
const ACK_TIMEOUT_MS = 32_000
const SDP = { 'Content-Type': 'application/sdp' }
/** Retry-After of a 503 while FreeSWITCH is away: drachtio-modesl retries its ESL link within seconds. */
export const MEDIA_RETRY_AFTER_S = 5
/** Option tags in this mode: session timers are drachtio-server's; reliable provisionals are ours
 *  (drachtio-server retransmits a 18x sent with Require: 100rel and passes its PRACK on). */
export const DRACHTIO_SUPPORTED = '100rel, timer'

/**
 * One inbound call through drachtio-server: the INVITE's transaction and the dialog live in
 * drachtio-server (100 Trying, retransmissions, the 487 after a CANCEL are its own); this object
 * keeps the call's state and turns drachtio-srf's events into the `InboundCall` contract.
 */
export class DrachtioInboundCall extends EventEmitter<InboundCallEvents> implements InboundCall {
  readonly sipCallId: string
  readonly fromUri: string
  readonly toUri: string
  readonly callerId: string
  readonly offer: string | undefined
  /** MEDIA_BACKEND=freeswitch: the caller's offer goes to FreeSWITCH, and the call is a delayed
   *  offer to the media core (our offer in answer(), FreeSWITCH's answer as the ACK's) */
  private callerOffer: string | undefined
  private anchored: AnchoredMedia | undefined
  private state: 'offered' | 'answering' | 'confirmed' | 'ended' = 'offered'
  private dialog: Srf.Dialog | undefined
  referSub: ReferSubscription | undefined
  private localSdp = ''
  readonly log: Logger
  /** RFC 3262: the caller supports or requires 100rel, so our 18x go reliably */
  private readonly reliable: boolean
  /** the reliable 18x not PRACKed yet (one at a time); the 200 waits for it */
  private unacked: { prack: () => void; acked: Promise<void> } | undefined

  constructor(
    private readonly srf: Srf,
    private readonly req: Srf.SrfRequest,
    private readonly res: Srf.SrfResponse,
    invite: SipRequest,
    readonly remote: Remote,
    readonly dial: (target: string, opts: DialOptions) => Promise<OutboundCall>,
    logger: Logger,
    private readonly media?: FreeswitchMedia,
  ) {
    super()
    this.sipCallId = invite.headers['call-id']
    this.fromUri = invite.headers.from.uri
    this.toUri = invite.headers.to.uri
    this.callerId = callerIdOf(invite)
    this.callerOffer = invite.content.length ? invite.content : undefined
    // with FreeSWITCH the media core always offers (to FreeSWITCH's second endpoint), whatever the caller sent
    this.offer = media ? undefined : this.callerOffer
    this.log = logger.child({ sipCallId: this.sipCallId })
    this.reliable = [...optionTags(invite, 'supported'), ...optionTags(invite, 'require')].includes('100rel')
    // drachtio-server has answered the CANCEL 200 and the INVITE 487 already
    req.on('cancel', () => {
      if (this.state !== 'offered' && this.state !== 'answering') return
      this.emit('cancel')
      this.end('cancelled')
    })
  }

  /** InboundCall: FreeSWITCH holding the caller's media, once answered (a bridged transfer is put through in it) */
  get anchor(): MediaAnchor | undefined {
    return this.anchored
  }

  progress(status: 180 | 183 = 180, sdp?: string): void {
    if (this.state !== 'offered') return
    if (!this.reliable) return this.res.send(status, sdp ? { body: sdp, headers: SDP } : {})
    // one reliable provisional outstanding at a time (RFC 3262 §3): a later one would only repeat it
    if (this.unacked) return
    let prack = () => {}
    const acked = new Promise<void>((resolve) => (prack = resolve))
    this.unacked = { prack, acked }
    this.res.send(status, { ...(sdp && { body: sdp }), headers: { ...(sdp && SDP), Require: '100rel' } })
  }

  /** The caller's PRACK (drachtio-server matched its RAck to our reliable 18x): 200, and the 200 to the INVITE may go. */
  prack(res: Srf.SrfResponse): void {
    res.send(200)
    this.unacked?.prack()
  }

  answer(sdp: string): Promise<string | undefined> {
    if (this.state !== 'offered') return Promise.reject(new Error(`cannot answer a call in state ${this.state}`))
    if (this.media && this.callerOffer) return this.answerThroughFreeswitch(this.media, this.callerOffer, sdp)
    if (this.media) return this.offerThroughFreeswitch(this.media, sdp)
    return this.answerCaller(sdp)
  }

  /**
   * An INVITE without SDP with FreeSWITCH in the path: FreeSWITCH's offer goes in our 200, the answer
   * the ACK brings goes to its endpoint, and only then is the media core's endpoint made and bridged
   * (FreeSWITCH drops a channel bridged before it has the caller's answer).
   */
  private async offerThroughFreeswitch(media: FreeswitchMedia, coreOffer: string): Promise<string> {
    const anchored = await this.anchorOr503(() => media.anchor(undefined, this.sipCallId))
    const answer = await this.answerCaller(anchored.callerSdp)
    try {
      if (!answer) throw new Error('the ACK carried no answer to our offer')
      this.callerOffer = answer
      await anchored.reoffer(answer)
      return await anchored.connectCore(coreOffer, answer)
    } catch (err) {
      this.log.warn({ err }, "the caller's answer did not reach FreeSWITCH: BYE")
      void this.bye('bad-answer')
      throw err
    }
  }

  /** FreeSWITCH takes the call's media, or the caller gets 503 with Retry-After. */
  private async anchorOr503(make: () => Promise<AnchoredMedia>): Promise<AnchoredMedia> {
    this.state = 'answering'
    try {
      this.anchored = await make()
      this.anchored.once('ended', () => void this.hangup('media-lost'))
      return this.anchored
    } catch (err) {
      this.log.error({ err }, 'FreeSWITCH did not take the call: 503')
      this.state = 'offered'
      this.reject(503, 'Media Server Unavailable', { 'Retry-After': String(MEDIA_RETRY_AFTER_S) })
      throw err
    }
  }

  /**
   * FreeSWITCH answers the caller's offer, a second endpoint of it answers the media core's offer
   * (`coreOffer`), the two are bridged, and the caller gets FreeSWITCH's answer in our 200. The media
   * core's answer comes back as a delayed offer's does, once the caller's ACK is in.
   */
  private async answerThroughFreeswitch(media: FreeswitchMedia, callerOffer: string, coreOffer: string): Promise<string> {
    let coreAnswer = ''
    const anchored = await this.anchorOr503(async () => {
      const a = await media.anchor(callerOffer, this.sipCallId)
      try {
        coreAnswer = await a.connectCore(coreOffer, a.callerSdp)
        return a
      } catch (err) {
        void a.release()
        throw err
      }
    })
    await this.answerCaller(anchored.callerSdp)
    return coreAnswer
  }

  private async answerCaller(sdp: string): Promise<string | undefined> {
    if (this.state === 'ended') throw new Error('the call ended while its media was being set up')
    this.state = 'answering'
    if (this.unacked) await this.prackFor(this.unacked.acked)
    return this.sendOk(sdp)
  }

  /** RFC 3262 §3: no 2xx before the reliable provisional is PRACKed; none in 64*T1 gets the INVITE a 504. */
  private async prackFor(acked: Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), ACK_TIMEOUT_MS)))
    const ended = new Promise<'ended'>((resolve) => this.once('ended', () => resolve('ended')))
    const outcome = await Promise.race([acked.then(() => 'acked' as const), timedOut, ended])
    clearTimeout(timer)
    if (outcome === 'acked') return
    if (outcome === 'ended') throw new Error('the call ended before its reliable provisional was PRACKed')
    this.log.warn('no PRACK for our reliable provisional: 504')
    this.res.send(504)
    this.end('prack-timeout')
    throw new Error('the reliable provisional was never PRACKed')
  }

  private sendOk(sdp: string): Promise<string | undefined> {
    if (this.state === 'ended') return Promise.reject(new Error('the call ended while its media was being set up'))
    this.localSdp = sdp
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.log.warn('no ACK for our 200: hung up')
        reject(new Error('the dialog ended before the ACK: ack-timeout'))
        void this.bye('ack-timeout')
      }, ACK_TIMEOUT_MS)
      this.once('ended', (reason) => {
        clearTimeout(timer)
        reject(new Error(`the dialog ended before the ACK: ${reason}`))
      })
      this.srf
        .createUAS(this.req, this.res, { localSdp: sdp, headers: { Allow: ALLOW, Supported: DRACHTIO_SUPPORTED } })
        .then((dialog) => {
          // a CANCEL that crossed our 200 ended the call: the dialog has no one left
          if (this.state !== 'answering') return void dialog.destroy()
          this.dialog = dialog
          this.state = 'confirmed'
          this.listen(dialog)
          dialog.once('ack', (ack) => {
            clearTimeout(timer)
            resolve(this.offer === undefined ? (ack.body ?? '') : undefined)
          })
        })
        .catch((err: unknown) => {
          clearTimeout(timer)
          if (this.state === 'ended') return
          this.log.warn({ err, status: sipErrorStatus(err) }, '200 OK not sent')
          reject(err instanceof Error ? err : new Error(String(err)))
          this.end('rejected')
        })
    })
  }

  reject(status: number, reason?: string, headers?: Record<string, string>): void {
    if (this.state !== 'offered') return
    this.res.send(status, { headers: { ...headers, ...(reason && { Reason: `SIP;cause=${status};text="${reason}"` }) } })
    this.end('rejected')
  }

  async hangup(reason: SipEndReason = 'local-bye'): Promise<void> {
    if (this.state === 'offered') return this.reject(480)
    if (this.state === 'ended') return
    await this.bye(reason)
  }

  isUp(): boolean {
    return this.state === 'confirmed'
  }

  async transfer(target: string, opts: TransferOptions = {}): Promise<TransferResult> {
    if (this.state !== 'confirmed' || !this.dialog) return { ok: false, reason: `cannot transfer a call in state ${this.state}` }
    return referTransfer(this, this.toUri, target, opts)
  }

  /** ReferringCall: REFER in the dialog. */
  sendRefer(headers: { 'Refer-To': string; 'Referred-By': string }): Promise<{ status: number; reason?: string } | undefined> {
    return dialogRequest(this.dialog!, 'REFER', headers).catch(() => undefined)
  }

  endTransferred(): Promise<void> {
    return this.bye('transferred')
  }

  /** In-dialog requests: drachtio-srf answers what has no listener 200, so each method we do not serve gets one. */
  private listen(dialog: Srf.Dialog): void {
    dialog.on('destroy', () => {
      if (this.state === 'ended') return
      this.emit('bye')
      this.end('remote-bye')
    })
    dialog.on('info', (req, res) => {
      res.send(200)
      this.emit('info', req.get('Content-Type') ?? '', req.body ?? '')
    })
    dialog.on('modify', (req, res) => this.changeSession('INVITE', req, res))
    dialog.on('update', (req, res) => (req.body ? this.changeSession('UPDATE', req, res) : res.send(200, { headers: refreshHeaders(req) })))
    dialog.on('notify', (req, res) => this.onNotify(req, res))
    // as the embedded stack: a REFER to us (we transfer nobody on a caller's behalf) is 405
    dialog.on('refer', (_req, res) => res.send(405, { headers: { Allow: ALLOW } }))
  }

  /** A re-INVITE (hold, a codec change) or an UPDATE with an offer: the listener of `modify` decides. */
  private changeSession(method: 'INVITE' | 'UPDATE', req: Srf.SrfRequest, res: Srf.SrfResponse): void {
    const offer = req.body ? req.body : undefined
    if (this.anchored) return this.changeAnchoredSession(offer, req, res)
    let decided = false
    const change: SessionChange = {
      method,
      offer,
      accept: (sdp) => {
        if (decided || this.state !== 'confirmed') return Promise.resolve(undefined)
        decided = true
        this.localSdp = sdp
        if (this.dialog) this.dialog.local.sdp = sdp
        res.send(200, { body: sdp, headers: { ...SDP, Allow: ALLOW, Supported: DRACHTIO_SUPPORTED, ...refreshHeaders(req) } })
        // an offerless re-INVITE: our 200 carried the offer and its ACK the answer
        if (method === 'UPDATE' || offer !== undefined || !this.dialog) return Promise.resolve(undefined)
        const dialog = this.dialog
        return new Promise((resolve) => {
          const onEnded = () => resolve(undefined)
          this.once('ended', onEnded)
          dialog.once('ack', (ack) => {
            this.off('ended', onEnded)
            resolve(ack.body ?? '')
          })
        })
      },
      refuse: () => {
        if (decided) return
        decided = true
        res.send(488)
      },
    }
    if (this.listenerCount('modify') > 0) return void this.emit('modify', change)
    if (offer) change.refuse()
    else void change.accept(this.localSdp)
  }

  /** NOTIFY for the refer subscription of our REFER (RFC 3515 §2.4.4); anything else is refused. */
  private onNotify(req: Srf.SrfRequest, res: Srf.SrfResponse): void {
    if (!/^\s*refer\b/i.test(req.get('Event') ?? '')) return res.send(489)
    const sub = this.referSub
    if (!sub || sub.closed) return res.send(481)
    res.send(200)
    sub.onNotify(req.body ?? '', req.has('Subscription-State') ? req.get('Subscription-State') : undefined)
    if (sub.closed) this.referSub = undefined
  }

  private async bye(reason: SipEndReason): Promise<void> {
    if (this.state === 'ended') return
    const dialog = this.dialog
    this.end(reason)
    if (!dialog) return
    try {
      await new Promise<void>((resolve, reject) => dialog.destroy(undefined, (err) => (err ? reject(err) : resolve())))
    } catch (err) {
      this.log.warn({ err }, 'BYE not accepted')
    }
  }

  /**
   * A re-INVITE or UPDATE while FreeSWITCH holds the caller's media. A refresh (no offer, or the same
   * one) gets FreeSWITCH's answer again; a changed offer (moved address, hold, another codec) goes to
   * the caller's FreeSWITCH endpoint as a re-INVITE and its answer comes back; one FreeSWITCH refuses, 488.
   * The media core's leg is untouched: the bridge inside FreeSWITCH carries on.
   */
  private changeAnchoredSession(offer: string | undefined, req: Srf.SrfRequest, res: Srf.SrfResponse): void {
    const anchored = this.anchored!
    const ok = (sdp: string) => res.send(200, { body: sdp, headers: { ...SDP, Allow: ALLOW, Supported: DRACHTIO_SUPPORTED, ...refreshHeaders(req) } })
    const last = this.callerOffer ?? ''
    if (offer === undefined || (audioKey(offer) === audioKey(last) && answerDirection(offer) === answerDirection(last))) return ok(anchored.callerSdp)
    anchored.reoffer(offer).then(
      (answer) => {
        this.callerOffer = offer
        ok(answer)
      },
      (err: unknown) => {
        this.log.warn({ err }, "FreeSWITCH refused the caller's re-offer: 488")
        res.send(488)
      },
    )
  }

  private end(reason: SipEndReason): void {
    if (this.state === 'ended') return
    void this.anchored?.release()
    this.state = 'ended'
    this.log.info({ reason }, 'dialog ended')
    this.emit('ended', reason)
    this.removeAllListeners()
  }
}

/**
 * The 2xx to a session refresh (RFC 4028 §9): the interval and refresher the request names, and
 * Require: timer. drachtio-server rearms its own session timer from the request (and refuses one
 * under its Min-SE with 422), but leaves these headers of the answer to us.
 */
function refreshHeaders(req: Srf.SrfRequest): Record<string, string> {
  const se = req.has('Session-Expires') ? req.get('Session-Expires') : undefined
  if (!se) return {}
  return { 'Session-Expires': /refresher=/.test(se) ? se : `${se};refresher=uac`, Require: 'timer' }
}
