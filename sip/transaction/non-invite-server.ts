import type { SipRequest, SipResponse } from '../message/types.ts'
import type { SipTimers } from './timers.ts'

/** Non-INVITE server transaction, RFC 3261 §17.2.2: absorbs retransmitted requests. */
export class NonInviteServerTransaction {
  state: 'trying' | 'proceeding' | 'completed' | 'terminated' = 'trying'
  private last: SipResponse | undefined
  private timerJ: NodeJS.Timeout | undefined

  constructor(
    readonly request: SipRequest,
    private readonly reliable: boolean,
    private readonly timers: SipTimers,
    private readonly send: (res: SipResponse) => void,
    private readonly onTerminated: () => void,
  ) {}

  respond(res: SipResponse): void {
    if (this.state === 'completed' || this.state === 'terminated') return
    this.last = res
    this.send(res)
    if (res.status < 200) {
      this.state = 'proceeding'
      return
    }
    this.state = 'completed'
    this.timerJ = setTimeout(() => this.terminate(), this.reliable ? 0 : 64 * this.timers.T1)
  }

  /** `resend` sends to where the retransmission came from (the peer's NAT binding may have moved). */
  onRetransmit(resend: (res: SipResponse) => void = this.send): void {
    if (this.last) resend(this.last)
  }

  terminate(): void {
    if (this.state === 'terminated') return
    this.state = 'terminated'
    clearTimeout(this.timerJ)
    this.onTerminated()
  }
}
