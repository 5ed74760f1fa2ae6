import t from 'tap'
import { ClauseSplitter, clauses } from './clause-splitter.ts'

// Every split of the text into deltas must give the same clauses: check whole, per character and
// in uneven pieces.
function splits(text: string): string[][] {
  const pieces: string[] = []
  for (let at = 0, n = 1; at < text.length; at += n, n = (n % 5) + 1) pieces.push(text.slice(at, at + n))
  return [[text], [...text], pieces]
}

function run(deltas: string[], options?: ConstructorParameters<typeof ClauseSplitter>[0]): string[] {
  const s = new ClauseSplitter(options)
  return [...deltas.flatMap((d) => s.push(d)), ...s.flush()]
}

const cases: [string, string, string[]][] = [
  ['ru sentences', 'Здравствуйте! Меня зовут Анна. Чем могу помочь?', ['Здравствуйте!', 'Меня зовут Анна.', 'Чем могу помочь?']],
  ['en sentences', "Hi there! I'm calling about your order. Is now a good time?", ['Hi there!', "I'm calling about your order.", 'Is now a good time?']],
  ['decimal numbers', 'Тариф стоит 3.5 тысячи рублей в месяц. Это выгодно.', ['Тариф стоит 3.5 тысячи рублей в месяц.', 'Это выгодно.']],
  ['thousands and decimal comma', 'We have 1,000 units at 2,5 kg each. Want some?', ['We have 1,000 units at 2,5 kg each.', 'Want some?']],
  ['time', 'Перезвоню в 10:30 завтра. Хорошо?', ['Перезвоню в 10:30 завтра.', 'Хорошо?']],
  [
    'ru abbreviations',
    'Мы работаем с крупными клиентами, т.е. с заводами, банками и т.д. Офис в г. Москва, ул. Ленина.',
    ['Мы работаем с крупными клиентами,', 'т.е. с заводами,', 'банками и т.д.', 'Офис в г. Москва,', 'ул. Ленина.'],
  ],
  ['en abbreviations', 'Mr. Smith and Dr. Brown agreed, e.g. on the price. Great.', ['Mr. Smith and Dr. Brown agreed,', 'e.g. on the price.', 'Great.']],
  ['initials', 'Это сказал А. С. Пушкин. Правда!', ['Это сказал А. С. Пушкин.', 'Правда!']],
  ['short lead-in commas stay', 'Да, конечно, мы можем перезвонить вам завтра.', ['Да, конечно, мы можем перезвонить вам завтра.']],
  [
    'comma break after enough words',
    'Мы можем перезвонить вам завтра, если вы оставите номер телефона.',
    ['Мы можем перезвонить вам завтра,', 'если вы оставите номер телефона.'],
  ],
  ['dash and semicolon', 'The plan is simple — you call us; we do the rest.', ['The plan is simple —', 'you call us;', 'we do the rest.']],
  ['ellipsis and quotes', 'Хм… Он сказал: «Да!» Потом ушёл', ['Хм…', 'Он сказал: «Да!»', 'Потом ушёл']],
  ['question-exclamation run', 'Really?! Yes.', ['Really?!', 'Yes.']],
  ['list numbers', '1. Первое. 2. Второе.', ['1. Первое.', '2. Второе.']],
  ['no final mark', 'Спасибо за звонок', ['Спасибо за звонок']],
]

for (const [name, text, expected] of cases) {
  t.test(name, async (t) => {
    for (const deltas of splits(text)) t.same(run(deltas), expected, `${deltas.length} deltas`)
  })
}

t.test('the first clause comes out as soon as the word after it starts', async (t) => {
  const s = new ClauseSplitter()
  t.same(s.push('Добрый день'), [])
  t.same(s.push('.'), [], 'the dot alone does not decide (it could be 3.5 or т.е.)')
  t.same(s.push(' '), [])
  t.same(s.push('Я'), ['Добрый день.'])
  t.same(s.push(' Анна!'), [])
  t.same(s.push(' '), ['Я Анна!'], 'after ! a space is enough')
  t.same(s.flush(), [])
})

t.test('a long clause without breaks is cut at a space', async (t) => {
  const text = 'слово '.repeat(60).trim()
  const out = run([text], { maxChars: 100 })
  t.ok(out.length >= 3)
  t.ok(out.every((c) => c.length <= 100))
  t.equal(out.join(' '), text)
})

t.test('clauses() over an async delta stream', async (t) => {
  async function* deltas() {
    yield 'Hello'
    yield ' there. How'
    yield ' are you'
  }
  const out: string[] = []
  for await (const c of clauses(deltas())) out.push(c)
  t.same(out, ['Hello there.', 'How are you'])
})
