// Yes / no: agreement and refusal words, with negation winning ("да нет" is a no in Russian).
import type { Extractor, Lang } from './types.ts'
import { containsPhrase, expandContractions, words } from './words.ts'

const split = (list: string[]) => list.map((p) => p.split(' '))

const YES: Record<Lang, string[][]> = {
  ru: split([
    'да',
    'ага',
    'угу',
    'конечно',
    'верно',
    'правильно',
    'точно',
    'давайте',
    'давай',
    'хорошо',
    'ладно',
    'можно',
    'удобно',
    'естественно',
    'разумеется',
    'согласен',
    'согласна',
    'именно',
    'так точно',
    'ну да',
    'вполне',
    'пожалуй',
    'окей',
    'ок',
    'все верно',
    'подходит',
    'устраивает',
    'интересно',
    'слушаю',
    'говорите',
  ]),
  en: split([
    'yes',
    'yeah',
    'yep',
    'yup',
    'sure',
    'correct',
    'right',
    'ok',
    'okay',
    'of course',
    'absolutely',
    'go ahead',
    'fine',
    'please do',
    'definitely',
    'certainly',
    'indeed',
    'alright',
    'all right',
    'that is right',
    'sounds good',
    'i do',
    'it is',
    'go on',
  ]),
}
const NO: Record<Lang, string[][]> = {
  ru: split([
    'нет',
    'неа',
    'не',
    'ни в коем случае',
    'неверно',
    'неправильно',
    'неудобно',
    'не надо',
    'не нужно',
    'не сейчас',
    'отказываюсь',
    'никак',
    'да нет',
    'нету',
  ]),
  en: split(['no', 'nope', 'nah', 'not', 'wrong', 'incorrect', 'never', 'negative', 'not really', 'no thanks']),
}

/** Agreements built with a negation word. */
const AGREEING_NEGATION: Record<Lang, string[][]> = {
  ru: split(['не против', 'почему бы и нет', 'не возражаю', 'не вопрос', 'нет проблем']),
  en: split(['why not', 'not mind', 'no problem', 'not a problem']),
}
const UNSURE: Record<Lang, string[][]> = {
  ru: split(['не знаю', 'не уверен', 'не уверена', 'не помню']),
  en: split(['not know', 'not sure', 'not remember']),
}

/** true for yes, false for no; undefined when neither (or both without a negation word winning). */
export const extractYesNo: Extractor<boolean> = (text, ctx) => {
  const ws = words(ctx.lang === 'en' ? expandContractions(text) : text)
  if (!ws.length) return undefined
  const yes = YES[ctx.lang].some((p) => containsPhrase(ws, p))
  const no = NO[ctx.lang].some((p) => containsPhrase(ws, p))
  const yesWord = { value: true, display: ctx.lang === 'ru' ? 'да' : 'yes' }
  if (no) {
    if (AGREEING_NEGATION[ctx.lang].some((p) => containsPhrase(ws, p))) return yesWord
    if (UNSURE[ctx.lang].some((p) => containsPhrase(ws, p))) return undefined
    // "да, конечно" wins only when the yes comes first and is not followed by a no ("да нет")
    const first = YES[ctx.lang].some((p) => p.length === 1 && p[0] === ws[0])
    if (yes && first && !['нет', 'no', 'not'].includes(ws[1])) return yesWord
    return { value: false, display: ctx.lang === 'ru' ? 'нет' : 'no' }
  }
  if (yes) return yesWord
  return undefined
}
