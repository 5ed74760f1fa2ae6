import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { makeResponse } from '../message/serialize.ts'
import type { NameAddr, Remote, SipRequest, SipResponse } from '../message/types.ts'
import { Dialog, hostForUri, localPort, newBranch, newTag } from '../dialog/dialog.ts'
import { DialError, type DialOptions, type OutboundCall, type OutboundCallEvents, type SipEndReason } from './call-control.ts'
import { fromUserOf, type TrunkRoute } from '../trunks/trunk-route.ts'
import { ALLOW, SUPPORTED } from './uas-checks.ts'
import type { DialogUsage, ServerTx, UaContext } from './ua-context.ts'
import type { InviteServerTransaction } from '../transaction/invite-server.ts'
import { Retransmitter } from '../transaction/timers.ts'
import { SessionTimer, intervalTooSmall, optionTags } from './session-timer.ts'
import { ackFor, sendSessionRefresh, type RefreshingCall } from './session-refresh.ts'
import { answerDirection, audioKey, sessionVersion, withDirection } from '../sdp/re-offer.ts'

const DEFAULT_RING_TIMEOUT_MS = 60_000

/**
 * The UAC side of one call the server places (RFC 3261 §13.2): the INVITE, CANCEL on the
 * ring timeout, PRACK for reliable provisionals (RFC 3262), the ACK for every 2xx, then the
 * dialog: BYE either way, session timers (RFC 4028) with us or the callee refreshing, and the
 * callee's re-INVITEs and UPDATEs answered while they leave the media where it is (the leg is
 * relayed: a moved address or another codec gets 488). No forking: the first 2xx makes the dialog.
 */
export class ClientCall extends EventEmitter<OutboundCallEvents> implements OutboundCall, DialogUsage, RefreshingCall {
  readonly sipCallId: string
  answer = ''
  private dialogValue: Dialog | undefined
  private state: 'idle' | 'calling' | 'cancelling' | 'confirmed' | 'ended' = 'idle'
  /** The INVITE last sent: after a 401/407, the one with credentials (new CSeq, same Call-ID). */
  private invite: SipRequest
  private authAnswered = false
  /** our ring timeout fired: a CANCEL that follows is its */
  private ringTimedOut = false
  private ack: SipRequest | undefined
  private provisional = false
  private ringTimer: NodeJS.Timeout | undefined
  readonly log: Logger
  /** RFC 4028, negotiated in our INVITE and its 2xx */
  private readonly session: SessionTimer
  private intervalRaised = false
  /** RFC 3262: the early dialog our PRACKs go in, and the last RSeq acknowledged */
  private early: Dialog | undefined
  private lastRSeq = 0
  /** the callee's Allow named UPDATE: our session refreshes use it */
  peerAllowsUpdate = false
  /** our description as last sent (its direction follows the callee's re-offers) */
  localSdp: string
  private ourInvitePending = false
  /** our 2xx to the callee's re-INVITE, retransmitted until its ACK */
  private pendingOk: { cseq: number; retransmitter: Retransmitter } | undefined

