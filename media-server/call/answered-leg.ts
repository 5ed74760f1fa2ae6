import { EventEmitter } from 'node:events'
import type { InboundCallEvents, InboundCall, OutboundCall, SipEndReason, TransferResult } from '../../sip/ua/call-control.ts'

/**
 * A call we placed, once the callee answered, seen through the interface the turn loop (Call)
 * talks to for an inbound call: the same conversation runs on either. The answer is behind it
 * already, so progress and reject do nothing; the callee's INFO and hang-up come through, and a
 * transfer is not offered yet (the callee's REFER path is the inbound call's).
 */
export class AnsweredLeg extends EventEmitter<InboundCallEvents> implements InboundCall {
  readonly offer = undefined
  /** why we hung up, when we did: what `ended` reports instead of the leg's plain local-bye */
  private ourReason: SipEndReason | undefined

  constructor(
    private readonly leg: OutboundCall,
    /** our From URI */
    readonly fromUri: string,
    /** the number we dialled: what a seller calls back, the lead's phone */
    readonly callerId: string,
  ) {
    super()
    leg.on('info', (type, body) => this.emit('info', type, body))
    leg.once('bye', () => this.emit('bye'))
    leg.once('ended', (reason) => this.emit('ended', this.ourReason ?? reason))
  }

  get sipCallId(): string {
    return this.leg.sipCallId
  }

  get toUri(): string {
    return this.leg.targetUri
  }

  get remote() {
    return this.leg.remote
  }

  progress(): void {}

  answer(): Promise<string | undefined> {
    return Promise.resolve(this.leg.answer)
  }

  reject(): void {}

  hangup(reason?: SipEndReason): Promise<void> {
    this.ourReason ??= reason
    return this.leg.hangup()
  }

  transfer(): Promise<TransferResult> {
    return Promise.resolve({ ok: false, reason: 'a call we placed cannot be transferred yet' })
  }
}
