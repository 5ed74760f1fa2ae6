// A person's name: what is left of "меня зовут Иван Петров" / "my name is John Smith" after the
// introduction words, up to three words; corrections ("нет, не Иван, а Игорь") give the new name.
import { parseCorrection } from './correction.ts'
import type { Extractor, Lang } from './types.ts'
import { containsPhrase, dropFillers, expandContractions, NON_ANSWER, titleCase, words } from './words.ts'

const INTROS: Record<Lang, string[][]> = {
  ru: [
    'меня зовут',
    'мое имя',
    'моя фамилия',
    'зовут меня',
    'зовут',
    'звать',
    'называйте меня',
    'зовите меня',
    'обращайтесь',
    'можно просто',
    'можно',
    'просто',
    'это',
    'я',
  ].map((p) => p.split(' ')),
  en: ['my name is', 'the name is', 'name is', 'you can call me', 'call me', 'this is', 'it is', 'i am', 'just', 'speaking'].map((p) => p.split(' ')),
}
const GREETINGS = new Set([
  'алло',
  'здравствуйте',
  'привет',
  'добрый',
  'день',
  'вечер',
  'утро',
  'да',
  'hello',
  'hi',
  'hey',
  'good',
  'morning',
  'afternoon',
  'evening',
  'yes',
  'well',
  'oh',
  'ok',
  'okay',
  'sure',
])
/** Words that end the name ("Иван из Ромашки", "John from Acme"). */
const STOPS = new Set([
  'из',
  'и',
  'а',
  'но',
  'звоню',
  'компания',
  'компании',
  'по',
  'мне',
  'я',
  'хочу',
  'хотел',
  'хотела',
  'from',
  'and',
  'with',
  'at',
  'i',
  'calling',
  'but',
  'here',
  'speaking',
  'please',
  'пожалуйста',
  'вот',
])
/** Utterances made only of these are not names. */
const NOT_NAMES = new Set([
  'да',
  'нет',
  'не',
  'знаю',
  'что',
  'кто',
  'зачем',
  'почему',
  'слушаю',
  'скажу',
  'важно',
  'неважно',
  'какая',
  'разница',
  'говорите',
  'yes',
  'no',
  'not',
  'what',
  'who',
  'why',
  'sorry',
  'pardon',
  'know',
  'do',
  'matter',
  'does',
  'it',
  'none',
  'your',
  'business',
  'a',
  'the',
])

function afterIntro(ws: string[], lang: Lang): { rest: string[]; introduced: boolean } {
  for (const intro of INTROS[lang]) {
    // an introduction opens the answer ("ну, меня зовут..."), it is not somewhere in a sentence
    for (let i = 0; i <= 1 && i + intro.length <= ws.length; i++) {
      if (containsPhrase(ws.slice(i, i + intro.length), intro)) return { rest: ws.slice(i + intro.length), introduced: true }
    }
  }
  return { rest: ws, introduced: false }
}

/** The name words of an utterance, or undefined when it does not look like a name. */
export function nameWords(text: string, lang: Lang): string[] | undefined {
  const correction = parseCorrection(text, lang)
  if (correction) return nameWords(correction.right.join(' '), lang) ?? undefined
  let ws = dropFillers(words(lang === 'en' ? expandContractions(text) : text))
  while (ws.length > 1 && GREETINGS.has(ws[0])) ws = ws.slice(1)
  const { rest, introduced } = afterIntro(ws, lang)
  if (!introduced && rest.length > 3) return undefined // a sentence, not a name
  const name: string[] = []
  for (const w of rest) {
    if (STOPS.has(w) || name.length === 3) break
    name.push(w)
  }
  if (!name.length || name.some((w) => /\d/.test(w)) || name.every((w) => NOT_NAMES.has(w) || GREETINGS.has(w) || NON_ANSWER.has(w))) return undefined
  return name
}

export const extractName: Extractor<string> = (text, ctx) => {
  const ws = nameWords(text, ctx.lang)
  if (!ws) return undefined
  const value = titleCase(ws.join(' '))
  return { value, display: value, details: { first: titleCase(ws[0]) } }
}
