import { EchoGate, type EchoGateOptions, type EchoPathReport } from './echo-gate.ts'

export interface BargeInHoldOptions {
  echo: Omit<EchoGateOptions, 'frameMs'>
  /** the caller's loud audio must last this long to hold the prompt */
  minSpeechMs: number
  /** length of the bot's frames (the packet time) */
  frameMs: number
}

/**
 * Step one of barge-in, where the audio is (in the media worker, beside the pacing clock): the echo
 * gate tells the caller from the bot's own voice coming back, and the caller's loud audio that
 * lasts `minSpeechMs` holds the prompt at once, without a thread hop. Energy needs no model, so
 * this waits neither for a VAD window nor for the VAD's batch. "Loud" is above the noise floor
 * that the main thread's endpointer keeps (setLoudDb). Step two, the VAD's confirm (drop the
 * prompt) or clear (resume it), stays with the VAD on the main thread.
 */
export class BargeInHold {
  private readonly echo: EchoGate
  private loudDb = -Infinity
  /** start of the current run of the caller's loud chunks, on the call's timeline */
  private loudSinceMs: number | undefined
  private watching = false
  private held = false

  constructor(
    private readonly opts: BargeInHoldOptions,
    private readonly onHold: (onsetMs: number) => void,
  ) {
    this.echo = new EchoGate({ ...opts.echo, frameMs: opts.frameMs })
  }

  get echoPath(): EchoPathReport {
    return this.echo.toJSON()
  }

  /** The level that counts as the caller's voice: the endpointer's noise floor plus its margin. */
  setLoudDb(db: number): void {
    this.loudDb = db
  }

  /** An interruptible prompt starts (true) or the bot stops talking (false). */
  watch(on: boolean): void {
    this.watching = on
    this.held = false
  }

  /** The main thread resumed or dropped the held prompt: a new run can hold again. */
  released(): void {
    this.held = false
  }

  onBotFrame(pcm: Int16Array): void {
    this.echo.onBotFrame(pcm)
  }

  /** A chunk of the caller's audio that spans [startMs, endMs] and waited `bufferedMs` in the
   *  jitter buffer (the echo gate times the echo path from the packet's arrival). Returns the
   *  echo gate's verdict: the caller's own voice (true), or the bot's coming back. */
  onCallerAudio(pcm: Int16Array, bufferedMs: number, startMs: number, endMs: number): boolean {
    const nearEnd = this.echo.onCallerFrame(pcm, bufferedMs)
    if (!nearEnd || this.echo.callerDb < this.loudDb) {
      this.loudSinceMs = undefined
    } else {
      this.loudSinceMs ??= startMs
      if (this.watching && !this.held && endMs - this.loudSinceMs >= this.opts.minSpeechMs) {
        this.held = true
        this.onHold(this.loudSinceMs)
      }
    }
    return nearEnd
  }
}
