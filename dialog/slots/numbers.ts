// Numbers spoken as words (Russian and English, with the Russian case forms people use:
// "до двухсот тысяч", "полтора миллиона") and as digits ("150", "1,5", "150к").
import type { Lang } from './types.ts'
import { normalize } from './words.ts'

/** How a word takes part in a number. `place` orders the parts of a group below 1000. */
export type NumberWord =
  | { kind: 'small'; value: number; place: 1 | 2 | 3 | 4 } // unit, teen, tens, hundreds
  | { kind: 'hundred' } // English "hundred": multiplies what came before
  | { kind: 'scale'; value: number } // thousand, million, billion
  | { kind: 'fraction'; value: number } // полтора = 1.5, полмиллиона = 500000 (then scale 0)
  | { kind: 'literal'; value: number; scaled: boolean } // "150", "1.5", "150k"

function table(entries: Array<[number, string[]]>): Map<string, number> {
  const m = new Map<string, number>()
  for (const [v, forms] of entries) for (const f of forms) m.set(f, v)
  return m
}

const RU_SMALL = table([
  [0, ['ноль', 'нуль', 'нуля', 'нолю']],
  [1, ['один', 'одна', 'одно', 'одного', 'одной', 'одну', 'одним', 'одному']],
  [2, ['два', 'две', 'двух', 'двум', 'двумя']],
  [3, ['три', 'трех', 'трем', 'тремя']],
  [4, ['четыре', 'четырех', 'четырем', 'четырьмя']],
  [5, ['пять', 'пяти', 'пятью']],
  [6, ['шесть', 'шести', 'шестью']],
  [7, ['семь', 'семи', 'семью']],
  [8, ['восемь', 'восьми', 'восемью']],
  [9, ['девять', 'девяти', 'девятью']],
  [10, ['десять', 'десяти']],
  [11, ['одиннадцать', 'одиннадцати']],
  [12, ['двенадцать', 'двенадцати']],
  [13, ['тринадцать', 'тринадцати']],
  [14, ['четырнадцать', 'четырнадцати']],
  [15, ['пятнадцать', 'пятнадцати']],
  [16, ['шестнадцать', 'шестнадцати']],
  [17, ['семнадцать', 'семнадцати']],
  [18, ['восемнадцать', 'восемнадцати']],
  [19, ['девятнадцать', 'девятнадцати']],
  [20, ['двадцать', 'двадцати']],
  [30, ['тридцать', 'тридцати']],
  [40, ['сорок', 'сорока']],
  [50, ['пятьдесят', 'пятидесяти']],
  [60, ['шестьдесят', 'шестидесяти']],
  [70, ['семьдесят', 'семидесяти']],
  [80, ['восемьдесят', 'восьмидесяти']],
  [90, ['девяносто', 'девяноста']],
  [100, ['сто', 'ста', 'сотня', 'сотни', 'сотню']],
  [200, ['двести', 'двухсот', 'двумстам']],
  [300, ['триста', 'трехсот']],
  [400, ['четыреста', 'четырехсот']],
  [500, ['пятьсот', 'пятисот']],
  [600, ['шестьсот', 'шестисот']],
  [700, ['семьсот', 'семисот']],
  [800, ['восемьсот', 'восьмисот']],
  [900, ['девятьсот', 'девятисот']],
])
const RU_SCALE = table([
  [1e3, ['тысяча', 'тысячи', 'тысяч', 'тысячу', 'тысячей', 'тысячами', 'тыс', 'тысячь']],
  [1e6, ['миллион', 'миллиона', 'миллионов', 'миллионом', 'млн', 'лям', 'ляма', 'лямов']],
  [1e9, ['миллиард', 'миллиарда', 'миллиардов', 'млрд']],
])
const RU_FRACTION = table([
  [1.5, ['полтора', 'полторы', 'полутора']],
  [500, ['полтысячи']],
  [5e5, ['полмиллиона', 'полмиллион', 'пол-миллиона']],
  [5e8, ['полмиллиарда']],
])

const EN_SMALL = table([
  [0, ['zero', 'nought', 'nil']],
  [1, ['one']],
  [2, ['two']],
  [3, ['three']],
  [4, ['four']],
  [5, ['five']],
  [6, ['six']],
  [7, ['seven']],
  [8, ['eight']],
  [9, ['nine']],
  [10, ['ten']],
  [11, ['eleven']],
  [12, ['twelve']],
  [13, ['thirteen']],
  [14, ['fourteen']],
  [15, ['fifteen']],
  [16, ['sixteen']],
  [17, ['seventeen']],
  [18, ['eighteen']],
  [19, ['nineteen']],
  [20, ['twenty']],
  [30, ['thirty']],
  [40, ['forty', 'fourty']],
  [50, ['fifty']],
  [60, ['sixty']],
  [70, ['seventy']],
  [80, ['eighty']],
  [90, ['ninety']],
])
const EN_SCALE = table([
  [1e3, ['thousand', 'thousands', 'grand']],
  [1e6, ['million', 'millions', 'mln', 'mil']],
  [1e9, ['billion', 'billions', 'bn']],
])

