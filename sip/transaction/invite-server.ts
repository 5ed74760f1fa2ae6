import type { SipRequest, SipResponse } from '../message/types.ts'
import { Retransmitter, type SipTimers } from './timers.ts'

export type InviteServerState = 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated'

/**
 * INVITE server transaction, RFC 3261 §17.2.1 with the RFC 6026 "Accepted" state:
 * after a 2xx the transaction stays for 64*T1 to absorb retransmitted INVITEs (the 2xx
 * itself is retransmitted by the dialog until the ACK, §13.3.1.4).
 */
export class InviteServerTransaction {
  state: InviteServerState = 'proceeding'
  private last: SipResponse | undefined
  private timerG: Retransmitter | undefined
  private timer: NodeJS.Timeout | undefined

  constructor(
    readonly request: SipRequest,
    private readonly reliable: boolean,
    private readonly timers: SipTimers,
    private readonly send: (res: SipResponse) => void,
    private readonly onTerminated: () => void,
    /** Timer H fired: no ACK for our final non-2xx response. */
    private readonly onAckTimeout: () => void = () => {},
  ) {}

  respond(res: SipResponse): void {
    if (this.state !== 'proceeding') return
    this.last = res
    this.send(res)
    if (res.status < 200) return
    if (res.status < 300) {
      this.state = 'accepted'
      this.timer = setTimeout(() => this.terminate(), 64 * this.timers.T1) // Timer L
      return
    }
    this.state = 'completed'
    this.timerG = new Retransmitter(
      this.timers,
      this.timers.T2,
      () => this.send(res),
      () => {
        this.onAckTimeout() // Timer H
        this.terminate()
      },
    )
    this.timerG.start(!this.reliable)
  }

  /** A retransmitted INVITE: resend the latest response, except in Accepted (RFC 6026 §7.1). */
  onRetransmit(resend: (res: SipResponse) => void = this.send): void {
    if ((this.state === 'proceeding' || this.state === 'completed') && this.last) resend(this.last)
  }

  /** ACK for a non-2xx final response. */
  onAck(): void {
    if (this.state !== 'completed') return
    this.state = 'confirmed'
    this.timerG?.stop()
    this.timer = setTimeout(() => this.terminate(), this.reliable ? 0 : this.timers.T4) // Timer I
  }

  terminate(): void {
    if (this.state === 'terminated') return
    this.state = 'terminated'
    this.timerG?.stop()
    clearTimeout(this.timer)
    this.onTerminated()
  }
}
