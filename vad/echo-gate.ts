import { levelDb } from './level.ts'

export interface EchoGateOptions {
  /** How far back the bot's audio can come back on the line (round trip + jitter buffer), ms. */
  tailMs: number
  /** Caller audio must be this much louder than the echo could be (the echo return loss
   *  assumed); 6 dB is the Geigel detector's classic half-amplitude threshold. */
  marginDb: number
  /** Length of the bot frames fed to onBotFrame, ms. */
  frameMs: number
}

/**
 * Tells the caller's voice from the bot's own voice coming back on the line, in the manner of
 * the Geigel double-talk detector (ITU-T G.168 echo cancellers): near-end audio counts as the
 * caller only when it is louder than the loudest bot audio of the echo tail, less the margin.
 * Line echo is a copy attenuated by the echo return loss, so it never gets through; a caller
 * who talks over the bot at a normal level does.
 */
export class EchoGate {
  private readonly levels: Float64Array
  private pos = 0

  constructor(private readonly opts: EchoGateOptions) {
    this.levels = new Float64Array(Math.ceil(opts.tailMs / opts.frameMs)).fill(-120)
  }

  /** One frame of what the bot sent (silence included), 16-bit PCM. */
  onBotFrame(pcm: Int16Array): void {
    this.levels[this.pos] = levelDb(pcm, 32768)
    this.pos = (this.pos + 1) % this.levels.length
  }

  /** The loudest bot frame within the tail, dBFS. */
  get referenceDb(): number {
    let max = -120
    for (const l of this.levels) if (l > max) max = l
    return max
  }

  /** Is near-end audio at this level (dBFS) louder than any echo of the bot could be? */
  isNearEnd(callerDb: number): boolean {
    return callerDb > this.referenceDb - this.opts.marginDb
  }
}
