import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { makeResponse } from '../message/serialize.ts'
import type { Remote, SipRequest, SipResponse } from '../message/types.ts'
import { Dialog, newTag } from '../dialog/dialog.ts'
import type { InviteServerTransaction } from '../transaction/invite-server.ts'
import { Retransmitter } from '../transaction/timers.ts'
import {
  type DialOptions,
  type InboundCall,
  type OutboundCall,
  type InboundCallEvents,
  type SessionChange,
  type SipEndReason,
  type TransferOptions,
  type TransferResult,
} from './call-control.ts'
import { referTransfer } from './refer-transfer.ts'
import { callerIdOf } from './caller-id.ts'
import { ReferSubscription } from './refer-subscription.ts'
import { ReliableProvisionals } from './reliable-provisional.ts'
import { SessionTimer, intervalTooSmall, optionTags } from './session-timer.ts'
import { ALLOW, SUPPORTED } from './uas-checks.ts'
import { sendSessionRefresh } from './session-refresh.ts'
import type { DialogUsage, ServerTx, UaContext } from './ua-context.ts'

/** A 2xx to an INVITE that is retransmitted until its ACK arrives (RFC 3261 §13.3.1.4). */
interface PendingOk {
  cseq: number
  retransmitter: Retransmitter
  acked: (ack: SipRequest) => void
  /** The dialog ended before the ACK (a BYE or CANCEL overtook it, a shutdown). */
  failed: (reason: SipEndReason) => void
}

/**
 * The UAS side of one call: the INVITE server transaction, the dialog it creates,
 * the 2xx retransmissions, and the requests the caller sends inside the dialog.
 */
export class ServerCall extends EventEmitter<InboundCallEvents> implements InboundCall, DialogUsage {
  readonly dialog: Dialog
  readonly sipCallId: string
  readonly fromUri: string
  readonly toUri: string
  readonly callerId: string
  readonly offer: string | undefined
  private state: 'offered' | 'answering' | 'confirmed' | 'ended' = 'offered'
  private pendingOk: PendingOk | undefined
  referSub: ReferSubscription | undefined
  /** The last description we sent (answer or offer): offered again to an offerless re-INVITE nobody handles. */
  localSdp: string | undefined
  /** The 200 to the INVITE has gone out (until then a hang-up is a final error response). */
  private okSent = false
  /** answer() waits for its ACK (or for the PRACKs before its 200): how to tell it the dialog ended */
  private answerFailed: ((reason: SipEndReason) => void) | undefined
  /** RFC 3262, when the caller asked for it (Require or Supported: 100rel) */
  private readonly provisionals: ReliableProvisionals | undefined
  /** RFC 4028 */
  private readonly session: SessionTimer
  /** the caller's Allow has UPDATE: our session refreshes use it instead of a re-INVITE */
  readonly peerAllowsUpdate: boolean
  /** our refresh re-INVITE has no final response yet: a re-INVITE of the caller's crossing it gets 491 */
  private ourInvitePending = false
  readonly log: Logger

  constructor(
    private readonly ctx: UaContext,
    private readonly inviteTx: InviteServerTransaction,
    readonly remote: Remote,
  ) {
    super()
    const invite = inviteTx.request
    this.dialog = new Dialog(invite, remote, newTag(), ctx.local)
    this.sipCallId = invite.headers['call-id']
    this.fromUri = invite.headers.from.uri
    this.toUri = invite.headers.to.uri
    this.callerId = callerIdOf(invite)
    this.offer = invite.content.length ? invite.content : undefined
    this.log = ctx.logger.child({ sipCallId: this.sipCallId })
    const tags = [...optionTags(invite, 'require'), ...optionTags(invite, 'supported')]
    if (tags.includes('100rel')) {
      this.provisionals = new ReliableProvisionals(
        ctx.timers,
        remote.protocol === 'UDP',
        (res) => inviteTx.respond(res),
        (res) => ctx.send(res, remote),
        () => this.onPrackTimeout(),
      )
    }
    this.peerAllowsUpdate = /\bUPDATE\b/i.test(String(invite.headers.allow ?? ''))
    this.session = new SessionTimer(
      ctx.sessionTimer,
      {
        refresh: (headers) => this.refreshSession(headers),
        expire: () => void this.sendBye('session-expired'),
      },
      this.log,
    )
  }

