import { levelDb } from './level.ts'

export interface EchoGateOptions {
  /** How far back the bot's audio can come back on the line (round trip + jitter buffer), ms. */
  tailMs: number
  /** Caller audio must be this far above the predicted echo to count as the caller. */
  marginDb: number
  /** Length of the frames fed to onBotFrame / onCallerFrame, ms. */
  frameMs: number
}

export type EchoPathReport = { state: 'training' | 'none' } | { state: 'echo'; delayMs: number; erlDb: number }

/** Levels below this are treated as this: silence is silence, however deep. */
const FLOOR_DB = -70
/** A bot frame this loud can produce audible echo: only such frames train the estimate. */
const ACTIVE_DB = -45
/** Envelope correlation that means "the caller's line carries the bot's voice". */
const ECHO_CORRELATION = 0.6
/** History used for the estimate, frames (with 20 ms frames: 2 s). */
const HISTORY = 100
/** A caller line whose median level while the bot talks is below this carries no echo. */
const QUIET_LINE_DB = -60
/** Frames between re-estimates. */
const REESTIMATE = 10
/** Active bot frames needed before the estimate is trusted (with 20 ms frames: 0.6 s of talk). */
const MIN_ACTIVE = 30
/** The estimate stays frozen over near-end audio for at most this many frames (with 20 ms
 *  frames: 0.5 s): a path that moved makes the echo itself look like the caller, and a freeze
 *  without end would never learn the new path. */
const MAX_FREEZE = 25

/**
 * Tells the caller's voice from the bot's own voice coming back on the line. The bot knows what
 * it sent; the gate keeps the level envelopes of both directions, finds the echo path's delay
 * by correlating them (lags up to the tail) and its echo return loss (ERL) as the median level
 * difference at that delay. Caller audio counts as the caller only when it stands `marginDb`
 * above the echo predicted from the bot's audio at that delay. With no echo on the line the
 * envelopes do not correlate and everything passes; the estimate is frozen while the caller
 * talks over the bot (double talk), so the caller's own voice does not train it.
 */
export class EchoGate {
  private readonly maxLag: number
  private readonly size: number
  private readonly bot: Float64Array
  private readonly caller: Float64Array
  /** For each caller frame, how many bot frames had been sent when it arrived: the time link. */
  private readonly botCountAt: Float64Array
  private botCount = 0
  private callerCount = 0
  private sinceEstimate = 0
  private lag = 0
  /** dB the echo is below the bot; Infinity when no echo is seen; NaN until trained */
  private erlDb = NaN
  private lastNearEnd = false
  private lastCallerDb = FLOOR_DB
  private frozenFor = 0

  constructor(private readonly opts: EchoGateOptions) {
    this.maxLag = Math.ceil(opts.tailMs / opts.frameMs)
    this.size = HISTORY + this.maxLag + 2
    this.bot = new Float64Array(this.size).fill(FLOOR_DB)
    this.caller = new Float64Array(this.size).fill(FLOOR_DB)
    this.botCountAt = new Float64Array(this.size)
  }

  /** One frame of what the bot sent (silence included), 16-bit PCM. */
  onBotFrame(pcm: Int16Array): void {
    this.bot[this.botCount++ % this.size] = Math.max(FLOOR_DB, levelDb(pcm, 32768))
  }

  /**
   * One frame of what came from the caller, 16-bit PCM; returns whether it is the caller.
   * `bufferedMs` is how long the frame waited in the jitter buffer: the time link is the
   * frame's arrival on the wire, so the buffer growing or shrinking does not move the echo path.
   */
  onCallerFrame(pcm: Int16Array, bufferedMs = 0): boolean {
    const db = Math.max(FLOOR_DB, levelDb(pcm, 32768))
    this.lastCallerDb = db
    this.botCountAt[this.callerCount % this.size] = this.botCount - bufferedMs / this.opts.frameMs
    this.caller[this.callerCount++ % this.size] = db
    this.frozenFor = this.lastNearEnd ? this.frozenFor + 1 : 0
    if (++this.sinceEstimate >= REESTIMATE && (!this.lastNearEnd || this.frozenFor >= MAX_FREEZE)) {
      this.sinceEstimate = 0
      this.estimate()
    }
    this.lastNearEnd = this.isNearEnd(db)
    return this.lastNearEnd
  }

