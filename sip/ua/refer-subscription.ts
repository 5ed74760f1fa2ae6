import type { TransferResult } from './call-control.ts'
import { sipfragStatus, subscriptionTerminated } from './transfer-target.ts'

/**
 * The implicit subscription a REFER creates (RFC 3515 §2.4.4): the transferee's NOTIFYs carry
 * the progress of its INVITE to the target as message/sipfrag. The first final status decides
 * the outcome; the subscription stays open until Subscription-State says terminated.
 */
export class ReferSubscription {
  readonly outcome: Promise<TransferResult>
  settled = false
  /** Subscription-State: terminated has been received; later NOTIFYs get 481. */
  closed = false
  private resolve!: (r: TransferResult) => void
  private timer: NodeJS.Timeout | undefined

  constructor() {
    this.outcome = new Promise((resolve) => (this.resolve = resolve))
  }

  /** The REFER was accepted: the final NOTIFY is due within `ms`. */
  accepted(ms: number): void {
    if (this.settled) return
    this.timer = setTimeout(() => this.finish({ ok: false, reason: `no final NOTIFY within ${ms} ms` }), ms)
  }

  onNotify(body: string, subscriptionState: unknown): void {
    const frag = sipfragStatus(body)
    const terminated = subscriptionTerminated(subscriptionState)
    if (frag && frag.status >= 200) {
      this.finish(
        frag.status < 300
          ? { ok: true, method: 'refer' }
          : { ok: false, reason: `the transferee's call to the target failed: ${frag.status} ${frag.reason}`.trim(), status: frag.status },
      )
    } else if (terminated) {
      this.finish({ ok: false, reason: 'refer subscription terminated without a final status' })
    }
    if (terminated) this.closed = true
  }

  finish(result: TransferResult): void {
    if (this.settled) return
    this.settled = true
    clearTimeout(this.timer)
    this.resolve(result)
  }
}
