// RFC 3261 §17 timer values. T1 is the RTT estimate, T2 the cap for non-INVITE
// request and INVITE response retransmits, T4 how long the network may hold a message.
export interface SipTimers {
  T1: number
  T2: number
  T4: number
}

export const DEFAULT_TIMERS: SipTimers = { T1: 500, T2: 4000, T4: 5000 }

/**
 * Retransmits with the RFC 3261 back-off (interval doubles from T1, capped at `cap`)
 * until stopped or until 64*T1 has passed, when `onGiveUp` runs.
 * Used for Timer G (INVITE final responses), Timer E (non-INVITE requests) and the
 * UAS 2xx retransmission of §13.3.1.4.
 */
export class Retransmitter {
  private interval: number
  private timer: NodeJS.Timeout | undefined
  private deadline: NodeJS.Timeout | undefined

  constructor(
    private readonly timers: SipTimers,
    private readonly cap: number,
    private readonly resend: () => void,
    private readonly onGiveUp: () => void,
  ) {
    this.interval = timers.T1
  }

  /** `retransmit` false on reliable transports: only the 64*T1 deadline runs. */
  start(retransmit: boolean): void {
    if (retransmit) this.schedule()
    this.deadline = setTimeout(() => {
      this.stop()
      this.onGiveUp()
    }, 64 * this.timers.T1)
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.resend()
      this.interval = Math.min(this.interval * 2, this.cap)
      this.schedule()
    }, this.interval)
  }

  stop(): void {
    clearTimeout(this.timer)
    clearTimeout(this.deadline)
    this.timer = this.deadline = undefined
  }
}
