// Text helpers shared by the extractors and the intent matcher.

/** Lower case, ё -> е, punctuation to spaces (keeps digits, letters, + @ . , : - inside tokens). */
export function normalize(text: string): string {
  return text
    .toLowerCase()
    .replace(/ё/g, 'е')
    .replace(/[«»"“”„!?;()[\]{}…]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
}

/** Words of a text: letters and digits only, lower case. */
export function words(text: string): string[] {
  return normalize(text)
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean)
}

/**
 * Whether `phrase` (already split into words; a trailing '*' on a word matches any ending)
 * occurs as consecutive words of `ws`. Word-level, so "не интересно" does not match "интересно".
 */
export function containsPhrase(ws: readonly string[], phrase: readonly string[]): boolean {
  if (!phrase.length || phrase.length > ws.length) return false
  outer: for (let i = 0; i + phrase.length <= ws.length; i++) {
    for (let j = 0; j < phrase.length; j++) {
      const p = phrase[j]
      const w = ws[i + j]
      if (p.endsWith('*') ? !w.startsWith(p.slice(0, -1)) : w !== p) continue outer
    }
    return true
  }
  return false
}

/** Upper-cases the first letter of each word ("иван петров" -> "Иван Петров"). */
export function titleCase(s: string): string {
  return s.replace(/(^|[\s-])(\p{L})/gu, (_, sep: string, c: string) => sep + c.toUpperCase())
}

/** Strips leading filler words ("ну", "э", "well", "um") that carry nothing. */
const FILLERS = new Set(['ну', 'э', 'эм', 'ээ', 'так', 'вот', 'well', 'um', 'uh', 'er', 'erm', 'so', 'oh', 'ah'])
export function dropFillers(ws: string[]): string[] {
  let i = 0
  while (i < ws.length - 1 && FILLERS.has(ws[i])) i++
  return ws.slice(i)
}

/** English contractions spelled out, so "it's Jack" reads as words "it is jack". */
export function expandContractions(text: string): string {
  return text
    .replace(/[’`]/g, "'")
    .replace(/\b(it|that|name|he|she|what|there|here)'s\b/gi, '$1 is')
    .replace(/\bi'm\b/gi, 'i am')
    .replace(/\b(we|you|they)'re\b/gi, '$1 are')
    .replace(/\b(\w+)n't\b/gi, '$1 not')
    .replace(/\b(i|you|we|they)'ll\b/gi, '$1 will')
}

/** Words that make no answer on their own: hesitation and requests to repeat ("хм", "pardon?", "повторите"). */
export const NON_ANSWER = new Set([
  'hmm',
  'hm',
  'mm',
  'mmm',
  'mhm',
  'uh',
  'um',
  'er',
  'erm',
  'ah',
  'pardon',
  'sorry',
  'what',
  'excuse',
  'me',
  'repeat',
  'again',
  'say',
  'that',
  'come',
  'hello',
  'э',
  'эм',
  'ээ',
  'ммм',
  'мм',
  'хм',
  'что',
  'чего',
  'повторите',
  'еще',
  'раз',
  'не',
  'понял',
  'поняла',
  'расслышал',
  'расслышала',
  'извините',
  'простите',
  'алло',
  'слушаю',
  'ну',
  'как',
  'а',
])
