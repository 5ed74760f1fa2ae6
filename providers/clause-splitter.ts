// Cuts the LLM's streamed text into clauses that can be spoken on their own, so synthesis can start
// on the first clause while the model is still writing the rest. Russian and English.
//
// A clause ends at a sentence end (. ! ? … and runs of them) followed by a space, or, once it holds
// `minWords` words, at a comma, semicolon, colon or spaced dash followed by a space. Numbers
// (3.5, 1,000, 10:30) never have a space after the mark; abbreviations and initials are recognised
// by the word before the dot and by a lower-case word after it. A mark at the very end of the text
// so far waits for the next delta, since what follows decides.

export interface ClauseSplitterOptions {
  /** words a clause needs before a comma/semicolon/colon/dash may end it; default 3 */
  minWords?: number
  /** a clause with no break this long is cut at its last space; default 250 */
  maxChars?: number
}

// Abbreviations after which a dot does not end a sentence even before a capital ("Dr. Smith",
// "г. Москва", "т.е. Иван"). Those that may end one ("и т.д.", "etc.") need no entry: before a
// capital they end it, before a lower-case word nothing does.
const ABBREVIATIONS = new Set([
  'mr',
  'mrs',
  'ms',
  'dr',
  'prof',
  'sr',
  'jr',
  'st',
  'vs',
  'no',
  'e.g',
  'i.e',
  'approx',
  'tel',
  'fig',
  'т.е',
  'т.к',
  'т.н',
  'напр',
  'г',
  'гг',
  'ул',
  'пр',
  'просп',
  'пер',
  'д',
  'кв',
  'им',
  'см',
  'тел',
  'стр',
  'рис',
  'тов',
  'гр',
  'ср',
  'ок',
])

const SENTENCE_END = /[.!?…]/
const CLOSERS = /[»"'”’)\]]/
const SOFT_BREAK = /[,;:]/
const DASH = /[—–-]/
const SPACE = /\s/
const LOWER = /\p{Ll}/u
const UPPER_LETTER = /^\p{Lu}$/u
const WORDLIKE = /[\p{L}\p{N}]/u

export class ClauseSplitter {
  private buffer = ''
  private readonly minWords: number
  private readonly maxChars: number

  constructor(options: ClauseSplitterOptions = {}) {
    this.minWords = options.minWords ?? 3
    this.maxChars = options.maxChars ?? 250
  }

  /** Adds a delta; returns the clauses it completed, in order. */
  push(delta: string): string[] {
    this.buffer += delta
    const out: string[] = []
    for (let end = this.nextBreak(); end > 0; end = this.nextBreak()) this.take(end, out)
    return out
  }

  /** The end of the text: whatever is left is the last clause. */
  flush(): string[] {
    const out: string[] = []
    this.take(this.buffer.length, out)
    return out
  }

  private take(end: number, out: string[]): void {
    const clause = this.buffer.slice(0, end).trim()
    this.buffer = this.buffer.slice(end)
    if (WORDLIKE.test(clause)) out.push(clause)
    else if (clause && out.length) out[out.length - 1] += ` ${clause}` // stray punctuation stays with its clause
  }

  /** Index just past the first complete clause, or 0 when none is complete yet. */
  private nextBreak(): number {
    const text = this.buffer
    for (let i = 0; i < text.length; i++) {
      const c = text[i]
      if (SENTENCE_END.test(c)) {
        let end = i
        while (end < text.length && SENTENCE_END.test(text[end])) end++
        while (end < text.length && CLOSERS.test(text[end])) end++
        if (end === text.length) return 0 // what follows decides
        if (!SPACE.test(text[end])) {
          i = end - 1
          continue
        }
        const marks = text.slice(i, end)
        if (/[!?]/.test(marks)) return end
        const next = text.slice(end).search(/\S/)
        if (next < 0) return 0 // spaces so far; the next word decides
        if (this.endsSentence(text.slice(0, i), text[end + next])) return end
        i = end - 1
      } else if (SOFT_BREAK.test(c) || (DASH.test(c) && SPACE.test(text[i - 1] ?? ''))) {
        if (i + 1 === text.length) return 0
        if (SPACE.test(text[i + 1]) && wordCount(text.slice(0, i)) >= this.minWords) return i + 1
      }
    }
    if (text.length > this.maxChars) {
      const cut = text.lastIndexOf(' ', this.maxChars)
      if (cut > 0) return cut
    }
    return 0
  }

  /** Whether a dot after `before` ends the sentence, given the first character after the space. */
  private endsSentence(before: string, next: string): boolean {
    if (LOWER.test(next)) return false
    const word = before.slice(before.search(/\S+$/)).replace(/^[«"'“‘(\[]+/, '')
    const bare = word.toLowerCase()
    if (ABBREVIATIONS.has(bare)) return false
    if (UPPER_LETTER.test(word)) return false // an initial: "А. С. Пушкин", "J. Smith"
    if (/^\d+$/.test(word) && before.trim() === word) return false // a list number: "1. Первое"
    return true
  }
}

function wordCount(text: string): number {
  let n = 0
  for (const w of text.split(/\s+/)) if (WORDLIKE.test(w)) n++
  return n
}

/** Clauses of a stream of text deltas, each as soon as it is complete; the rest at the end. */
export async function* clauses(deltas: AsyncIterable<string>, options?: ClauseSplitterOptions): AsyncGenerator<string> {
  const splitter = new ClauseSplitter(options)
  for await (const delta of deltas) yield* splitter.push(delta)
  yield* splitter.flush()
}