  constructor(
    private readonly ctx: UaContext,
    readonly targetUri: string,
    readonly remote: Remote,
    private readonly opts: DialOptions & { sdp: string },
    /** Through a trunk: its caller id in From and P-Asserted-Identity, its credentials, its proxy. */
    private readonly trunk?: TrunkRoute,
  ) {
    super()
    const host = hostForUri(ctx.local.host)
    const user = fromUserOf(trunk?.fromUser, opts)
    const fromUri = trunk ? `sip:${user}@${trunk.fromHost}` : `sip:${user}@${host}`
    this.sipCallId = `${randomBytes(8).toString('hex')}@${host}`
    this.localSdp = opts.sdp
    const transport = remote.protocol === 'UDP' ? '' : `;transport=${remote.protocol.toLowerCase()}`
    const port = localPort(ctx.local, remote.protocol)
    const contact: NameAddr = { uri: `sip:${user}@${host}:${port}${transport}`, params: {} }
    this.invite = {
      method: 'INVITE',
      uri: targetUri,
      version: '2.0',
      headers: {
        via: [{ version: '2.0', protocol: remote.protocol, host, port, params: { branch: newBranch(), rport: null } }],
        'max-forwards': '70',
        from: { uri: fromUri, params: { tag: newTag() } },
        to: { uri: targetUri, params: {} },
        'call-id': this.sipCallId,
        cseq: { seq: 1, method: 'INVITE' },
        contact: [contact],
        allow: ALLOW,
        supported: SUPPORTED,
        'content-type': 'application/sdp',
      },
      content: opts.sdp,
    }
    if (trunk) this.invite.headers['p-asserted-identity'] = `<${fromUri}>`
    if (trunk?.route) this.invite.headers.route = [{ uri: trunk.route, params: {} }]
    this.log = ctx.logger.child({ sipCallId: this.sipCallId, direction: 'outbound', ...(trunk && { trunk: trunk.trunk }) })
    this.session = new SessionTimer(
      ctx.sessionTimer,
      {
        refresh: (headers) => (this.state === 'confirmed' ? sendSessionRefresh(ctx, this, headers) : Promise.resolve('timeout')),
        expire: () => void this.sendBye('session-expired'),
      },
      this.log,
    )
    Object.assign(this.invite.headers, this.session.offerHeaders())
  }

  get dialog(): Dialog {
    if (!this.dialogValue) throw new Error('outbound call has no dialog before its 2xx')
    return this.dialogValue
  }

  /** Sends the INVITE; resolves once the callee answered and the ACK is sent. */
  start(): Promise<void> {
    if (this.state !== 'idle') return Promise.reject(new Error('outbound call already started'))
    this.state = 'calling'
    return new Promise((resolve, reject) => {
      const fail = (err: DialError) => {
        clearTimeout(this.ringTimer)
        this.state = 'ended'
        this.log.info({ status: err.status }, 'outbound call not answered')
        reject(err)
      }
      this.ringTimer = setTimeout(() => {
        this.ringTimedOut = true
        if (this.provisional) this.cancel()
        else fail(new DialError('timeout', `no answer from ${this.targetUri} in ${this.opts.ringTimeoutMs ?? DEFAULT_RING_TIMEOUT_MS} ms`, true))
      }, this.opts.ringTimeoutMs ?? DEFAULT_RING_TIMEOUT_MS)
      this.send(resolve, fail)
      this.opts.onInvite?.(this.sipCallId)
      const signal = this.opts.signal
      if (signal?.aborted) this.cancel()
      else signal?.addEventListener('abort', () => this.cancel(), { once: true })
    })
  }

  /** One INVITE transaction; a 401/407 answered with credentials starts the next one. */
  private send(resolve: () => void, fail: (err: DialError) => void): void {
    this.ctx.invite(
      this.invite,
      this.remote,
      (res) => {
        if (res.status < 200) {
          if (res.status > 100 && optionTags(res, 'require').includes('100rel')) this.prack(res)
          this.provisional = true
          if (res.status > 100 && this.state === 'calling') this.opts.onProgress?.(res.status, res.content || undefined)
          // A CANCEL asked for before any response can go now (§9.1).
          if (this.state === 'cancelling') this.sendCancel()
          return
        }
        if (res.status >= 300) {
          if (this.state === 'ended') return
          if ((res.status === 401 || res.status === 407) && this.state === 'calling' && this.retryWithCredentials(res)) return this.send(resolve, fail)
          if (res.status === 422 && this.state === 'calling' && this.retryWithLongerInterval(res)) return this.send(resolve, fail)
          const cancelled = this.state === 'cancelling'
          return fail(
            new DialError(cancelled ? 'cancelled' : res.status, `${this.targetUri} answered ${res.status} ${res.reason}`, cancelled && this.ringTimedOut),
          )
        }
        this.onOk(res, resolve, fail)
      },
      () => fail(new DialError('timeout', `no response from ${this.targetUri} (Timer B)`)),
    )
  }

