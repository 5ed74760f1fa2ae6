// Amounts of money: "сто пятьдесят тысяч", "полтора миллиона рублей", "от ста до двухсот тысяч",
// "two hundred thousand dollars", "1.5 million", "150k", "$200,000". The value is the upper bound
// of a range ("до двухсот тысяч" = 200000); bounds and currency go in details.
import { numberTokens, numberWord, parseNumbers, type NumberSpan } from './numbers.ts'
import type { Extractor } from './types.ts'

const CURRENCIES: Array<[RegExp, string]> = [
  [/^(руб|рубл|р$|₽|rub|roubl|rubl)/, 'RUB'],
  [/^(доллар|бакс|usd|dollar|buck|\$)/, 'USD'],
  [/^(евро|eur|€)/, 'EUR'],
  [/^(фунт|pound|gbp|£)/, 'GBP'],
]
const SYMBOL: Record<string, string> = { RUB: '₽', USD: '$', EUR: '€', GBP: '£' }
const FROM = new Set(['от', 'from', 'between', 'с'])
const TO = new Set(['до', 'to', 'and', 'по', '-'])
const UP_TO = new Set(['до', 'under', 'below', 'max', 'максимум', 'within'])

function currencyOf(tokens: string[], text: string): string | undefined {
  for (const t of tokens) for (const [re, code] of CURRENCIES) if (re.test(t)) return code
  for (const [sym, code] of [
    ['$', 'USD'],
    ['€', 'EUR'],
    ['₽', 'RUB'],
    ['£', 'GBP'],
  ])
    if (text.includes(sym)) return code
  return undefined
}

/** The scale word (thousand, million) a span ended on, to share it with the lower bound of a range. */
function scaleOf(tokens: string[], span: NumberSpan, lang: 'ru' | 'en'): number {
  for (let i = span.end - 1; i >= span.start; i--) {
    const n = numberWord(tokens[i], lang)
    if (n?.kind === 'scale') return n.value
    if (n?.kind === 'literal' && n.scaled) return n.value >= 1e9 ? 1e9 : n.value >= 1e6 ? 1e6 : 1e3
  }
  return 1
}

export function formatAmount(n: number): string {
  const [int, frac] = String(Math.round(n * 100) / 100).split('.')
  return int.replace(/\B(?=(\d{3})+(?!\d))/g, ' ') + (frac ? ',' + frac : '')
}

/** Russian "тысяч сто" (about a hundred thousand) is said scale first: put the scale after the number. */
function invertScale(tokens: string[], lang: 'ru' | 'en'): string[] {
  if (lang !== 'ru') return tokens
  const out = [...tokens]
  for (let i = 0; i + 1 < out.length; i++) {
    if (numberWord(out[i], lang)?.kind !== 'scale' || (i > 0 && numberWord(out[i - 1], lang)) || numberWord(out[i + 1], lang)?.kind !== 'small') continue
    let j = i + 1
    while (j < out.length && numberWord(out[j], lang)?.kind === 'small') j++
    out.splice(j - 1, 0, ...out.splice(i, 1))
    i = j
  }
  return out
}

export interface AmountDetails {
  min?: number
  max?: number
  currency?: string
}

export const extractAmount: Extractor<number> = (text, ctx) => {
  const tokens = invertScale(numberTokens(text.replace(/(\d),(\d{3})\b/g, '$1$2')), ctx.lang)
  const spans = parseNumbers(tokens, ctx.lang)
  if (!spans.length) return undefined
  const details: AmountDetails = { currency: currencyOf(tokens, text) }
  const [a, b] = spans
  let value = a.value
  if (b && tokens.slice(a.end, b.start).some((t) => TO.has(t)) && (a.start === 0 || FROM.has(tokens[a.start - 1]) || b.start === a.end + 1)) {
    let low = a.value
    if (!a.scaled && b.scaled) low *= scaleOf(tokens, b, ctx.lang)
    details.min = Math.min(low, b.value)
    details.max = Math.max(low, b.value)
    value = details.max
  } else if (UP_TO.has(tokens[a.start - 1]) || (tokens[a.start - 1] === 'to' && tokens[a.start - 2] === 'up')) details.max = value
  else if (FROM.has(tokens[a.start - 1])) details.min = value
  if (!details.currency) delete details.currency
  const sym = details.currency ? ' ' + SYMBOL[details.currency] : ''
  const display =
    details.min !== undefined && details.max !== undefined ? `${formatAmount(details.min)}–${formatAmount(details.max)}${sym}` : formatAmount(value) + sym
  return { value, display, details: details as Record<string, unknown> }
}
