// What the agent is told about itself: a plain description the scenario engine (or a config file)
// fills in. Nothing here depends on how scenarios are written.
import type { Lang } from '../lang.ts'

export interface ForbiddenTopic {
  /** shown to the model and written to the history when the caller raises it */
  name: string
  /** word beginnings, matched case-insensitively at the start of a word ("политик" matches "политика") */
  stems: string[]
}

export interface AgentProfile {
  language: Lang
  /** "менеджер по продажам компании Складно" */
  role: string
  /** "вежливо, коротко, на вы; одна мысль на реплику" */
  style: string
  /** what the agent may state as true: products, prices, terms */
  facts: string[]
  /** extra rules on top of the built-in ones */
  safetyRules?: string[]
  forbiddenTopics?: ForbiddenTopic[]
  /** caller turns the agent answers; the next one gets a polite close and end_call (default 20) */
  maxTurns?: number
  /** phrase that replaces a sentence with an ungrounded number or promise; a language default otherwise */
  safePhrase?: string
}
