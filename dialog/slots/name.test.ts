import t from 'tap'
import { parseCorrection } from './correction.ts'
import { extractName } from './name.ts'
import { ctx } from './test-context.ts'

t.test('Russian names, with and without introductions', async (t) => {
  const cases: Array<[string, string | undefined]> = [
    ['Иван', 'Иван'],
    ['меня зовут Иван Петров', 'Иван Петров'],
    ['Здравствуйте, меня зовут Ольга', 'Ольга'],
    ['моё имя Сергей', 'Сергей'],
    ['это Анна из Ромашки', 'Анна'],
    ['я Дмитрий', 'Дмитрий'],
    ['ну, Пётр Ильич Чайковский', 'Петр Ильич Чайковский'],
    ['можно просто Саша', 'Саша'],
    ['зовите меня Ваня', 'Ваня'],
    ['нет, не Иван, а Игорь', 'Игорь'],
    ['не Иван, а Игорь Петров', 'Игорь Петров'],
    ['Игорь, а не Иван', 'Игорь'],
    ['я сказал Игорь', 'Игорь'],
    ['не знаю', undefined],
    ['да', undefined],
    ['а зачем вам это знать', undefined],
    ['мы хотели бы купить у вас партию оборудования', undefined],
  ]
  for (const [text, name] of cases) t.equal(extractName(text, ctx('ru'))?.value, name, text)
})

t.test('English names, with and without introductions', async (t) => {
  const cases: Array<[string, string | undefined]> = [
    ['John', 'John'],
    ['my name is John Smith', 'John Smith'],
    ["I'm Jack from Acme", 'Jack'],
    ['this is Mary', 'Mary'],
    ['hi, it is Peter', 'Peter'],
    ['you can call me Bob', 'Bob'],
    ["no, not John, it's Jack", 'Jack'],
    ['not John but Jack', 'Jack'],
    ['Jack, not John', 'Jack'],
    ['I said Jack', 'Jack'],
    ['sorry, not Jon, it is John', 'John'],
    ['what', undefined],
    ['yes', undefined],
    ['we would like to buy some equipment from you', undefined],
  ]
  for (const [text, name] of cases) t.equal(extractName(text, ctx('en'))?.value, name, text)
})

t.test('corrections say what was wrong and what is right', async (t) => {
  t.same(parseCorrection('нет, не Иван, а Игорь', 'ru'), { wrong: ['иван'], right: ['игорь'] })
  t.same(parseCorrection('Нет-нет, не Иван Петров, а Игорь Петров', 'ru'), { wrong: ['иван', 'петров'], right: ['игорь', 'петров'] })
  t.same(parseCorrection("no, not John, it's Jack", 'en'), { wrong: ['john'], right: ['jack'] })
  t.same(parseCorrection('not Acme, Apex', 'en'), { wrong: ['acme'], right: ['apex'] })
  t.equal(parseCorrection('не знаю', 'ru'), undefined)
  t.equal(parseCorrection('no', 'en'), undefined)
})
