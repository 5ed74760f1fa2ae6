import { performance } from 'node:perf_hooks'

/** The media clock's period: every packet time from 10 to 60 ms is a multiple of it. */
export const MEDIA_CLOCK_MS = 10

/** Atomics.wait() on this never-notified cell is a sub-millisecond sleep of the event loop. */
const SLEEP_CELL = new Int32Array(new SharedArrayBuffer(4))

export interface ClockSubscriber {
  /** Called on every n-th tick only (a 20 ms stream on the 10 ms clock: 2); default every tick. */
  readonly everyTicks?: number
  /** Called once per tick; `tick` counts from the clock's start. Time-critical work only (sending). */
  onTick(tick: number): void
  /** Called after every subscriber's onTick: work whose length varies (decoding, VAD), kept
   *  out of the way so that one call's load never shifts another call's send time. */
  afterTick?(tick: number): void
  /** One of the calls above threw: the subscriber has been taken off the clock (it would throw
   *  again every tick) and ends its call. Without this a throw is only dropped. */
  onFault?(err: unknown, phase: 'tick' | 'after'): void
}

/**
 * The one clock that paces every call's outgoing RTP. Ticks are scheduled against
 * absolute times (start + n * period), so timer error does not accumulate; when the
 * event loop stalls for several periods the missed ticks are skipped, not bunched.
 */
export class PacingClock {
  private readonly subscribers = new Set<ClockSubscriber>()
  private timer: NodeJS.Timeout | undefined
  private start = 0
  private tick = 0

  /**
   * @param earlyMs libuv timers have 1 ms resolution and usually fire up to a millisecond
   *   late; the clock wakes this much early and sleeps in Atomics.wait() to the tick, which
   *   wakes 0.06 to 0.16 ms late on Linux. (It once spun the whole millisecond, then the last
   *   0.2 ms: every performance.now() of a spin is a heap number, and the spin was the media
   *   worker's largest allocation site, 2.4 MB/s, feeding the collections that delayed ticks.)
   */
  constructor(
    readonly periodMs: number,
    private readonly onLateness: (lateMs: number) => void = () => {},
    private readonly earlyMs = 1,
  ) {}

  /** The clock runs only while someone listens: an idle server does not wake. */
  add(s: ClockSubscriber): void {
    this.subscribers.add(s)
    this.run()
  }

  remove(s: ClockSubscriber): void {
    this.subscribers.delete(s)
    if (this.subscribers.size === 0) this.stop()
  }

  private run(): void {
    if (this.timer) return
    this.start = performance.now()
    this.tick = 0
    this.schedule()
  }

  stop(): void {
    clearTimeout(this.timer)
    this.timer = undefined
  }

  private dropFaulty(s: ClockSubscriber, err: unknown, phase: 'tick' | 'after'): void {
    this.remove(s)
    try {
      s.onFault?.(err, phase)
    } catch {
      // its fault handler failed too: it is off the clock, which is what protects the others
    }
  }

  private schedule(): void {
    const target = this.start + (this.tick + 1) * this.periodMs
    this.timer = setTimeout(() => this.fire(target), Math.max(0, target - performance.now() - this.earlyMs))
  }

  private fire(target: number): void {
    let now = performance.now()
    if (target > now) {
      Atomics.wait(SLEEP_CELL, 0, 0, target - now)
      now = performance.now()
    }
    const late = Math.max(0, now - target)
    this.onLateness(late)
    this.tick++
    if (late > 3 * this.periodMs) this.tick = Math.floor((now - this.start) / this.periodMs)
    for (const s of this.subscribers) {
      if (this.tick % (s.everyTicks ?? 1) !== 0) continue
      try {
        s.onTick(this.tick)
      } catch (err) {
        // A failing call must not stop the clock for the others.
        this.dropFaulty(s, err, 'tick')
      }
    }
    // After a macrotask turn, so that the packets queued above (dgram sends complete on
    // process.nextTick) leave before the variable work starts.
    const tick = this.tick
    setImmediate(() => {
      for (const s of this.subscribers) {
        if (tick % (s.everyTicks ?? 1) !== 0) continue
        try {
          s.afterTick?.(tick)
        } catch (err) {
          this.dropFaulty(s, err, 'after')
        }
      }
    })
    if (this.timer) this.schedule()
  }
}