  private response(rq: SipRequest, status: number, extra?: Record<string, string>, sdp?: string): SipResponse {
    const res = makeResponse(rq, status, undefined, extra)
    res.headers.to = { ...res.headers.to, params: { ...res.headers.to.params, tag: this.dialog.localTag } }
    if (status > 100 && status < 300) {
      res.headers.contact = this.dialog.contact()
      res.headers.allow = ALLOW
      res.headers.supported = SUPPORTED
    }
    if (sdp !== undefined) {
      res.headers['content-type'] = 'application/sdp'
      res.content = sdp
    }
    return res
  }

  progress(status: 180 | 183 = 180, sdp?: string): void {
    if (this.state !== 'offered') return
    const res = this.response(this.inviteTx.request, status, undefined, sdp)
    if (this.provisionals) this.provisionals.send(res)
    else this.inviteTx.respond(res)
  }

  answer(sdp: string): Promise<string | undefined> {
    if (this.state !== 'offered') return Promise.reject(new Error(`cannot answer a call in state ${this.state}`))
    this.state = 'answering'
    this.localSdp = sdp
    return new Promise((resolve, reject) => {
      this.answerFailed = (reason) => reject(new Error(`the dialog ended before the ACK: ${reason}`))
      const ok = () => {
        this.provisionals?.stop()
        this.okSent = true
        this.sendOk(
          this.inviteTx,
          sdp,
          (ack) => {
            this.state = 'confirmed'
            this.answerFailed = undefined
            // delayed offer (RFC 3261 §13.2.1): the answer to the offer in our 200 is in the ACK
            resolve(this.offer === undefined ? ack.content : undefined)
          },
          () => reject(new Error('no ACK for 200 OK within 64*T1')),
        )
      }
      // RFC 3262 §3: no 2xx while a reliable provisional awaits its PRACK
      if (this.provisionals) this.provisionals.whenIdle(ok)
      else ok()
    })
  }

  /** RFC 3262 §3: a reliable provisional never PRACKed in 64*T1: 504 and the call is over. */
  private onPrackTimeout(): void {
    if (this.okSent || this.state === 'ended') return
    this.log.warn('no PRACK for our reliable provisional response: 504')
    this.inviteTx.respond(this.response(this.inviteTx.request, 504))
    this.end('prack-timeout')
  }

  /** Sends a 2xx through the INVITE transaction and retransmits it over UDP until the ACK. */
  private sendOk(
    tx: InviteServerTransaction,
    sdp: string,
    onAck: (ack: SipRequest) => void,
    onTimeout: () => void,
    onEnded: (reason: SipEndReason) => void = () => {},
  ): void {
    const res = this.response(tx.request, 200, this.session.negotiate(tx.request), sdp)
    tx.respond(res)
    this.session.arm()
    const retransmitter = new Retransmitter(
      this.ctx.timers,
      this.ctx.timers.T2,
      () => this.ctx.send(res, this.remote),
      () => {
        this.pendingOk = undefined
        this.log.warn('no ACK for our 200 OK: ending the dialog with BYE')
        onTimeout()
        void this.sendBye('ack-timeout')
      },
    )
    this.pendingOk = { cseq: tx.request.headers.cseq.seq, retransmitter, acked: onAck, failed: onEnded }
    retransmitter.start(this.remote.protocol === 'UDP')
  }

  reject(status: number, reason?: string, headers?: Record<string, string>): void {
    // 'answering' without a 200 sent: the 200 still waits for a PRACK
    if (this.state !== 'offered' && !(this.state === 'answering' && !this.okSent)) return
    this.provisionals?.stop()
    const extra = { ...headers, ...(reason && { Reason: `SIP;cause=${status};text="${reason}"` }) }
    this.inviteTx.respond(this.response(this.inviteTx.request, status, Object.keys(extra).length ? extra : undefined))
    this.end('rejected')
  }

  /** Answered and not ended (what a bridged transfer needs to know). */
  isUp(): boolean {
    return this.state === 'confirmed'
  }

  async hangup(reason: SipEndReason = 'local-bye'): Promise<void> {
    if (this.state === 'offered' || (this.state === 'answering' && !this.okSent)) return this.reject(480)
    if (this.state === 'ended') return
    await this.sendBye(reason)
  }