  /** Level of the latest caller frame, dBFS (floored at -70). */
  get callerDb(): number {
    return this.lastCallerDb
  }

  /** The current estimate: echo delay in frames and return loss in dB (Infinity: no echo,
   *  NaN: the bot has not talked enough yet to tell). */
  get echoPath(): { lagFrames: number; erlDb: number } {
    return { lagFrames: this.lag, erlDb: this.erlDb }
  }

  /** The estimate as shown with the call: the delay is from the packet's arrival on the wire. */
  toJSON(): EchoPathReport {
    if (Number.isNaN(this.erlDb)) return { state: 'training' }
    if (this.erlDb === Infinity) return { state: 'none' }
    return { state: 'echo', delayMs: this.lag * this.opts.frameMs, erlDb: Math.round(this.erlDb * 10) / 10 }
  }

  /** Is the caller's latest frame, at this level, louder than the echo of the bot could be? */
  private isNearEnd(callerDb: number): boolean {
    if (callerDb <= FLOOR_DB) return false
    if (Number.isNaN(this.erlDb)) {
      // Untrained: the classic Geigel rule, against the loudest bot frame of the whole tail.
      let ref = FLOOR_DB
      for (let d = 0; d <= this.maxLag; d++) ref = Math.max(ref, this.botAt(this.callerCount - 1, d))
      return callerDb > ref - this.opts.marginDb
    }
    if (this.erlDb === Infinity) return true
    // The bot frame the echo came from, give or take a frame of alignment.
    let ref = FLOOR_DB
    for (let d = this.lag - 1; d <= this.lag + 1; d++) ref = Math.max(ref, this.botAt(this.callerCount - 1, d))
    return callerDb > ref - this.erlDb + this.opts.marginDb
  }

  /** The bot's level `lag` frames before caller frame `i` arrived. */
  private botAt(i: number, lag: number): number {
    const j = Math.round(this.botCountAt[i % this.size]) - 1 - lag
    return j < 0 || j <= this.botCount - this.size ? FLOOR_DB : this.bot[j % this.size]
  }

  private estimate(): void {
    const end = this.callerCount
    const start = Math.max(0, end - HISTORY)
    let active = 0
    for (let i = start; i < end; i++) if (this.botAt(i, 0) >= ACTIVE_DB) active++
    if (active < MIN_ACTIVE) return // keep what we had (NaN at first): too little talk to judge
    let best = { lag: 0, corr: -1 }
    for (let lag = 0; lag <= this.maxLag; lag++) {
      let n = 0,
        sx = 0,
        sy = 0,
        sxx = 0,
        syy = 0,
        sxy = 0
      for (let i = start; i < end; i++) {
        const x = this.botAt(i, lag)
        if (x < ACTIVE_DB) continue
        const y = this.caller[i % this.size]
        n++
        sx += x
        sy += y
        sxx += x * x
        syy += y * y
        sxy += x * y
      }
      if (n < 10) continue
      const vx = sxx - (sx * sx) / n
      const vy = syy - (sy * sy) / n
      const corr = vx > 0 && vy > 0 ? (sxy - (sx * sy) / n) / Math.sqrt(vx * vy) : 0
      if (corr > best.corr) best = { lag, corr }
    }
    if (best.corr < ECHO_CORRELATION) {
      // No echo is only proven by a quiet line while the bot talks; audio that does not follow
      // the bot (double talk, noise) proves nothing, so the previous estimate stands.
      const heard: number[] = []
      for (let i = start; i < end; i++) if (this.botAt(i, 0) >= ACTIVE_DB) heard.push(this.caller[i % this.size])
      heard.sort((a, b) => a - b)
      if (heard[heard.length >> 1] <= QUIET_LINE_DB) this.erlDb = Infinity
      return
    }
    const diffs: number[] = []
    for (let i = start; i < end; i++) {
      const x = this.botAt(i, best.lag)
      if (x >= ACTIVE_DB) diffs.push(x - this.caller[i % this.size])
    }
    diffs.sort((a, b) => a - b)
    this.lag = best.lag
    this.erlDb = diffs[diffs.length >> 1]
  }
}
