export interface EndpointerOptions {
  /** Speech must last this long before an utterance starts (filters clicks and coughs). */
  minSpeechMs: number
  /** Silence that ends an utterance. */
  endSilenceMs: number
  /** An utterance is cut at this length. */
  maxUtteranceMs: number
}

export type EndpointEvent = { type: 'start'; atMs: number } | { type: 'end'; startMs: number; endMs: number; truncated: boolean }

/** How far before the model's first speech frame an onset may be moved by energy, ms. */
const MAX_BACKDATE_MS = 192
/** A frame belongs to the onset when it is this far above the noise floor. */
const ONSET_ABOVE_FLOOR_DB = 12

/**
 * Turns per-frame speech decisions into utterances with times on the call's timeline.
 * Start is back-dated to the first speech frame, and further back over the frames just before
 * it that stand clearly above the noise floor (a neural VAD's probability ramps up over a
 * few windows after a weak consonant); end is the last speech frame, reported once
 * `endSilenceMs` of silence has followed it.
 */
export class Endpointer {
  private speechRunMs = 0
  private silenceRunMs = 0
  private candidateStart = 0
  private inUtterance = false
  private startMs = 0
  private lastSpeechEndMs = 0
  /** Levels of the frames before the current candidate, newest last (for onset back-dating). */
  private readonly before: Array<{ atMs: number; db: number }> = []
  private floorDb = -120

  constructor(private opts: EndpointerOptions) {}

  /** Per scenario step; takes effect from the next frame, also inside an utterance. */
  configure(opts: EndpointerOptions): void {
    this.opts = opts
  }

  get active(): boolean {
    return this.inUtterance
  }

  reset(): void {
    this.speechRunMs = this.silenceRunMs = 0
    this.inUtterance = false
  }

  /** One frame starting at `atMs`, lasting `durMs`, with its level in dBFS when known. */
  push(speech: boolean, atMs: number, durMs: number, levelDb?: number): EndpointEvent | null {
    if (!this.inUtterance) {
      if (!speech) {
        this.speechRunMs = 0
        if (levelDb !== undefined) this.noteQuiet(atMs, levelDb)
        return null
      }
      if (this.speechRunMs === 0) this.candidateStart = this.onset(atMs)
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
    if (this.silenceRunMs >= this.opts.endSilenceMs || truncated) return this.end(truncated ? atMs + durMs : this.lastSpeechEndMs, truncated)
    return null
  }

  /**
   * `tailMs` of audio after the last frame is known to be silent before its frame is complete
   * (it is below the energy gate): the utterance ends now if the silence with it is long enough.
   */
  quietTail(tailMs: number): EndpointEvent | null {
    if (!this.inUtterance || this.silenceRunMs + tailMs < this.opts.endSilenceMs) return null
    return this.end(this.lastSpeechEndMs, false)
  }

  private end(endMs: number, truncated: boolean): EndpointEvent {
    this.inUtterance = false
    this.speechRunMs = 0
    this.before.length = 0
    return { type: 'end', startMs: this.startMs, endMs, truncated }
  }

  private noteQuiet(atMs: number, db: number): void {
    this.before.push({ atMs, db })
    while (this.before.length && this.before[0].atMs < atMs - MAX_BACKDATE_MS) this.before.shift()
    // The floor falls at once and rises slowly, so the onset of speech does not lift it.
    this.floorDb = db < this.floorDb ? db : this.floorDb + 0.05 * (db - this.floorDb)
  }

  /** Is a frame at this level clearly above the noise floor (onset material)? */
  aboveFloor(db: number): boolean {
    return db >= this.loudDb
  }

  /** The lowest level that is clearly above the noise floor. */
  get loudDb(): number {
    return this.floorDb + ONSET_ABOVE_FLOOR_DB
  }

  /** The first of the contiguous frames before `atMs` that are clearly above the floor. */
  private onset(atMs: number): number {
    let start = atMs
    for (let i = this.before.length - 1; i >= 0; i--) {
      const f = this.before[i]
      if (!this.aboveFloor(f.db)) break
      start = f.atMs
    }
    return start
  }
}
