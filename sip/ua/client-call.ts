import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { makeResponse } from '../message/serialize.ts'
import type { NameAddr, Remote, SipRequest, SipResponse } from '../message/types.ts'
import { Dialog, hostForUri, newBranch, newTag } from '../dialog/dialog.ts'
import { DialError, type DialOptions, type OutboundCall, type OutboundCallEvents, type SipEndReason } from './call-control.ts'
import type { TrunkRoute } from '../trunks/trunk-route.ts'
import { ALLOW } from './uas-checks.ts'
import type { DialogUsage, ServerTx, UaContext } from './ua-context.ts'

const DEFAULT_RING_TIMEOUT_MS = 60_000

/**
 * The UAC side of one call the server places (RFC 3261 §13.2): the INVITE, CANCEL on the
 * ring timeout, the ACK for every 2xx, then the dialog (BYE either way). No re-INVITE of
 * our own and no forking: the first 2xx makes the dialog.
 */
export class ClientCall extends EventEmitter<OutboundCallEvents> implements OutboundCall, DialogUsage {
  readonly sipCallId: string
  answer = ''
  private dialogValue: Dialog | undefined
  private state: 'idle' | 'calling' | 'cancelling' | 'confirmed' | 'ended' = 'idle'
  /** The INVITE last sent: after a 401/407, the one with credentials (new CSeq, same Call-ID). */
  private invite: SipRequest
  private authAnswered = false
  private ack: SipRequest | undefined
  private provisional = false
  private ringTimer: NodeJS.Timeout | undefined
  private readonly log: Logger

  constructor(
    private readonly ctx: UaContext,
    readonly targetUri: string,
    readonly remote: Remote,
    private readonly opts: DialOptions,
    /** Through a trunk: its caller id in From and P-Asserted-Identity, its credentials, its proxy. */
    private readonly trunk?: TrunkRoute,
  ) {
    super()
    const host = hostForUri(ctx.local.host)
    const user = trunk?.fromUser ?? opts.fromUser ?? 'agent'
    const fromUri = trunk ? `sip:${trunk.fromUser}@${trunk.fromHost}` : `sip:${user}@${host}`
    this.sipCallId = `${randomBytes(8).toString('hex')}@${host}`
    const transport = remote.protocol === 'TCP' ? ';transport=tcp' : ''
    const contact: NameAddr = { uri: `sip:${user}@${host}:${ctx.local.port}${transport}`, params: {} }
    this.invite = {
      method: 'INVITE',
      uri: targetUri,
      version: '2.0',
      headers: {
        via: [{ version: '2.0', protocol: remote.protocol, host, port: ctx.local.port, params: { branch: newBranch(), rport: null } }],
        'max-forwards': '70',
        from: { uri: fromUri, params: { tag: newTag() } },
        to: { uri: targetUri, params: {} },
        'call-id': this.sipCallId,
        cseq: { seq: 1, method: 'INVITE' },
        contact: [contact],
        allow: ALLOW,
        'content-type': 'application/sdp',
      },
      content: opts.sdp,
    }
    if (trunk) this.invite.headers['p-asserted-identity'] = `<${fromUri}>`
    if (trunk?.route) this.invite.headers.route = [{ uri: trunk.route, params: {} }]
    this.log = ctx.logger.child({ sipCallId: this.sipCallId, direction: 'outbound', ...(trunk && { trunk: trunk.trunk }) })
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
        if (this.provisional) this.cancel()
        else fail(new DialError('timeout', `no answer from ${this.targetUri} in ${this.opts.ringTimeoutMs ?? DEFAULT_RING_TIMEOUT_MS} ms`))
      }, this.opts.ringTimeoutMs ?? DEFAULT_RING_TIMEOUT_MS)
      this.send(resolve, fail)
    })
  }

  /** One INVITE transaction; a 401/407 answered with credentials starts the next one. */
  private send(resolve: () => void, fail: (err: DialError) => void): void {
    this.ctx.invite(
      this.invite,
      this.remote,
      (res) => {
        if (res.status < 200) {
          this.provisional = true
          // A CANCEL asked for before any response can go now (§9.1).
          if (this.state === 'cancelling') this.sendCancel()
          return
        }
        if (res.status >= 300) {
          if (this.state === 'ended') return
          if ((res.status === 401 || res.status === 407) && this.state === 'calling' && this.retryWithCredentials(res)) return this.send(resolve, fail)
          return fail(new DialError(this.state === 'cancelling' ? 'cancelled' : res.status, `${this.targetUri} answered ${res.status} ${res.reason}`))
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
    const h = this.invite.headers
    this.invite = {
      ...this.invite,
      headers: {
        ...h,
        via: [{ ...h.via[0], params: { ...h.via[0].params, branch: newBranch() } }],
        cseq: { seq: h.cseq.seq + 1, method: 'INVITE' },
        [auth.name]: [auth.value],
      },
    }
    this.provisional = false
    this.log.info({ status: res.status }, 'outbound call challenged: INVITE sent again with credentials')
    return true
  }

  private onOk(res: SipResponse, resolve: () => void, fail: (err: DialError) => void): void {
    if (this.ack) return this.ctx.send(this.ack, this.remote) // a retransmitted 2xx
    clearTimeout(this.ringTimer)
    // The dialog as §12.1.2 builds it, expressed as the INVITE the peer would have sent us.
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
    this.dialogValue = new Dialog(mirrored, this.remote, this.invite.headers.from.params.tag as string, this.ctx.local)
    const ack = this.dialog.createRequest('ACK')
    delete ack.headers.contact
    ack.headers.cseq = { seq: this.invite.headers.cseq.seq, method: 'ACK' }
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
    this.log.info('outbound call answered')
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

  onAck(): void {
    // We never send a 2xx to an INVITE on this dialog (re-INVITEs are refused).
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
        // The relay forwards packets between fixed endpoints; a new offer cannot be honoured.
        return tx.respond(makeResponse(rq, 488))
      case 'NOTIFY':
        return tx.respond(makeResponse(rq, 481))
      case 'UPDATE':
        // a refresh (no body) is welcome; a new offer cannot be honoured, as for a re-INVITE
        return tx.respond(makeResponse(rq, rq.content.length ? 488 : 200, undefined, { Allow: ALLOW }))
      default:
        tx.respond(makeResponse(rq, 200, undefined, { Allow: ALLOW }))
    }
  }

  private end(reason: SipEndReason): void {
    if (this.state === 'ended') return
    this.state = 'ended'
    this.ctx.dialogGone(this.dialog)
    this.log.info({ reason }, 'outbound dialog ended')
    this.emit('ended', reason)
  }
}
