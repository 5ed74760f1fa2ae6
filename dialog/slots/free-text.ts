// Free text (the caller's need): kept as said, once it has at least one word that is not a filler.
import type { Extractor } from './types.ts'
import { dropFillers, NON_ANSWER, words } from './words.ts'

const EMPTY = new Set(['ну', 'э', 'эм', 'да', 'нет', 'не', 'знаю', 'алло', 'um', 'uh', 'yes', 'no', 'hello', 'well'])

export const extractFreeText: Extractor<string> = (text) => {
  const ws = dropFillers(words(text))
  if (!ws.some((w) => !EMPTY.has(w) && !NON_ANSWER.has(w) && w.length > 1)) return undefined
  const value = text.trim().replace(/\s+/g, ' ')
  return { value, display: value }
}
