// "нет, не Иван, а Игорь" / "no, not John, it's Jack": what was wrong and what is right.
import type { Lang } from './types.ts'
import { dropFillers, expandContractions, words } from './words.ts'

export interface Correction {
  /** the words being corrected ("иван"); empty when only the right value is given ("я сказал Игорь") */
  wrong: string[]
  /** the words that replace them ("игорь") */
  right: string[]
}

const LEAD: Record<Lang, Set<string>> = { ru: new Set(['нет', 'да']), en: new Set(['no', 'nope', 'sorry']) }
const EN_SEPARATORS = [['it', 'is'], ['but'], ['it', 'was'], ['its'], ['rather'], ['i', 'said'], ['my', 'name', 'is'], ['actually'], ['instead']]

function strip(ws: string[], lang: Lang): string[] {
  let out = dropFillers(ws)
  while (out.length > 1 && LEAD[lang].has(out[0])) out = out.slice(1)
  return out
}

export function parseCorrection(text: string, lang: Lang): Correction | undefined {
  const ws = strip(words(lang === 'en' ? expandContractions(text) : text), lang)
  if (ws.length < 2) return undefined
  const neg = lang === 'ru' ? 'не' : 'not'
  const short = (a: string[]) => a.length > 0 && a.length <= 4
  // "я сказал Игорь", "i said Jack"
  const said = lang === 'ru' ? ['сказал', 'сказала', 'говорю'] : ['said']
  if ((ws[0] === 'я' || ws[0] === 'i') && said.includes(ws[1]) && short(ws.slice(2))) return { wrong: [], right: ws.slice(2) }
  if (ws[0] === neg) {
    const rest = ws.slice(1)
    if (lang === 'ru') {
      const a = rest.indexOf('а')
      if (a > 0) return short(rest.slice(0, a)) && short(rest.slice(a + 1)) ? { wrong: rest.slice(0, a), right: rest.slice(a + 1) } : undefined
    } else {
      for (const sep of EN_SEPARATORS) {
        for (let i = 1; i + sep.length <= rest.length; i++) {
          if (sep.every((w, j) => rest[i + j] === w)) {
            const right = rest.slice(i + sep.length)
            return short(right) && short(rest.slice(0, i)) ? { wrong: rest.slice(0, i), right } : undefined
          }
        }
      }
    }
    // "нет, не Иван, Игорь": without a separator only a one-word wrong value is safe to split off
    if (rest.length >= 2 && short(rest.slice(1))) return { wrong: rest.slice(0, 1), right: rest.slice(1) }
    return undefined
  }
  // "Игорь, а не Иван", "Jack, not John"
  const at = lang === 'ru' ? ws.findIndex((w, i) => w === 'а' && ws[i + 1] === 'не') : ws.indexOf('not')
  if (at > 0) {
    const right = ws.slice(0, at)
    const wrong = ws.slice(at + (lang === 'ru' ? 2 : 1))
    if (short(right) && short(wrong)) return { wrong, right }
  }
  return undefined
}
