import type { Logger } from 'pino'
import type { InboundGate } from '../sip/security/inbound-gate.ts'

export interface DrainDeps {
  gate: InboundGate
  /** Calls in progress now. */
  liveCount: () => number
  timeoutS: number
  logger: Logger
  onChange?: (draining: boolean) => void
}

/**
 * The drain before a stop: OPTIONS and new INVITEs get 503 (a dispatcher such as Kamailio takes
 * this instance out of rotation), live calls go on until they end on their own or the drain
 * timeout passes. What comes after (BYE to the rest, records) is the server's stop().
 */
export class Drainer {
  private started: Promise<void> | undefined
  private skip: (() => void) | undefined
  deadline: number | undefined

  constructor(private readonly deps: DrainDeps) {}

  get active(): boolean {
    return this.started !== undefined
  }

  /** Starts the drain (once; later calls join it) and resolves when it is over. */
  drain(why: string): Promise<void> {
    if (this.started) return this.started
    const { gate, liveCount, timeoutS, logger } = this.deps
    gate.draining = true
    this.deps.onChange?.(true)
    this.deadline = Date.now() + timeoutS * 1000
    logger.info({ why, liveCalls: liveCount(), timeoutS }, 'draining: new calls and OPTIONS get 503, live calls may finish')
    this.started = new Promise<void>((resolve) => {
      let over = false
      const done = (how: string) => {
        if (over) return
        over = true
        clearInterval(poll)
        clearTimeout(timer)
        logger.info({ how, liveCalls: liveCount() }, 'drain over')
        resolve()
      }
      const poll = setInterval(() => liveCount() === 0 && done('no live calls'), 100)
      const timer = setTimeout(() => done('DRAIN_TIMEOUT_S passed'), timeoutS * 1000)
      this.skip = () => done('skipped (second signal)')
      if (liveCount() === 0) done('no live calls')
    })
    return this.started
  }

  /** A second SIGTERM: stop waiting for the live calls. */
  skipWait(): void {
    this.skip?.()
  }
}
