// Checks on what the caller says and what the model answers, sentence by sentence.
//
// Grounding is lexical, not semantic: every number the model says must occur in what the agent
// may rely on, and a price (a number next to a currency word) only in the facts or the knowledge
// base, never merely because the caller said it ("за 500 рублей продадите?"). Promise words
// (free, discount, guarantee...) must appear in the facts or the knowledge base too. Limits: a
// number spelled in words next to a currency is always treated as ungrounded (it cannot be
// compared), a grounded number used in the wrong place ("the Start plan costs 2490") passes, and a
// promise phrased without one of the listed words is not caught.
import type { ForbiddenTopic } from './profile.ts'
import type { Lang } from '../lang.ts'

const LETTER = String.raw`\p{L}\p{N}`

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** The first topic whose stem starts a word of text. */
export function forbiddenTopicIn(text: string, topics: readonly ForbiddenTopic[]): ForbiddenTopic | undefined {
  return topics.find((topic) => topic.stems.some((stem) => new RegExp(`(?<![${LETTER}])${escape(stem)}`, 'iu').test(text)))
}

// Digits with optional group separators (space, NBSP, narrow NBSP, comma, dot) and a decimal part.
const NUMBER = /\d+(?:[\u0020\u00a0\u202f,.]\d{3})*(?:[.,]\d+)?/g
const CURRENCY = /(?:[₽$€£]|(?<![\p{L}])(?:руб|р\.|тыс|млн|доллар|евро|usd|rub|eur|dollar|euro|pound|bucks?|k\b))/iu
const SPELLED_NUMBER = new RegExp(
  `(?<![${LETTER}])(?:` +
    [
      'од(?:ин|на|ну)',
      'дв(?:а|е|ести)',
      'три(?:ста)?',
      'четыре(?:ста)?',
      'пять',
      'шесть',
      'семь',
      'восемь',
      'девять',
      'десять',
      '\\p{L}+дцать',
      '\\p{L}+десят',
      'сто',
      '\\p{L}+сот',
      'тысяч\\p{L}*',
      'миллион\\p{L}*',
      'one',
      'two',
      'three',
      'four',
      'five',
      'six',
      'seven',
      'eight',
      'nine',
      'ten',
      'eleven',
      'twelve',
      '\\p{L}+teen',
      'twenty',
      'thirty',
      'forty',
      'fifty',
      'sixty',
      'seventy',
      'eighty',
      'ninety',
      'hundred',
      'thousand',
      'million',
    ].join('|') +
    `)(?![${LETTER}])`,
  'iu',
)

const PROMISE_STEMS: Record<Lang, string[]> = {
  ru: ['бесплатн', 'скидк', 'гарант', 'акци', 'подар', 'обеща', 'возврат'],
  en: ['free', 'discount', 'guarantee', 'promo', 'gift', 'refund', 'promise'],
}

/** "1 500", "1,500", "1.500" -> "1500"; "1,5" -> "1.5"; "007" -> "7"; "15.00" -> "15". */
export function normaliseNumber(raw: string): string {
  let s = raw.replace(/[\u0020\u00a0\u202f]/g, '')
  s = /^\d{1,3}(?:[.,]\d{3})+$/.test(s) ? s.replace(/[.,]/g, '') : s.replace(',', '.')
  const n = Number(s)
  return Number.isFinite(n) ? String(n) : s
}

function numbersIn(text: string): Array<{ value: string; index: number; length: number }> {
  return [...text.matchAll(NUMBER)].map((m) => ({ value: normaliseNumber(m[0]), index: m.index ?? 0, length: m[0].length }))
}

/** Why a sentence was replaced; kept in the history for review. */
export interface GuardrailHit {
  sentence: string
  reason: 'ungrounded-number' | 'ungrounded-price' | 'spelled-price' | 'ungrounded-promise' | 'forbidden-topic'
  detail: string
}

/**
 * What the agent may rely on: trusted text (facts, retrieved knowledge) grounds everything; echo
 * text (the caller's words, results of our own tools) grounds plain numbers but not prices or promises.
 */
export class GroundingCorpus {
  private readonly trustedNumbers = new Set<string>()
  private readonly echoNumbers = new Set<string>()
  private trustedText = ''

  constructor(private readonly language: Lang) {}

  addTrusted(text: string): void {
    for (const n of numbersIn(text)) this.trustedNumbers.add(n.value)
    this.trustedText += `\n${text.toLowerCase()}`
  }

  addEcho(text: string): void {
    for (const n of numbersIn(text)) this.echoNumbers.add(n.value)
  }

  /** The first reason this sentence may not be said, if any. */
  check(sentence: string, topics: readonly ForbiddenTopic[] = []): GuardrailHit | undefined {
    const topic = forbiddenTopicIn(sentence, topics)
    if (topic) return { sentence, reason: 'forbidden-topic', detail: topic.name }
    for (const n of numbersIn(sentence)) {
      // A currency sign just before the number or a currency word right after it makes it a price.
      const before = sentence.slice(Math.max(0, n.index - 2), n.index)
      const after = sentence.slice(n.index + n.length, n.index + n.length + 12)
      const price = CURRENCY.test(before) || CURRENCY.test(after)
      if (price && !this.trustedNumbers.has(n.value)) return { sentence, reason: 'ungrounded-price', detail: n.value }
      if (!price && !this.trustedNumbers.has(n.value) && !this.echoNumbers.has(n.value)) {
        return { sentence, reason: 'ungrounded-number', detail: n.value }
      }
    }
    if (!/\d/.test(sentence) && CURRENCY.test(sentence) && SPELLED_NUMBER.test(sentence)) {
      return { sentence, reason: 'spelled-price', detail: sentence.match(SPELLED_NUMBER)?.[0] ?? '' }
    }
    const lower = sentence.toLowerCase()
    for (const stem of PROMISE_STEMS[this.language]) {
      const word = new RegExp(`(?<![${LETTER}])${stem}`, 'u')
      if (word.test(lower) && !word.test(this.trustedText)) return { sentence, reason: 'ungrounded-promise', detail: stem }
    }
    return undefined
  }

  toJSON(): { trustedNumbers: string[]; echoNumbers: string[] } {
    return { trustedNumbers: [...this.trustedNumbers], echoNumbers: [...this.echoNumbers] }
  }
}

/** Cuts streamed text into sentences, so each is checked whole before it is spoken. */
export class SentenceBuffer {
  private pending = ''

  /** Complete sentences now available, each with its trailing punctuation. */
  push(delta: string): string[] {
    this.pending += delta
    const out: string[] = []
    // A sentence ends at . ! ? … (then whitespace) or at a line break; "2.5" and "8:00" do not end one.
    const end = /[.!?…]+(?=\s)|\n/g
    let start = 0
    for (let m = end.exec(this.pending); m; m = end.exec(this.pending)) {
      const sentence = this.pending.slice(start, m.index + m[0].length).trim()
      if (sentence) out.push(sentence)
      start = m.index + m[0].length
    }
    this.pending = this.pending.slice(start)
    return out
  }

  /** Whatever is left at the end of the reply. */
  flush(): string | undefined {
    const rest = this.pending.trim()
    this.pending = ''
    return rest || undefined
  }
}