  async transfer(target: string, opts: TransferOptions = {}): Promise<TransferResult> {
    if (this.state !== 'confirmed') return { ok: false, reason: `cannot transfer a call in state ${this.state}` }
    return referTransfer(this, this.dialog.localUri.uri, target, opts)
  }

  /** ReferringCall: REFER in the dialog. */
  async sendRefer(headers: { 'Refer-To': string; 'Referred-By': string }): Promise<{ status: number; reason?: string } | undefined> {
    const refer = this.dialog.createRequest('REFER')
    refer.headers['refer-to'] = headers['Refer-To']
    refer.headers['referred-by'] = headers['Referred-By']
    const res = await this.ctx.request(refer, this.remote)
    return res === 'timeout' ? undefined : res
  }

  endTransferred(): Promise<void> {
    return this.sendBye('transferred')
  }

  dial(target: string, opts: DialOptions): Promise<OutboundCall> {
    return this.ctx.dial(target, opts)
  }

  private async sendBye(reason: SipEndReason): Promise<void> {
    if (this.state === 'ended') return
    this.end(reason)
    const result = await this.ctx.request(this.dialog.createRequest('BYE'), this.remote)
    if (result === 'timeout' || result.status >= 300) {
      this.log.warn({ result: result === 'timeout' ? 'timeout' : result.status }, 'BYE not accepted')
    }
  }

  /** The caller gave up before the answer: 487 to the INVITE (the UA already answered the CANCEL). */
  onCancel(): void {
    if (this.state !== 'offered' && !(this.state === 'answering' && !this.okSent)) return
    this.inviteTx.respond(this.response(this.inviteTx.request, 487))
    this.emit('cancel')
    this.end('cancelled')
  }

  /** ACK for one of our 2xx responses. */
  onAck(rq: SipRequest): void {
    const pending = this.pendingOk
    if (!pending || pending.cseq !== rq.headers.cseq.seq) return
    pending.retransmitter.stop()
    this.pendingOk = undefined
    pending.acked(rq)
  }

  /** A request inside this dialog (RFC 3261 §12.2.2). */
  onRequest(rq: SipRequest, tx: ServerTx): void {
    const seq = rq.headers.cseq.seq
    if (seq <= this.dialog.remoteSeq && rq.method !== 'ACK') {
      tx.respond(this.response(rq, 500, { 'Retry-After': '1' }))
      return
    }
    this.dialog.remoteSeq = seq
    switch (rq.method) {
      case 'BYE':
        tx.respond(this.response(rq, 200))
        if (this.state === 'ended') return
        this.emit('bye')
        this.end('remote-bye')
        return
      case 'INVITE':
        return this.onReinvite(rq, tx as InviteServerTransaction)
      case 'INFO':
        tx.respond(this.response(rq, 200))
        this.emit('info', String(rq.headers['content-type'] ?? ''), rq.content)
        return
      case 'NOTIFY':
        return this.onNotify(rq, tx)
      case 'UPDATE':
        return this.onUpdate(rq, tx)
      case 'PRACK': {
        // RFC 3262 §3: 200 for the PRACK of the outstanding provisional, 481 for any other
        const acked = this.provisionals?.prack(String(rq.headers.rack ?? ''), this.inviteTx.request.headers.cseq.seq) ?? false
        tx.respond(this.response(rq, acked ? 200 : 481))
        if (acked) this.provisionals?.next()
        return
      }
      default:
        tx.respond(this.response(rq, 200, { Allow: ALLOW }))
    }
  }

  /** NOTIFY for the refer subscription of our REFER (RFC 3515 §2.4.4); anything else is refused. */
  private onNotify(rq: SipRequest, tx: ServerTx): void {
    if (!/^\s*refer\b/i.test(String(rq.headers.event ?? ''))) return tx.respond(this.response(rq, 489))
    const sub = this.referSub
    if (!sub || sub.closed) return tx.respond(this.response(rq, 481))
    tx.respond(this.response(rq, 200))
    sub.onNotify(rq.content, rq.headers['subscription-state'])
    if (sub.closed) this.referSub = undefined
  }

