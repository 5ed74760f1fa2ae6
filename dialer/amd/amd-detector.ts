// Answering-machine detection on the first seconds of an answered outbound call, in the manner
// of Asterisk's app_amd: a person says a short word or two ("Алло?", "Hello?") and waits; a
// machine talks on (a greeting, an IVR menu) and often ends with a beep. The detector is fed
// the caller's audio one VAD window at a time, with the window's Silero probability and its end
// on the call timeline, and decides once: human, machine, or unknown when the audio does not
// say within the analysis time.

import { BeepDetector, type BeepOptions } from './beep-detector.ts'

export interface AmdOptions {
  /** No word by this time after the answer: 'unknown', reason 'initial-silence'. Asterisk calls
   *  this a machine; a person who waits for the caller to speak first is as likely, and hanging
   *  up on a person costs more than greeting a machine. */
  initialSilenceMs: number
  /** Voice in the greeting (the sum of its voiced windows) at which it is too long for a person:
   *  'machine', 'long-greeting'. */
  greetingMs: number
  /** Silence after a greeting shorter than greetingMs that makes it a person's:
   *  'human', 'short-greeting-then-silence'. */
  afterGreetingSilenceMs: number
  /** The whole analysis, from the answer: 'unknown', 'timeout' when nothing decided before. */
  totalAnalysisMs: number
  /** Voice at least this long is a word (shorter is a click or a breath). */
  minWordMs: number
  /** Silence at least this long ends a word. */
  betweenWordsSilenceMs: number
  /** Words (by the VAD) in the greeting at which it is a machine's: 'machine', 'many-words'. */
  maxWords: number
  /** Words recognised by an ASR before the first pause at which it is a machine's: 'machine',
   *  'many-words'. Recognised words are counted exactly, so the limit is that of a sentence. */
  maxTranscriptWords: number
  /** Silero probability hysteresis, as the Listener uses it: speech from speechOn, until below speechOff. */
  speechOn: number
  speechOff: number
  /** After a machine decision: silence this long after speech ends its greeting (when no beep
   *  comes first), so a message left then is recorded. Longer than a pause between sentences. */
  endOfGreetingSilenceMs: number
  beep: Partial<BeepOptions>
}

/**
 * Asterisk's amd.conf defaults, shortened to decide within 3.5 s: greeting 1500 ms, after-greeting
 * silence 800 ms, minimum word 100 ms as there; initial silence 2500 ms (there: a machine, here:
 * unknown); total 3500 ms (there 5000). Silero marks whole phrases rather than words, so a
 * between-words silence of 50 ms would never be seen: two windows (64 ms) end a word, and the
 * VAD's word limit is 4 runs (a person's "Да, да, слушаю" makes 2-3).
 */
export const DEFAULTS: AmdOptions = {
  initialSilenceMs: 2500,
  greetingMs: 1500,
  afterGreetingSilenceMs: 800,
  totalAnalysisMs: 3500,
  minWordMs: 100,
  betweenWordsSilenceMs: 64,
  maxWords: 4,
  maxTranscriptWords: 5,
  speechOn: 0.5,
  speechOff: 0.35,
  endOfGreetingSilenceMs: 1200,
  beep: {},
}

export type AmdResult = 'human' | 'machine' | 'unknown'
export type AmdReason = 'beep' | 'long-greeting' | 'many-words' | 'short-greeting-then-silence' | 'initial-silence' | 'timeout' | 'hangup'

export interface AmdDecision {
  result: AmdResult
  reason: AmdReason
  /** When it was decided, on the call timeline (ms since the answer). */
  decisionMs: number
}

/** One VAD window of the caller's audio, as the Listener sees it. */
export interface AmdWindow {
  /** the window's samples at the detector's rate */
  pcm: Int16Array
  /** its last sample's time on the call timeline, ms */
  endMs: number
  speechProb: number
}

/** How and when (call timeline, ms) a machine's greeting ended: its beep stopped, or a long silence. */
export interface GreetingEnd {
  by: 'beep' | 'silence'
  atMs: number
}

