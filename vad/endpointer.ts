export interface EndpointerOptions {
  /** Speech must last this long before an utterance starts (filters clicks and coughs). */
  minSpeechMs: number
  /** Silence that ends an utterance. */
  endSilenceMs: number
  /** An utterance is cut at this length. */
  maxUtteranceMs: number
}

export type EndpointEvent =
  | { type: 'start'; atMs: number }
  | { type: 'end'; startMs: number; endMs: number; truncated: boolean }

/**
 * Turns per-frame speech decisions into utterances with times on the call's timeline.
 * Start is back-dated to the first speech frame; end is the last speech frame, reported
 * once `endSilenceMs` of silence has followed it.
 */
export class Endpointer {
  private speechRunMs = 0
  private silenceRunMs = 0
  private candidateStart = 0
  private inUtterance = false
  private startMs = 0
  private lastSpeechEndMs = 0

  constructor(private readonly opts: EndpointerOptions) {}

  get active(): boolean {
    return this.inUtterance
  }

  reset(): void {
    this.speechRunMs = this.silenceRunMs = 0
    this.inUtterance = false
  }

  /** One frame starting at `atMs`, lasting `durMs`. */
  push(speech: boolean, atMs: number, durMs: number): EndpointEvent | null {
    if (!this.inUtterance) {
      if (!speech) {
        this.speechRunMs = 0
        return null
      }
      if (this.speechRunMs === 0) this.candidateStart = atMs
      this.speechRunMs += durMs
      if (this.speechRunMs < this.opts.minSpeechMs) return null
      this.inUtterance = true
      this.startMs = this.candidateStart
      this.silenceRunMs = 0
      this.lastSpeechEndMs = atMs + durMs
      return { type: 'start', atMs: this.startMs }
    }
    if (speech) {
      this.silenceRunMs = 0
      this.lastSpeechEndMs = atMs + durMs
    } else {
      this.silenceRunMs += durMs
    }
    const truncated = atMs + durMs - this.startMs >= this.opts.maxUtteranceMs
    if (this.silenceRunMs >= this.opts.endSilenceMs || truncated) {
      this.inUtterance = false
      this.speechRunMs = 0
      return { type: 'end', startMs: this.startMs, endMs: truncated ? atMs + durMs : this.lastSpeechEndMs, truncated }
    }
    return null
  }
}