  /**
   * RFC 3261 §22.2/§22.3: the same INVITE again with Authorization or Proxy-Authorization, a
   * new CSeq and branch, the same Call-ID and From tag. False when there is nothing to answer
   * with, or when our credentials were just refused (unless the nonce was only stale).
   */
  private retryWithCredentials(res: SipResponse): boolean {
    const auth = this.trunk?.credentials?.answer(res, 'INVITE', this.invite.uri, this.authAnswered)
    if (!auth) return false
    this.authAnswered = true
    this.reissue({ [auth.name]: [auth.value] })
    this.log.info({ status: res.status }, 'outbound call challenged: INVITE sent again with credentials')
    return true
  }

  /** RFC 4028 §7.3: 422, our interval is below the callee's Min-SE; once, with its Min-SE. */
  private retryWithLongerInterval(res: SipResponse): boolean {
    if (this.intervalRaised || !this.session.raiseToMinSe(res)) return false
    this.intervalRaised = true
    this.reissue(this.session.offerHeaders())
    this.log.info({ intervalS: this.session.interval }, 'outbound call: session interval too small (422), INVITE sent again')
    return true
  }

  /** The INVITE again with these headers changed: a new CSeq and branch, the same Call-ID and From tag. */
  private reissue(changed: Record<string, unknown>): void {
    const h = this.invite.headers
    this.invite = {
      ...this.invite,
      headers: {
        ...h,
        ...changed,
        via: [{ ...h.via[0], params: { ...h.via[0].params, branch: newBranch() } }],
        cseq: { seq: h.cseq.seq + 1, method: 'INVITE' },
      },
    }
    this.provisional = false
    this.early = undefined
    this.lastRSeq = 0
  }

  /** The dialog a response to our INVITE makes (§12.1.2), expressed as the INVITE the peer would have sent us. */
  private dialogFrom(res: SipResponse, localSeq: number): Dialog {
    const rr = Array.isArray(res.headers['record-route']) ? [...(res.headers['record-route'] as NameAddr[])].reverse() : []
    const mirrored: SipRequest = {
      ...this.invite,
      headers: {
        ...this.invite.headers,
        from: res.headers.to,
        to: this.invite.headers.from,
        contact: res.headers.contact,
        'record-route': rr,
        cseq: { seq: 0, method: 'INVITE' },
      },
    }
    return new Dialog(mirrored, this.remote, this.invite.headers.from.params.tag as string, this.ctx.local, localSeq)
  }

  /** RFC 3262 §4: a reliable provisional is acknowledged with PRACK in its early dialog, each RSeq once. */
  private prack(res: SipResponse): void {
    const rseq = Number(String(res.headers.rseq ?? '').trim())
    if (!Number.isInteger(rseq) || rseq <= 0 || rseq <= this.lastRSeq) return // a retransmission, or unreadable
    this.lastRSeq = rseq
    const toTag = res.headers.to.params.tag
    if (!this.early || this.early.remoteTag !== toTag) this.early = this.dialogFrom(res, this.invite.headers.cseq.seq)
    const prack = this.early.createRequest('PRACK')
    prack.headers.rack = `${rseq} ${this.invite.headers.cseq.seq} INVITE`
    void this.ctx.request(prack, this.remote).then((r) => {
      if (r === 'timeout' || r.status >= 300) this.log.warn({ rseq, result: r === 'timeout' ? 'timeout' : r.status }, 'PRACK not accepted')
    })
  }

