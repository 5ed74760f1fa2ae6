// Reliable provisional responses (RFC 3262) for one INVITE we serve: each 18x carries Require:
// 100rel and an RSeq, is retransmitted until its PRACK, and only one is outstanding at a time.
import { randomInt } from 'node:crypto'
import type { SipResponse } from '../message/types.ts'
import { Retransmitter, type SipTimers } from '../transaction/timers.ts'

interface Outstanding {
  rseq: number
  /** Timer "prack": T1, doubling, until the PRACK; 64*T1 without one gives up (RFC 3262 §3). */
  prackTimer: Retransmitter
}

export class ReliableProvisionals {
  /** RFC 3262 §3: the first RSeq is random, below 2**31, and each next one is one more. */
  private nextRseq = randomInt(1, 2 ** 31 - 1)
  private outstanding: Outstanding | undefined
  /** provisionals waiting for the outstanding one's PRACK (only one may be unacknowledged) */
  private readonly queue: SipResponse[] = []
  private idle: Array<() => void> = []
  private stopped = false

  constructor(
    private readonly timers: SipTimers,
    /** false on TCP: only the 64*T1 deadline runs */
    private readonly retransmit: boolean,
    /** the first transmission, through the INVITE server transaction */
    private readonly respond: (res: SipResponse) => void,
    /** the retransmissions, straight to the transport */
    private readonly resend: (res: SipResponse) => void,
    /** no PRACK in 64*T1: the INVITE is to be given up (504) */
    private readonly onTimeout: () => void,
  ) {}

  /** Whether a PRACK is still awaited (or queued provisionals wait for one). */
  get pending(): boolean {
    return this.outstanding !== undefined || this.queue.length > 0
  }

  /** Sends `res` reliably now, or once the outstanding one is acknowledged. */
  send(res: SipResponse): void {
    if (this.stopped) return
    if (this.outstanding) {
      this.queue.push(res)
      return
    }
    const rseq = this.nextRseq++
    const reliable: SipResponse = { ...res, headers: { ...res.headers, require: '100rel', rseq: String(rseq) } }
    const prackTimer = new Retransmitter(
      this.timers,
      64 * this.timers.T1,
      () => this.resend(reliable),
      () => {
        this.outstanding = undefined
        this.stop()
        this.onTimeout()
      },
    )
    this.outstanding = { rseq, prackTimer }
    this.respond(reliable)
    prackTimer.start(this.retransmit)
  }

  /**
   * A PRACK's RAck ("rseq cseq method"): true when it acknowledges the outstanding provisional
   * of the INVITE with `inviteCseq` (answer 200, then call next()), false otherwise (answer 481,
   * RFC 3262 §3).
   */
  prack(rack: string, inviteCseq: number): boolean {
    const m = /^\s*(\d+)\s+(\d+)\s+(\S+)\s*$/.exec(rack)
    const o = this.outstanding
    if (!m || !o || Number(m[1]) !== o.rseq || Number(m[2]) !== inviteCseq || m[3].toUpperCase() !== 'INVITE') return false
    o.prackTimer.stop()
    this.outstanding = undefined
    return true
  }

  /** After the PRACK's 200 went out (so a peer sees it before the INVITE's 200): the next queued
   *  provisional, or whatever waited for none to be outstanding. */
  next(): void {
    if (this.outstanding || this.stopped) return
    const queued = this.queue.shift()
    if (queued) this.send(queued)
    else this.flushIdle()
  }

  /** Runs `fn` once no provisional is unacknowledged (at once when none is). */
  whenIdle(fn: () => void): void {
    if (this.stopped) return
    this.idle.push(fn)
    if (!this.pending) this.flushIdle()
  }

  private flushIdle(): void {
    const idle = this.idle
    this.idle = []
    for (const fn of idle) fn()
  }

  /** The INVITE got its final response or the dialog ended: no more retransmissions. */
  stop(): void {
    this.stopped = true
    this.outstanding?.prackTimer.stop()
    this.outstanding = undefined
    this.queue.length = 0
    this.idle = []
  }
}
