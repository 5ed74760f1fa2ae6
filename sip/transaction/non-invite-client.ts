import { makeResponse } from '../message/serialize.ts'
import type { SipRequest, SipResponse } from '../message/types.ts'
import { Retransmitter, type SipTimers } from './timers.ts'

/**
 * Non-INVITE client transaction, RFC 3261 §17.1.2 (used for BYE): Timer E retransmits
 * over UDP, Timer F gives up after 64*T1 with a synthetic 408.
 */
export class NonInviteClientTransaction {
  state: 'trying' | 'proceeding' | 'completed' | 'terminated' = 'trying'
  private readonly timerE: Retransmitter
  private timerK: NodeJS.Timeout | undefined

  constructor(
    readonly request: SipRequest,
    private readonly reliable: boolean,
    private readonly timers: SipTimers,
    private readonly send: (rq: SipRequest) => void,
    private readonly onFinal: (res: SipResponse | 'timeout') => void,
    private readonly onTerminated: () => void,
  ) {
    this.timerE = new Retransmitter(
      timers,
      timers.T2,
      () => this.send(request),
      () => {
        if (this.state === 'trying' || this.state === 'proceeding') {
          this.onFinal('timeout')
          this.terminate()
        }
      },
    )
  }

  start(): void {
    this.send(this.request)
    this.timerE.start(!this.reliable)
  }

  onResponse(res: SipResponse): void {
    if (this.state === 'completed' || this.state === 'terminated') return
    if (res.status < 200) {
      this.state = 'proceeding'
      return
    }
    this.state = 'completed'
    this.timerE.stop()
    this.onFinal(res)
    this.timerK = setTimeout(() => this.terminate(), this.reliable ? 0 : this.timers.T4)
  }

  /** The request could not be sent (RFC 3261 §17.1.4): the TU gets a 503 at once (§8.1.3.1), not a 408 after Timer F. */
  transportError(reason: string): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return
    this.onFinal(makeResponse(this.request, 503, reason))
    this.terminate()
  }

  terminate(): void {
    if (this.state === 'terminated') return
    this.state = 'terminated'
    this.timerE.stop()
    clearTimeout(this.timerK)
    this.onTerminated()
  }
}
