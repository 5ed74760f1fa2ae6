// An outbound call's answer, screened for an answering machine: the Listener's VAD windows go to
// an AmdDetector, and the call waits for its decision, at most the analysis time on the call's
// timeline, and then, for a machine, for the end of its greeting before a message is left.
import { AmdDetector, DEFAULTS, type AmdDecision, type AmdOptions, type AmdWindow, type GreetingEnd } from './amd-detector.ts'

/** What the placer of a call (POST /api/calls "amd") chose to do with a machine. */
export interface AmdPolicy {
  /** 'hangup': BYE at once; 'message': wait for the beep (or the greeting's end), say `message`, BYE */
  onMachine: 'hangup' | 'message'
  message?: string
}

/** The longest a machine's greeting is waited for before the message is said anyway. */
export const MAX_GREETING_WAIT_MS = 30_000

export class AmdScreen {
  private readonly detector: AmdDetector
  private readonly totalMs: number
  /** what decision() or greetingEnd() waits for, and how to wake it */
  private waiter: { ready: () => unknown; done: () => void } | undefined
  private closed = false

  constructor(
    sampleRate: 8000 | 16000,
    /** the call's timeline, ms since the answer */
    private readonly now: () => number,
    opts: Partial<AmdOptions> = {},
  ) {
    this.detector = new AmdDetector(sampleRate, opts)
    this.totalMs = opts.totalAnalysisMs ?? DEFAULTS.totalAnalysisMs
  }

  /** One VAD window from the Listener (its samples are valid during the call only). */
  window(w: AmdWindow): void {
    this.detector.push(w)
    if (this.waiter?.ready()) this.waiter.done()
  }

  /** An ASR's partial or final text of the caller's first utterance. */
  transcript(text: string, atMs: number): void {
    this.detector.pushTranscript(text, atMs)
    if (this.waiter?.ready()) this.waiter.done()
  }

  /** The decision, on the window that makes it or at the analysis time, whichever is first. */
  async decision(): Promise<AmdDecision> {
    const made = await this.until(() => this.detector.decision, this.totalMs - this.now())
    return made ?? (this.closed ? this.detector.hangup(this.now()) : this.detector.timeout(this.now()))
  }

  /** After a machine decision: its beep, or the silence that ends its greeting; undefined when
   *  neither came within `maxMs` or the call ended. */
  greetingEnd(maxMs = MAX_GREETING_WAIT_MS): Promise<GreetingEnd | undefined> {
    return this.until(() => this.detector.greetingEnd, maxMs)
  }

  /** The call is over: whatever waits resolves now. */
  close(): void {
    this.closed = true
    this.waiter?.done()
  }

  private until<T>(ready: () => T | undefined, waitMs: number): Promise<T | undefined> {
    if (ready() || this.closed) return Promise.resolve(ready())
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.waiter = undefined
        resolve(ready())
      }
      const timer = setTimeout(done, Math.max(0, waitMs))
      this.waiter = { ready, done }
    })
  }
}