  private onOk(res: SipResponse, resolve: () => void, fail: (err: DialError) => void): void {
    if (this.ack) return this.ctx.send(this.ack, this.remote) // a retransmitted 2xx
    clearTimeout(this.ringTimer)
    // PRACKs in the early dialog went on from the INVITE's CSeq; the confirmed dialog goes on from theirs
    this.dialogValue = this.dialogFrom(res, Math.max(this.invite.headers.cseq.seq, this.early?.lastLocalSeq ?? 0))
    this.early = undefined
    const ack = ackFor(this.dialog, this.invite)
    // The ACK of a 2xx carries the INVITE's credentials (RFC 3261 §22.1), for a proxy that asks.
    for (const name of ['authorization', 'proxy-authorization']) if (this.invite.headers[name]) ack.headers[name] = this.invite.headers[name]
    this.ack = ack
    this.ctx.send(ack, this.remote)
    this.ctx.dialogCreated(this)
    this.answer = res.content
    if (this.state !== 'calling') {
      // The 2xx crossed our CANCEL or came after the ring timeout: the call exists, end it at once (§15).
      this.state = 'confirmed'
      void this.sendBye('local-bye')
      return fail(new DialError('cancelled', `${this.targetUri} answered after the CANCEL`))
    }
    this.state = 'confirmed'
    this.peerAllowsUpdate = /\bUPDATE\b/i.test(String(res.headers.allow ?? ''))
    this.session.accept(res)
    this.session.arm()
    this.log.info({ sessionIntervalS: this.session.interval, weRefresh: this.session.weRefresh }, 'outbound call answered')
    resolve()
  }

  private cancel(): void {
    if (this.state !== 'calling') return
    this.state = 'cancelling'
    if (this.provisional) this.sendCancel()
  }

  /** CANCEL (§9.1): the INVITE's Request-URI, top Via, From, To, Call-ID and CSeq number. */
  private sendCancel(): void {
    const h = this.invite.headers
    const headers: SipRequest['headers'] = {
      via: [h.via[0]],
      'max-forwards': '70',
      from: h.from,
      to: h.to,
      'call-id': h['call-id'],
      cseq: { seq: h.cseq.seq, method: 'CANCEL' },
    }
    if (h.route) headers.route = h.route // §9.1: the same Route as the INVITE
    void this.ctx.request({ method: 'CANCEL', uri: this.invite.uri, version: '2.0', headers, content: '' }, this.remote)
  }

  async hangup(): Promise<void> {
    if (this.state === 'calling') return this.cancel()
    if (this.state === 'confirmed') await this.sendBye('local-bye')
  }

  async info(contentType: string, body: string): Promise<number | 'timeout'> {
    if (this.state !== 'confirmed') return 481
    const result = await this.ctx.request(this.dialog.createRequest('INFO', body, contentType), this.remote)
    return result === 'timeout' ? 'timeout' : result.status
  }

  private async sendBye(reason: SipEndReason): Promise<void> {
    if (this.state !== 'confirmed') return
    this.end(reason)
    const result = await this.ctx.request(this.dialog.createRequest('BYE'), this.remote)
    if (result === 'timeout' || result.status >= 300) {
      this.log.warn({ result: result === 'timeout' ? 'timeout' : result.status }, 'BYE not accepted')
    }
  }

  invitePending(on: boolean): void {
    this.ourInvitePending = on
  }

  onAck(rq: SipRequest): void {
    if (this.pendingOk?.cseq !== rq.headers.cseq.seq) return
    this.pendingOk.retransmitter.stop()
    this.pendingOk = undefined
  }

  onRequest(rq: SipRequest, tx: ServerTx): void {
    const seq = rq.headers.cseq.seq
    if (seq <= this.dialog.remoteSeq) return tx.respond(makeResponse(rq, 500, undefined, { 'Retry-After': '1' }))
    this.dialog.remoteSeq = seq
    switch (rq.method) {
      case 'BYE':
        tx.respond(makeResponse(rq, 200))
        if (this.state !== 'confirmed') return
        this.emit('bye')
        this.end('remote-bye')
        return
      case 'INVITE':
        return this.onReinvite(rq, tx as InviteServerTransaction)
      case 'NOTIFY':
        return tx.respond(makeResponse(rq, 481))
      case 'UPDATE':
        return this.onUpdate(rq, tx)
      case 'INFO':
        tx.respond(makeResponse(rq, 200))
        this.emit('info', String(rq.headers['content-type'] ?? ''), rq.content)
        return
      default:
        tx.respond(makeResponse(rq, 200, undefined, { Allow: ALLOW }))
    }
  }