const SUFFIX_SCALE: Record<string, number> = { k: 1e3, к: 1e3, тыс: 1e3, m: 1e6, м: 1e6, млн: 1e6, mln: 1e6, b: 1e9, bn: 1e9, млрд: 1e9 }

function placeOf(v: number): 1 | 2 | 3 | 4 {
  return v >= 100 ? 4 : v >= 20 ? 3 : v >= 10 ? 2 : 1
}

/** Number tokens of a text: words plus digit groups kept whole ("1,5", "150k", "10:30"). */
export function numberTokens(text: string): string[] {
  return normalize(text)
    .replace(/(\d)\s*%/g, '$1 %')
    .split(/[\s]+/)
    .map((t) => t.replace(/^[^\p{L}\p{N}+$€₽]+|[^\p{L}\p{N}]+$/gu, ''))
    .flatMap((t) => (/^[\p{L}]+-[\p{L}]+$/u.test(t) && !t.startsWith('пол-') ? t.split('-') : [t]))
    .filter(Boolean)
}

/** What a single token means as part of a number, if anything. */
export function numberWord(w: string, lang: Lang): NumberWord | undefined {
  const lit = /^[$€₽]?(\d+(?:[.,]\d+)?)(k|к|m|м|b|bn|mln|млн|млрд|тыс)?$/.exec(w)
  if (lit) {
    const value = Number(lit[1].replace(',', '.'))
    const scale = lit[2] ? SUFFIX_SCALE[lit[2]] : 1
    return { kind: 'literal', value: value * scale, scaled: scale > 1 }
  }
  if (lang === 'ru') {
    const s = RU_SMALL.get(w)
    if (s !== undefined) return { kind: 'small', value: s, place: placeOf(s) }
    const sc = RU_SCALE.get(w)
    if (sc !== undefined) return { kind: 'scale', value: sc }
    const f = RU_FRACTION.get(w)
    if (f !== undefined) return { kind: 'fraction', value: f }
    return undefined
  }
  const s = EN_SMALL.get(w)
  if (s !== undefined) return { kind: 'small', value: s, place: placeOf(s) }
  if (w === 'hundred' || w === 'hundreds') return { kind: 'hundred' }
  const sc = EN_SCALE.get(w)
  if (sc !== undefined) return { kind: 'scale', value: sc }
  return undefined
}

/** A number found in a token list: tokens [start, end) made `value`. */
export interface NumberSpan {
  value: number
  start: number
  end: number
  /** a thousand/million word or suffix took part ("150 тысяч", "2m") */
  scaled: boolean
}

/**
 * Every number in the tokens, left to right. Parts combine the way they are spoken:
 * "сто пятьдесят тысяч" = 150000, "два с половиной миллиона" = 2500000,
 * "one hundred and fifty thousand" = 150000, "half a million" = 500000, "150 000" = 150000;
 * parts that cannot combine start a new number ("два три" = 2, 3).
 */
export function parseNumbers(tokens: readonly string[], lang: Lang): NumberSpan[] {
  const spans: NumberSpan[] = []
  let i = 0
  while (i < tokens.length) {
    const span = parseOne(tokens, i, lang)
    if (span) {
      spans.push(span)
      i = span.end
    } else i++
  }
  return spans
}

