import { makeResponse } from '../message/serialize.ts'
import type { SipMessage, SipRequest, SipResponse } from '../message/types.ts'
import { Retransmitter, type SipTimers } from '../transaction/timers.ts'

export type InviteClientState = 'calling' | 'proceeding' | 'accepted' | 'completed' | 'terminated'

/**
 * INVITE client transaction, RFC 3261 §17.1.1 with the RFC 6026 "Accepted" state. Timer A
 * retransmits over UDP until the first response, Timer B gives up while calling. A non-2xx
 * final is ACKed here (same branch, §17.1.1.3) and its retransmissions absorbed (Timer D);
 * 2xx responses all go to the TU, which ACKs them, for 64*T1 (Timer M), so a retransmitted
 * 2xx still gets its ACK resent.
 */
export class InviteClientTransaction {
  state: InviteClientState = 'calling'
  private readonly timerA: Retransmitter
  private timer: NodeJS.Timeout | undefined

  constructor(
    readonly request: SipRequest,
    private readonly reliable: boolean,
    private readonly timers: SipTimers,
    private readonly send: (m: SipMessage) => void,
    private readonly onResponseToTu: (res: SipResponse) => void,
    private readonly onTimeout: () => void,
    private readonly onTerminated: () => void,
  ) {
    // INVITE retransmissions double without the T2 cap (§17.1.1.2).
    this.timerA = new Retransmitter(
      timers,
      Number.POSITIVE_INFINITY,
      () => this.send(request),
      () => {
        if (this.state !== 'calling') return
        this.onTimeout() // Timer B
        this.terminate()
      },
    )
  }

  start(): void {
    this.send(this.request)
    this.timerA.start(!this.reliable)
  }

  onResponse(res: SipResponse): void {
    switch (this.state) {
      case 'calling':
      case 'proceeding':
        this.timerA.stop()
        if (res.status < 200) {
          this.state = 'proceeding'
        } else if (res.status < 300) {
          this.state = 'accepted'
          this.timer = setTimeout(() => this.terminate(), 64 * this.timers.T1) // Timer M
        } else {
          this.state = 'completed'
          this.send(this.ackFor(res))
          this.timer = setTimeout(() => this.terminate(), this.reliable ? 0 : 64 * this.timers.T1) // Timer D
        }
        return this.onResponseToTu(res)
      case 'accepted':
        if (res.status >= 200 && res.status < 300) this.onResponseToTu(res)
        return
      case 'completed':
        if (res.status >= 300) this.send(this.ackFor(res))
        return
      default:
    }
  }

  /** The ACK for a non-2xx final response: the INVITE's top Via, Route and Request-URI, the response's To. */
  private ackFor(res: SipResponse): SipRequest {
    const h = this.request.headers
    const headers: SipRequest['headers'] = {
      via: [h.via[0]],
      'max-forwards': '70',
      from: h.from,
      to: res.headers.to,
      'call-id': h['call-id'],
      cseq: { seq: h.cseq.seq, method: 'ACK' },
    }
    if (h.route) headers.route = h.route
    return { method: 'ACK', uri: this.request.uri, version: '2.0', headers, content: '' }
  }

  /** The INVITE could not be sent (RFC 3261 §17.1.4): the TU gets a 503 at once (§8.1.3.1), not Timer B. */
  transportError(reason: string): void {
    if (this.state !== 'calling' && this.state !== 'proceeding') return
    this.onResponseToTu(makeResponse(this.request, 503, reason))
    this.terminate()
  }

  terminate(): void {
    if (this.state === 'terminated') return
    this.state = 'terminated'
    this.timerA.stop()
    clearTimeout(this.timer)
    this.onTerminated()
  }
}