  private onReinvite(rq: SipRequest, tx: InviteServerTransaction): void {
    if (this.pendingOk || this.ourInvitePending || this.state !== 'confirmed') {
      tx.respond(this.response(rq, 491)) // RFC 3261 §14.2: an INVITE is still pending (theirs or ours).
      return
    }
    if (this.intervalTooSmall(rq, tx)) return
    tx.respond(makeResponse(rq, 100)) // the listener may take its time over the offer
    const offer = rq.content.length ? rq.content : undefined
    this.changeSession(
      'INVITE',
      rq,
      offer,
      (sdp) =>
        new Promise((resolve) => {
          this.sendOk(
            tx,
            sdp,
            (ack) => resolve(offer === undefined ? ack.content : undefined),
            () => resolve(undefined),
            () => resolve(undefined),
          )
        }),
      () => tx.respond(this.response(rq, 488)),
    )
  }

  /**
   * UPDATE (RFC 3311): without SDP a session refresh (RFC 4028), answered 200 at once; with an
   * offer a session change, answered in the 200 (no ACK). Before our answer to the INVITE the
   * initial offer/answer is not complete: 500 with Retry-After (§5.2); while our 200 with an offer
   * waits for its ACK: 491.
   */
  private onUpdate(rq: SipRequest, tx: ServerTx): void {
    if (this.intervalTooSmall(rq, tx)) return
    const offer = rq.content.length ? rq.content : undefined
    const refresh = this.state === 'confirmed'
    if (!offer) {
      tx.respond(this.response(rq, 200, refresh ? this.session.negotiate(rq) : undefined))
      if (refresh) this.session.arm()
      return
    }
    if (!refresh) return tx.respond(this.response(rq, 500, { 'Retry-After': '1' }))
    if (this.pendingOk) return tx.respond(this.response(rq, 491))
    this.changeSession(
      'UPDATE',
      rq,
      offer,
      async (sdp) => {
        tx.respond(this.response(rq, 200, this.session.negotiate(rq), sdp))
        this.session.arm()
        return undefined
      },
      () => tx.respond(this.response(rq, 488)),
    )
  }

  /** RFC 4028 §8.1 inside the dialog: a refresh asking for less than our Min-SE gets 422. */
  private intervalTooSmall(rq: SipRequest, tx: ServerTx): boolean {
    const minSe = intervalTooSmall(rq, this.ctx.sessionTimer)
    if (minSe === undefined) return false
    tx.respond(this.response(rq, 422, { 'Min-SE': String(minSe) }))
    return true
  }

  private refreshSession(headers: Record<string, string>): Promise<SipResponse | 'timeout'> {
    if (this.state !== 'confirmed') return Promise.resolve('timeout')
    return sendSessionRefresh(this.ctx, this, headers)
  }

  invitePending(on: boolean): void {
    this.ourInvitePending = on
  }

  /** Hands a re-INVITE or UPDATE to whoever listens for `modify`, as one SessionChange. */
  private changeSession(
    method: 'INVITE' | 'UPDATE',
    rq: SipRequest,
    offer: string | undefined,
    ok: (sdp: string) => Promise<string | undefined>,
    refuse: () => void,
  ): void {
    let settled = false
    const once = () => {
      if (settled || this.state === 'ended') return false
      settled = true
      return true
    }
    const change: SessionChange = {
      method,
      offer,
      accept: (sdp) => {
        if (!once()) return Promise.resolve(undefined)
        this.localSdp = sdp
        return ok(sdp)
      },
      refuse: () => {
        if (once()) refuse()
      },
    }
    if (this.listenerCount('modify') > 0) return void this.emit('modify', change)
    // nobody to judge an offer; a request for ours gets the description already agreed
    if (offer === undefined && this.localSdp !== undefined) void change.accept(this.localSdp)
    else change.refuse()
  }

  private end(reason: SipEndReason): void {
    if (this.state === 'ended') return
    this.state = 'ended'
    this.session.stop()
    this.provisionals?.stop()
    const answerFailed = this.answerFailed
    this.answerFailed = undefined
    // A 2xx still waiting for its ACK: stop sending it, and tell whoever waits for the ACK.
    const pending = this.pendingOk
    this.pendingOk = undefined
    pending?.retransmitter.stop()
    pending?.failed(reason)
    answerFailed?.(reason)
    this.ctx.dialogGone(this.dialog)
    this.log.info({ reason }, 'dialog ended')
    this.emit('ended', reason)
    // Our BYE may still be in its client transaction for 64*T1 (a caller that never answers
    // it), and it keeps this object: it must not keep the call's media and recording with it.
    this.removeAllListeners()
  }
}
