// The boundary between a dialog (the scenario engine, the LLM agent) and the media side of a call.
import type { PromptKey } from './prompts.ts'

/** What the caller gave for one question. */
export type Answer =
  /** detectedMs: when the end of the utterance was declared (endMs + the end silence, about);
   *  text and asrFinalMs: what the recogniser made of it and when, with an ASR provider */
  | { kind: 'speech'; startMs: number; endMs: number; detectedMs: number; clipPath: string; text?: string; asrFinalMs?: number }
  | { kind: 'digits'; digits: string; atMs: number }
  | { kind: 'none' }
  | { kind: 'hangup' }

export interface ListenOptions {
  /** Accept keypad digits as the answer (ended by the terminator, `maxDigits` keys or a pause). */
  digits: boolean
  /** The answer is complete at this many keys (a menu choice: 1); default unlimited. */
  maxDigits?: number
  /** The key that ends the digits and is not part of them; default '#'. */
  terminator?: string
  /** Name of the slot, used for the clip's file name. */
  slot: string
  /** This step's turn-taking, over the configured defaults. */
  turn?: Partial<TurnTaking>
}

/** The turn-taking knobs; the config gives the defaults, a scenario step may override each. */
export interface TurnTaking {
  /** speech must last this long to start an utterance */
  minSpeechMs: number
  /** silence that ends an utterance */
  endSilenceMs: number
  maxUtteranceMs: number
  /** nothing said for this long after the prompt: no input */
  noInputMs: number
  interDigitMs: number
}

export interface SayOptions {
  /** false for a prompt the caller must hear out (a legal disclaimer); default true */
  interruptible?: boolean
}

/** The media side of a call, as the scenario sees it. */
export interface ScenarioIO {
  /** resolves false when the prompt was cut short (barge-in, hang-up) */
  say(prompt: PromptKey, opts?: SayOptions): Promise<boolean>
  listen(opts: ListenOptions): Promise<Answer>
}

export type Outcome = 'lead' | 'no-input' | 'caller-hangup' | 'transferred'

export interface ScenarioResult {
  outcome: Outcome
  answers: Record<string, Answer>
}