  /**
   * The callee's re-INVITE: a session refresh (RFC 4028), hold or resume. Without an offer, our
   * description goes in the 2xx (the ACK's answer changes nothing here); with one, it is answered
   * when it leaves the audio where it was, else 488.
   */
  private onReinvite(rq: SipRequest, tx: InviteServerTransaction): void {
    if (this.ourInvitePending || this.pendingOk) return tx.respond(makeResponse(rq, 491)) // RFC 3261 §14.2
    if (this.refusedInterval(rq, tx)) return
    const sdp = rq.content.length ? this.answerTo(rq.content) : this.localSdp
    if (!sdp) return tx.respond(makeResponse(rq, 488))
    const ok = this.ok(rq, sdp)
    tx.respond(ok)
    const retransmitter = new Retransmitter(
      this.ctx.timers,
      this.ctx.timers.T2,
      () => this.ctx.send(ok, this.remote),
      () => {
        this.pendingOk = undefined
        this.log.warn('no ACK for our 200 to a re-INVITE: ending the call with BYE')
        void this.sendBye('ack-timeout')
      },
    )
    this.pendingOk = { cseq: rq.headers.cseq.seq, retransmitter }
    retransmitter.start(this.remote.protocol === 'UDP')
  }

  /** UPDATE (RFC 3311): a refresh without a body, or an offer answered as a re-INVITE's is. */
  private onUpdate(rq: SipRequest, tx: ServerTx): void {
    if (this.refusedInterval(rq, tx)) return
    const sdp = rq.content.length ? this.answerTo(rq.content) : undefined
    if (rq.content.length && !sdp) return tx.respond(makeResponse(rq, 488))
    tx.respond(this.ok(rq, sdp))
  }

  /** RFC 4028 §8.1: a refresh asking for less than our Min-SE gets 422. */
  private refusedInterval(rq: SipRequest, tx: ServerTx): boolean {
    const minSe = intervalTooSmall(rq, this.ctx.sessionTimer)
    if (minSe === undefined) return false
    tx.respond(makeResponse(rq, 422, undefined, { 'Min-SE': String(minSe) }))
    return true
  }

  /** A 2xx to the callee's INVITE or UPDATE: the session timer renegotiated and restarted. */
  private ok(rq: SipRequest, sdp: string | undefined): SipResponse {
    const res = makeResponse(rq, 200, undefined, { Allow: ALLOW, Supported: SUPPORTED, ...this.session.negotiate(rq) })
    res.headers.contact = this.dialog.contact()
    if (sdp) {
      res.headers['content-type'] = 'application/sdp'
      res.content = sdp
    }
    this.session.arm()
    return res
  }

  /** Our answer to a re-offer that keeps the callee's audio where it was: the same description, mirrored direction. */
  private answerTo(offer: string): string | undefined {
    const key = audioKey(offer)
    if (!key || key !== audioKey(this.answer)) return undefined
    const sdp = withDirection(this.localSdp, answerDirection(offer), sessionVersion(this.localSdp))
    if (sdp !== this.localSdp) this.localSdp = withDirection(this.localSdp, answerDirection(offer), sessionVersion(this.localSdp) + 1)
    return this.localSdp
  }

  private end(reason: SipEndReason): void {
    if (this.state === 'ended') return
    this.state = 'ended'
    this.session.stop()
    this.pendingOk?.retransmitter.stop()
    this.ctx.dialogGone(this.dialog)
    this.log.info({ reason }, 'outbound dialog ended')
    this.emit('ended', reason)
  }
}
