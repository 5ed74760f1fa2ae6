// A company name: what follows "я из", "компания", "I'm from", "we are"; legal forms kept (ООО, LLC);
// a private person is a value too ("частное лицо", "for myself").
import type { Extractor, Lang } from './types.ts'
import { containsPhrase, dropFillers, expandContractions, NON_ANSWER, titleCase, words } from './words.ts'

const INTROS: Record<Lang, string[][]> = {
  ru: [
    'наша компания называется',
    'компания называется',
    'наша компания',
    'я представляю компанию',
    'я представляю',
    'представляю',
    'я работаю в компании',
    'я работаю в',
    'работаю в',
    'мы из компании',
    'я из компании',
    'мы из',
    'я из',
    'из компании',
    'из',
    'компания',
    'организация',
    'фирма',
    'называется',
    'это',
  ].map((p) => p.split(' ')),
  en: [
    'our company is called',
    'the company is called',
    'our company is',
    'the company is',
    'i am calling from',
    'i am from',
    'we are from',
    'i work for',
    'i work at',
    'i represent',
    'we are',
    'it is called',
    'company is',
    'called',
    'from',
    'company',
    'it is',
  ].map((p) => p.split(' ')),
}
const PRIVATE: Record<Lang, string[][]> = {
  ru: ['частное лицо', 'физлицо', 'физическое лицо', 'для себя', 'сам по себе', 'нет компании', 'ни из какой', 'без компании'].map((p) => p.split(' ')),
  en: ['private person', 'private individual', 'individual', 'for myself', 'no company', 'myself', 'just me', 'personal'].map((p) => p.split(' ')),
}
const LEGAL_FORMS: Record<string, string> = {
  ооо: 'ООО',
  оао: 'ОАО',
  зао: 'ЗАО',
  пао: 'ПАО',
  ао: 'АО',
  ип: 'ИП',
  нко: 'НКО',
  гк: 'ГК',
  llc: 'LLC',
  inc: 'Inc',
  ltd: 'Ltd',
  corp: 'Corp',
  gmbh: 'GmbH',
  plc: 'PLC',
}
const STOPS = new Set(['а', 'но', 'мы', 'я', 'звоню', 'хочу', 'нам', 'мне', 'but', 'we', 'i', 'calling', 'please', 'пожалуйста'])
const NOT_COMPANIES = new Set(['да', 'нет', 'не', 'знаю', 'скажу', 'что', 'yes', 'no', 'not', 'know', 'what', 'sorry', 'a', 'the'])

export interface Company {
  name: string | null
  private: boolean
}

export const extractCompany: Extractor<Company> = (text, ctx) => {
  const ws = dropFillers(words(ctx.lang === 'en' ? expandContractions(text) : text))
  if (PRIVATE[ctx.lang].some((p) => containsPhrase(ws, p))) {
    return { value: { name: null, private: true }, display: ctx.lang === 'ru' ? 'частное лицо' : 'private person' }
  }
  let rest = ws
  let introduced = false
  outer: for (const intro of INTROS[ctx.lang]) {
    for (let i = 0; i + intro.length <= ws.length; i++) {
      if (containsPhrase(ws.slice(i, i + intro.length), intro)) {
        rest = ws.slice(i + intro.length)
        introduced = true
        break outer
      }
    }
  }
  if (!introduced && rest.length > 4) return undefined
  const name: string[] = []
  for (const w of rest) {
    if (STOPS.has(w) || name.length === 5) break
    name.push(w)
  }
  if (!name.length || name.every((w) => NOT_COMPANIES.has(w) || NON_ANSWER.has(w) || Object.hasOwn(LEGAL_FORMS, w))) return undefined
  const display = name.map((w) => (Object.hasOwn(LEGAL_FORMS, w) ? LEGAL_FORMS[w] : null) ?? (w === 'и' || w === 'and' ? w : titleCase(w))).join(' ')
  const legal = name.find((w) => Object.hasOwn(LEGAL_FORMS, w))
  return { value: { name: display, private: false }, display, details: legal ? { legalForm: LEGAL_FORMS[legal] } : undefined }
}