export class AmdDetector {
  private readonly opts: AmdOptions
  private readonly beep: BeepDetector
  private decided: AmdDecision | undefined
  private ended: GreetingEnd | undefined
  private beepHeard = false
  private speaking = false
  private inWord = false
  private words = 0
  private voiceMs = 0
  private runMs = 0
  private silenceMs = 0

  constructor(
    private readonly sampleRate: 8000 | 16000,
    opts: Partial<AmdOptions> = {},
  ) {
    this.opts = { ...DEFAULTS, ...opts }
    this.beep = new BeepDetector(sampleRate, this.opts.beep)
  }

  get decision(): AmdDecision | undefined {
    return this.decided
  }

  /** After a machine decision, once its greeting is over (windows keep coming until then). */
  get greetingEnd(): GreetingEnd | undefined {
    return this.ended
  }

  /** The next window; returns the decision on the window that makes it, undefined otherwise. */
  push(w: AmdWindow): AmdDecision | undefined {
    if (this.decided) {
      if (this.decided.result === 'machine') this.watchGreetingEnd(w)
      return undefined
    }
    const o = this.opts
    const ms = (w.pcm.length * 1000) / this.sampleRate
    if (this.beep.push(w.pcm)) {
      this.beepHeard = true
      return this.decide('machine', 'beep', w.endMs)
    }
    if (this.hear(w)) {
      this.runMs += ms
      this.voiceMs += ms
      this.silenceMs = 0
      if (!this.inWord && this.runMs >= o.minWordMs) {
        this.inWord = true
        this.words++
      }
      if (this.words >= o.maxWords) return this.decide('machine', 'many-words', w.endMs)
      if (this.words > 0 && this.voiceMs >= o.greetingMs) return this.decide('machine', 'long-greeting', w.endMs)
    } else {
      this.runMs = 0
      this.silenceMs += ms
      if (this.silenceMs >= o.betweenWordsSilenceMs) this.inWord = false
      if (this.words > 0 && this.silenceMs >= o.afterGreetingSilenceMs) return this.decide('human', 'short-greeting-then-silence', w.endMs)
      if (this.words === 0 && w.endMs >= o.initialSilenceMs) return this.decide('unknown', 'initial-silence', w.endMs)
    }
    // The last window that ends within the analysis time decides, so the bound holds on the timeline.
    return w.endMs + ms > o.totalAnalysisMs ? this.decide('unknown', 'timeout', w.endMs) : undefined
  }

  /** A recogniser's text of the greeting so far (partial or final), heard by `atMs`. */
  pushTranscript(text: string, atMs: number): AmdDecision | undefined {
    if (this.decided) return undefined
    const words = text.split(/[^\p{L}\p{N}]+/u).filter(Boolean).length
    return words >= this.opts.maxTranscriptWords ? this.decide('machine', 'many-words', atMs) : undefined
  }

  /** The analysis time ran out on the caller's clock (no audio may have come at all). */
  timeout(atMs: number): AmdDecision {
    return this.decided ?? this.decide('unknown', 'timeout', atMs)
  }

  /** The line went away before a decision. */
  hangup(atMs: number): AmdDecision {
    return this.decided ?? this.decide('unknown', 'hangup', atMs)
  }

  /** Speech by the model's probability, with the Listener's hysteresis. */
  private hear(w: AmdWindow): boolean {
    this.speaking = w.speechProb >= this.opts.speechOn || (this.speaking && w.speechProb >= this.opts.speechOff)
    return this.speaking
  }

  private watchGreetingEnd(w: AmdWindow): void {
    if (this.ended) return
    if (this.beep.push(w.pcm)) this.beepHeard = true
    if (this.beepHeard) {
      // the recording starts when the tone stops
      if (!this.beep.sounding) this.ended = { by: 'beep', atMs: w.endMs }
    } else if (this.hear(w)) this.silenceMs = 0
    else if ((this.silenceMs += (w.pcm.length * 1000) / this.sampleRate) >= this.opts.endOfGreetingSilenceMs) this.ended = { by: 'silence', atMs: w.endMs }
  }

  private decide(result: AmdResult, reason: AmdReason, atMs: number): AmdDecision {
    this.decided = { result, reason, decisionMs: Math.round(atMs) }
    return this.decided
  }
}
