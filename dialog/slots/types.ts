/** Languages the extractors understand. */
export type { Lang } from '../lang.ts'
import type { Lang } from '../lang.ts'

/** Slot types a scenario can declare; one extractor module each. */
export const SLOT_TYPES = ['name', 'company', 'text', 'amount', 'phone', 'email', 'datetime', 'yesno', 'digits'] as const
export type SlotType = (typeof SLOT_TYPES)[number]

/** What an extractor needs besides the text. */
export interface SlotContext {
  lang: Lang
  /** the moment relative dates are resolved against */
  now: Date
  /** IANA zone the caller's "tomorrow at 10" means, e.g. Europe/Moscow */
  timeZone: string
  /** country calling code assumed for national numbers ('7' = Russia, '1' = NANP) */
  phoneCountry: string
}

/** A value taken from the caller's words: the normalised value and how to say it back. */
export interface Extracted<V = unknown> {
  value: V
  /** human form for prompts ("+7 916 123-45-67", "завтра, 14:00–18:00") */
  display: string
  /** extra normalised facts (currency, range bounds, legal form...) */
  details?: Record<string, unknown>
}

export type Extractor<V = unknown> = (text: string, ctx: SlotContext) => Extracted<V> | undefined
