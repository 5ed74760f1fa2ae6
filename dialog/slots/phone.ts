// Phone numbers spoken ("восемь девятьсот шестнадцать сто двадцать три сорок пять шестьдесят семь",
// "plus one two one two, five five five, oh one two three", "double five"), typed (DTMF) or mixed,
// normalised to E.164 with the scenario's country code for national numbers.
import { numberTokens, numberWord } from './numbers.ts'
import type { Extractor, Lang } from './types.ts'

/** The digits of an utterance in the order spoken; '+' when it starts with a plus. */
export function spokenDigits(text: string, lang: Lang): string {
  const tokens = numberTokens(text)
  let out = ''
  let repeat = 1
  let group = '' // a spoken group below 1000 ("девятьсот шестнадцать")
  let groupValue = 0
  let lastPlace = 5
  const flush = () => {
    if (group) out += String(groupValue).repeat(repeat)
    else return
    group = ''
    groupValue = 0
    lastPlace = 5
    repeat = 1
  }
  for (const raw of tokens) {
    const t = raw.replace(/[-.()]/g, '')
    if (t === 'плюс' || t === 'plus' || /^\+\d*$/.test(t)) {
      flush()
      if (!out) out = '+'
      if (t.length > 1 && t.startsWith('+')) out += t.slice(1)
      continue
    }
    if (/^\d+$/.test(t)) {
      flush()
      out += t.repeat(repeat)
      repeat = 1
      continue
    }
    if (lang === 'en' && (t === 'double' || t === 'triple')) {
      flush()
      repeat = t === 'double' ? 2 : 3
      continue
    }
    if (lang === 'en' && (t === 'oh' || t === 'o')) {
      flush()
      out += '0'.repeat(repeat)
      repeat = 1
      continue
    }
    const n = numberWord(t, lang)
    if (n?.kind === 'small') {
      const combines = group && n.value !== 0 && n.place < lastPlace && !(lastPlace <= 3 && n.place === 2) && lastPlace !== 2
      if (!combines) flush()
      group += t
      groupValue += n.value
      lastPlace = n.place
      continue
    }
    flush()
  }
  flush()
  return out
}

/** E.164 for the digits, or undefined when they cannot be a full number. */
export function toE164(digits: string, country: string): string | undefined {
  let d = digits
  if (d.startsWith('+')) d = d.slice(1)
  else if (d.startsWith('00')) d = d.slice(2)
  else if (country === '7' && d.length === 11 && (d[0] === '8' || d[0] === '7')) d = '7' + d.slice(1)
  else if (country === '1' && d.length === 11 && d[0] === '1') d = d
  else if (d.length === 10) d = country + d
  else if (!(d.startsWith(country) && d.length >= 11)) return undefined
  if (d.startsWith('7') && d.length !== 11) return undefined
  if (d.startsWith('1') && d.length !== 11) return undefined
  return d.length >= 8 && d.length <= 15 ? '+' + d : undefined
}

/** "+7 916 123-45-67", "+1 212 555-0123", others in groups of three. */
export function formatPhone(e164: string): string {
  const d = e164.slice(1)
  if (d.length === 11 && d[0] === '7') return `+7 ${d.slice(1, 4)} ${d.slice(4, 7)}-${d.slice(7, 9)}-${d.slice(9)}`
  if (d.length === 11 && d[0] === '1') return `+1 ${d.slice(1, 4)} ${d.slice(4, 7)}-${d.slice(7)}`
  return '+' + d.replace(/(\d{3})(?=\d)/g, '$1 ')
}

export const extractPhone: Extractor<string> = (text, ctx) => {
  const digits = spokenDigits(text, ctx.lang)
  const e164 = toE164(digits, ctx.phoneCountry)
  if (!e164) return undefined
  return { value: e164, display: formatPhone(e164), details: { spoken: digits } }
}

/** Plain digits, spoken or typed ("один два три" = "123"), for codes and menu numbers. */
export const extractDigits: Extractor<string> = (text, ctx) => {
  const digits = spokenDigits(text, ctx.lang).replace('+', '')
  return digits ? { value: digits, display: digits.split('').join(' ') } : undefined
}