function parseOne(tokens: readonly string[], from: number, lang: Lang): NumberSpan | undefined {
  let total = 0
  let group = 0 // the part below the next scale word
  let lastPlace = 5 // place of the last small part (5 = none yet)
  let lastScale = Infinity
  let any = false
  let scaled = false
  let literal = false
  let i = from
  const peek = (k: number) => (tokens[k] === undefined ? undefined : numberWord(tokens[k], lang))
  for (; i < tokens.length; i++) {
    const w = tokens[i]
    // "half a million", "a hundred", "a thousand"
    if (lang === 'en' && (w === 'a' || w === 'half') && !literal) {
      const next = w === 'half' && tokens[i + 1] === 'a' ? i + 2 : i + 1
      const n = peek(next)
      if (n && (n.kind === 'scale' || n.kind === 'hundred') && !group) {
        group = w === 'half' ? 0.5 : 1
        any = true
        lastPlace = 1
        i = next - 1
        continue
      }
      break
    }
    // "с половиной", "and a half"
    if (any && group && group % 1 === 0 && group < 1000) {
      if (lang === 'ru' && w === 'с' && tokens[i + 1] === 'половиной') {
        group += 0.5
        i++
        continue
      }
      if (lang === 'en' && w === 'and' && tokens[i + 1] === 'a' && tokens[i + 2] === 'half') {
        group += 0.5
        i += 2
        continue
      }
    }
    if (lang === 'en' && w === 'and' && any && peek(i + 1)?.kind === 'small') continue
    // "пол миллиона"
    if (lang === 'ru' && w === 'пол' && !any && peek(i + 1)?.kind === 'scale') {
      group = 0.5
      any = true
      lastPlace = 1
      continue
    }
    const n = numberWord(w, lang)
    if (!n) break
    if (n.kind === 'literal') {
      // "150 000": a three-digit group continues a literal
      if (literal && !scaled && /^\d{3}$/.test(w) && lastScale === Infinity) {
        group = group * 1000 + n.value
        continue
      }
      if (any) break
      any = literal = true
      if (n.scaled) {
        total = n.value
        scaled = true
        lastScale = n.value >= 1e9 ? 1e9 : n.value >= 1e6 ? 1e6 : 1e3
      } else group = n.value
      lastPlace = 0
      continue
    }
    if (n.kind === 'small') {
      // hundreds > tens > (teen | unit); zero and teen-after-tens never combine
      if (n.place >= lastPlace || (lastPlace <= 3 && n.place === 2) || lastPlace === 2 || (any && n.value === 0) || literal) break
      group += n.value
      lastPlace = n.place
      any = true
      continue
    }
    if (n.kind === 'fraction') {
      if (any) break
      any = true
      if (n.value > 100) {
        total = n.value
        scaled = true
        lastScale = n.value >= 1e6 ? 1e6 : 1e3
        lastPlace = 0
      } else {
        group = n.value
        lastPlace = 1
      }
      continue
    }
    if (n.kind === 'hundred') {
      if (!any || group >= 100 || lastPlace === 0) break
      group *= 100
      lastPlace = 4
      continue
    }
    // scale
    if (n.value >= lastScale) break
    total += (any && group ? group : 1) * n.value
    group = 0
    lastScale = n.value
    lastPlace = 5
    any = scaled = true
    literal = false
  }
  if (!any) return undefined
  return { value: total + group, start: from, end: i, scaled }
}

const RU_ORDINAL_STEMS: Array<[string, number]> = [
  ['одиннадцат', 11],
  ['двенадцат', 12],
  ['тринадцат', 13],
  ['четырнадцат', 14],
  ['пятнадцат', 15],
  ['шестнадцат', 16],
  ['семнадцат', 17],
  ['восемнадцат', 18],
  ['девятнадцат', 19],
  ['двадцат', 20],
  ['тридцат', 30],
  ['перв', 1],
  ['втор', 2],
  ['трет', 3],
  ['четверт', 4],
  ['пят', 5],
  ['шест', 6],
  ['седьм', 7],
  ['восьм', 8],
  ['девят', 9],
  ['десят', 10],
]
const RU_ORDINAL_ENDINGS = ['ое', 'ого', 'ый', 'ой', 'ий', 'ье', 'ьего', 'ья', 'ая', 'ую', 'ом', 'ому', 'ему', 'ью', 'ьем']
const EN_ORDINALS = table([
  [1, ['first']],
  [2, ['second']],
  [3, ['third']],
  [4, ['fourth']],
  [5, ['fifth']],
  [6, ['sixth']],
  [7, ['seventh']],
  [8, ['eighth']],
  [9, ['ninth']],
  [10, ['tenth']],
  [11, ['eleventh']],
  [12, ['twelfth']],
  [13, ['thirteenth']],
  [14, ['fourteenth']],
  [15, ['fifteenth']],
  [16, ['sixteenth']],
  [17, ['seventeenth']],
  [18, ['eighteenth']],
  [19, ['nineteenth']],
  [20, ['twentieth']],
  [30, ['thirtieth']],
])

/** An ordinal word's number ("пятнадцатого" = 15, "третьего" = 3, "15th" = 15, "third" = 3). */
export function ordinalWord(w: string, lang: Lang): number | undefined {
  const d = /^(\d{1,2})(?:st|nd|rd|th|-?е|-?го|-?ое|-?ого)?$/.exec(w)
  if (d) return Number(d[1])
  if (lang === 'en') return EN_ORDINALS.get(w)
  for (const [stem, v] of RU_ORDINAL_STEMS) {
    if (w.startsWith(stem) && RU_ORDINAL_ENDINGS.includes(w.slice(stem.length))) return v
  }
  return undefined
}

/** An ordinal spoken in one or two words ("двадцать первое", "twenty first"): value and tokens used. */
export function parseOrdinal(tokens: readonly string[], i: number, lang: Lang): { value: number; used: number } | undefined {
  const tens = numberWord(tokens[i] ?? '', lang)
  if (tens?.kind === 'small' && tens.place === 3 && tokens[i + 1]) {
    const unit = ordinalWord(tokens[i + 1], lang)
    if (unit !== undefined && unit < 10) return { value: tens.value + unit, used: 2 }
  }
  const v = tokens[i] === undefined ? undefined : ordinalWord(tokens[i], lang)
  return v === undefined ? undefined : { value: v, used: 1 }
}
