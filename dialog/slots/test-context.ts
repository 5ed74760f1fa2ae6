// The fixed moment and zone the slot and engine tests resolve relative dates against.
import type { Lang, SlotContext } from './types.ts'

/** Wednesday 2 December 2026, 10:15 in Moscow. */
export const NOW = new Date('2026-12-02T10:15:00+03:00')

export function ctx(lang: Lang, over: Partial<SlotContext> = {}): SlotContext {
  return { lang, now: NOW, timeZone: 'Europe/Moscow', phoneCountry: '7', ...over }
}
