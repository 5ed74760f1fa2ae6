// E-mail addresses dictated: "ivan собака mail точка ru", "иван точка петров собака яндекс точка ру",
// "john at example dot com", "j o h n underscore smith at gmail dot com"; typed ones pass as they are.
import { numberWord } from './numbers.ts'
import type { Extractor, Lang } from './types.ts'
import { normalize } from './words.ts'

const AT = new Set(['собака', 'собачка', 'собаку', 'эт', 'at', '@'])
const SYMBOLS: Record<string, string> = {
  точка: '.',
  dot: '.',
  point: '.',
  подчеркивание: '_',
  подчеркиванием: '_',
  underscore: '_',
  дефис: '-',
  тире: '-',
  минус: '-',
  dash: '-',
  hyphen: '-',
  плюс: '+',
  plus: '+',
}
/** Domains and parts said in Russian. */
const SPOKEN: Record<string, string> = {
  мейл: 'mail',
  мэйл: 'mail',
  маил: 'mail',
  майл: 'mail',
  яндекс: 'yandex',
  гмейл: 'gmail',
  гмайл: 'gmail',
  джимейл: 'gmail',
  джимэйл: 'gmail',
  жмейл: 'gmail',
  рамблер: 'rambler',
  ру: 'ru',
  ком: 'com',
  нет: 'net',
  орг: 'org',
  инбокс: 'inbox',
  лист: 'list',
  бк: 'bk',
  аутлук: 'outlook',
  хотмейл: 'hotmail',
  айклауд: 'icloud',
  ау: 'ya',
  я: 'ya',
  рф: 'рф',
  ио: 'io',
}
const TRANSLIT: Record<string, string> = {
  а: 'a',
  б: 'b',
  в: 'v',
  г: 'g',
  д: 'd',
  е: 'e',
  ж: 'zh',
  з: 'z',
  и: 'i',
  й: 'y',
  к: 'k',
  л: 'l',
  м: 'm',
  н: 'n',
  о: 'o',
  п: 'p',
  р: 'r',
  с: 's',
  т: 't',
  у: 'u',
  ф: 'f',
  х: 'kh',
  ц: 'ts',
  ч: 'ch',
  ш: 'sh',
  щ: 'shch',
  ъ: '',
  ы: 'y',
  ь: '',
  э: 'e',
  ю: 'yu',
  я: 'ya',
}
/** Words around the address that are not part of it. */
const FRAME = new Set([
  'мой',
  'моя',
  'мое',
  'почта',
  'почту',
  'имейл',
  'емейл',
  'емэйл',
  'имэйл',
  'email',
  'e-mail',
  'e',
  'mail',
  'адрес',
  'электронная',
  'электронный',
  'это',
  "it's",
  'its',
  'пишите',
  'на',
  'запишите',
  'записывайте',
  'my',
  'is',
  'it',
  'address',
  'the',
  'write',
  'to',
  'me',
  'send',
  'please',
  'пожалуйста',
  'so',
  'well',
  'ну',
  'вот',
  'and',
  'и',
])
const VALID = /^[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.([a-z]{2,}|рф)$/

function spell(token: string, lang: Lang): string {
  if (SYMBOLS[token]) return SYMBOLS[token]
  if (SPOKEN[token]) return SPOKEN[token]
  const n = numberWord(token, lang)
  if (n?.kind === 'small' && n.value < 10) return String(n.value)
  return [...token].map((c) => TRANSLIT[c] ?? c).join('')
}

export const extractEmail: Extractor<string> = (text, ctx) => {
  const typed = /[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+/i.exec(text)
  if (typed && VALID.test(typed[0].toLowerCase())) return { value: typed[0].toLowerCase(), display: typed[0].toLowerCase() }
  const tokens = normalize(text)
    .split(/[\s,]+/)
    .map((t) => t.replace(/^[.:]+|[.:]+$/g, ''))
    .filter(Boolean)
  let at = -1
  tokens.forEach((t, i) => AT.has(t) && (at = i))
  if (at <= 0) return undefined
  let from = at
  while (from > 0 && !FRAME.has(tokens[from - 1])) from--
  let to = at + 1
  // "mail" is a frame word ("e mail") before the @ but a domain after it ("mail точка ru")
  while (to < tokens.length && (!FRAME.has(tokens[to]) || tokens[to] === 'mail')) to++
  const local = tokens
    .slice(from, at)
    .map((t) => spell(t, ctx.lang))
    .join('')
  const domain = tokens
    .slice(at + 1, to)
    .map((t) => spell(t, ctx.lang))
    .join('')
  const value = `${local}@${domain}`
  return VALID.test(value) ? { value, display: value } : undefined
}
