import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { makeResponse } from '../message/serialize.ts'
import type { Remote, SipRequest, SipResponse } from '../message/types.ts'
import { Dialog, newTag } from '../dialog/dialog.ts'
import type { InviteServerTransaction } from '../transaction/invite-server.ts'
import type { NonInviteServerTransaction } from '../transaction/non-invite-server.ts'
import { Retransmitter } from '../transaction/timers.ts'
import type { InboundCall, InboundCallEvents, SipEndReason } from './call-control.ts'
import { ALLOW } from './uas-checks.ts'
import type { UaContext } from './ua-context.ts'

type ServerTx = InviteServerTransaction | NonInviteServerTransaction

/** A 2xx to an INVITE that is retransmitted until its ACK arrives (RFC 3261 §13.3.1.4). */
interface PendingOk {
  cseq: number
  retransmitter: Retransmitter
  acked: () => void
}

/**
 * The UAS side of one call: the INVITE server transaction, the dialog it creates,
 * the 2xx retransmissions, and the requests the caller sends inside the dialog.
 */
export class ServerCall extends EventEmitter<InboundCallEvents> implements InboundCall {
  readonly dialog: Dialog
  readonly sipCallId: string
  readonly fromUri: string
  readonly toUri: string
  readonly callerId: string
  readonly offer: string | undefined
  private state: 'offered' | 'answering' | 'confirmed' | 'ended' = 'offered'
  private pendingOk: PendingOk | undefined
  private readonly log: Logger

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
  }

  private response(rq: SipRequest, status: number, extra?: Record<string, string>, sdp?: string): SipResponse {
    const res = makeResponse(rq, status, undefined, extra)
    res.headers.to = { ...res.headers.to, params: { ...res.headers.to.params, tag: this.dialog.localTag } }
    if (status > 100 && status < 300) res.headers.contact = this.dialog.contact()
    if (sdp !== undefined) {
      res.headers['content-type'] = 'application/sdp'
      res.content = sdp
    }
    return res
  }

  progress(status: 180 | 183 = 180, sdp?: string): void {
    if (this.state !== 'offered') return
    this.inviteTx.respond(this.response(this.inviteTx.request, status, undefined, sdp))
  }

  answer(sdp: string): Promise<void> {
    if (this.state !== 'offered') return Promise.reject(new Error(`cannot answer a call in state ${this.state}`))
    this.state = 'answering'
    return new Promise((resolve, reject) => {
      this.sendOk(this.inviteTx, sdp, () => {
        this.state = 'confirmed'
        resolve()
      }, () => reject(new Error('no ACK for 200 OK within 64*T1')))
    })
  }

  /** Sends a 2xx through the INVITE transaction and retransmits it over UDP until the ACK. */
  private sendOk(tx: InviteServerTransaction, sdp: string, onAck: () => void, onTimeout: () => void): void {
    const res = this.response(tx.request, 200, { Allow: ALLOW }, sdp)
    tx.respond(res)
    const retransmitter = new Retransmitter(this.ctx.timers, this.ctx.timers.T2, () => this.ctx.send(res, this.remote), () => {
      this.pendingOk = undefined
      this.log.warn('no ACK for our 200 OK: ending the dialog with BYE')
      onTimeout()
      void this.sendBye('ack-timeout')
    })
    this.pendingOk = { cseq: tx.request.headers.cseq.seq, retransmitter, acked: onAck }
    retransmitter.start(this.remote.protocol === 'UDP')
  }

  reject(status: number, reason?: string): void {
    if (this.state !== 'offered') return
    this.inviteTx.respond(this.response(this.inviteTx.request, status, reason ? { Reason: `SIP;cause=${status};text="${reason}"` } : undefined))
    this.end('rejected')
  }

  async hangup(): Promise<void> {
    if (this.state === 'offered') return this.reject(480)
    if (this.state === 'ended') return
    await this.sendBye('local-bye')
  }

  private async sendBye(reason: SipEndReason): Promise<void> {
    if (this.state === 'ended') return
    this.pendingOk?.retransmitter.stop()
    this.end(reason)
    const result = await this.ctx.request(this.dialog.createRequest('BYE'), this.remote)
    if (result === 'timeout' || result.status >= 300) {
      this.log.warn({ result: result === 'timeout' ? 'timeout' : result.status }, 'BYE not accepted')
    }
  }

  /** The caller gave up before the answer: 487 to the INVITE (the UA already answered the CANCEL). */
  onCancel(): void {
    if (this.state !== 'offered') return
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
    pending.acked()
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
        this.pendingOk?.retransmitter.stop()
        this.emit('bye')
        this.end('remote-bye')
        return
      case 'INVITE':
        return this.onReinvite(rq, tx as InviteServerTransaction)
      case 'INFO':
        tx.respond(this.response(rq, 200))
        this.emit('info', String(rq.headers['content-type'] ?? ''), rq.content)
        return
      default:
        tx.respond(this.response(rq, 200, { Allow: ALLOW }))
    }
  }

  private onReinvite(rq: SipRequest, tx: InviteServerTransaction): void {
    if (this.pendingOk) {
      tx.respond(this.response(rq, 491)) // RFC 3261 §14.2: an INVITE is still pending.
      return
    }
    const offer = rq.content.length ? rq.content : undefined
    let replied = false
    const reply = (answer: string | null) => {
      if (replied || this.state === 'ended') return
      replied = true
      if (answer === null) tx.respond(this.response(rq, 488))
      else this.sendOk(tx, answer, () => {}, () => {})
    }
    if (this.listenerCount('reinvite') === 0) reply(null)
    else this.emit('reinvite', offer, reply)
  }

  private end(reason: SipEndReason): void {
    if (this.state === 'ended') return
    this.state = 'ended'
    this.ctx.dialogGone(this.dialog)
    this.log.info({ reason }, 'dialog ended')
    this.emit('ended', reason)
  }
}

/** The number a seller would dial back: P-Asserted-Identity user if present, else From user. */
function callerIdOf(rq: SipRequest): string {
  const pai = typeof rq.headers['p-asserted-identity'] === 'string' ? (rq.headers['p-asserted-identity'] as string) : ''
  const source = /<([^>]+)>/.exec(pai)?.[1] ?? rq.headers.from.uri
  return /^(?:sips?|tel):([^@;]+)/.exec(source)?.[1] ?? ''
}
