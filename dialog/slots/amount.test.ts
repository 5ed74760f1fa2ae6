import t from 'tap'
import { extractAmount } from './amount.ts'
import { numberTokens, parseNumbers } from './numbers.ts'
import { ctx } from './test-context.ts'

t.test('numbers spoken as words combine the way they are said', async (t) => {
  const cases: Array<[string, 'ru' | 'en', number[]]> = [
    ['сто пятьдесят тысяч', 'ru', [150000]],
    ['двести тридцать пять', 'ru', [235]],
    ['два миллиона триста тысяч', 'ru', [2300000]],
    ['тысяча', 'ru', [1000]],
    ['девятнадцать', 'ru', [19]],
    ['два три', 'ru', [2, 3]],
    ['двадцать пятнадцать', 'ru', [20, 15]],
    ['сорок пять шестьдесят семь', 'ru', [45, 67]],
    ['one hundred and fifty thousand', 'en', [150000]],
    ['twenty five', 'en', [25]],
    ['a million', 'en', [1000000]],
    ['two thousand five hundred', 'en', [2500]],
    ['150 000', 'ru', [150000]],
    ['1,5', 'ru', [1.5]],
  ]
  for (const [text, lang, want] of cases)
    t.same(
      parseNumbers(numberTokens(text), lang).map((s) => s.value),
      want,
      text,
    )
})

t.test('amounts in Russian', async (t) => {
  const cases: Array<[string, number, string]> = [
    ['сто пятьдесят тысяч', 150000, '150 000'],
    ['полтора миллиона', 1500000, '1 500 000'],
    ['полтора миллиона рублей', 1500000, '1 500 000 ₽'],
    ['два с половиной миллиона', 2500000, '2 500 000'],
    ['полмиллиона', 500000, '500 000'],
    ['пол миллиона', 500000, '500 000'],
    ['около двухсот тысяч рублей', 200000, '200 000 ₽'],
    ['150 тысяч', 150000, '150 000'],
    ['150 тыс. руб.', 150000, '150 000 ₽'],
    ['1,5 млн', 1500000, '1 500 000'],
    ['150к', 150000, '150 000'],
    ['миллион', 1000000, '1 000 000'],
    ['пятьсот тысяч долларов', 500000, '500 000 $'],
    ['триста евро', 300, '300 €'],
    ['ну где-то тысяч сто', 100000, '100 000'],
  ]
  for (const [text, value, display] of cases) {
    const got = extractAmount(text, ctx('ru'))
    t.equal(got?.value, value, text)
    t.equal(got?.display, display, text)
  }
})

t.test('amounts in English', async (t) => {
  const cases: Array<[string, number, string]> = [
    ['two hundred thousand', 200000, '200 000'],
    ['1.5 million', 1500000, '1 500 000'],
    ['150k', 150000, '150 000'],
    ['$200,000', 200000, '200 000 $'],
    ['half a million dollars', 500000, '500 000 $'],
    ['one and a half million', 1500000, '1 500 000'],
    ['about fifty grand', 50000, '50 000'],
    ['2m', 2000000, '2 000 000'],
    ['ten thousand euros', 10000, '10 000 €'],
  ]
  for (const [text, value, display] of cases) {
    const got = extractAmount(text, ctx('en'))
    t.equal(got?.value, value, text)
    t.equal(got?.display, display, text)
  }
})

t.test('ranges keep both bounds and share the scale word', async (t) => {
  t.same(extractAmount('от ста до двухсот тысяч', ctx('ru'))?.details, { min: 100000, max: 200000 })
  t.equal(extractAmount('от ста до двухсот тысяч', ctx('ru'))?.value, 200000)
  t.same(extractAmount('between 100 and 200 thousand dollars', ctx('en'))?.details, { min: 100000, max: 200000, currency: 'USD' })
  t.same(extractAmount('до миллиона', ctx('ru'))?.details, { max: 1000000 })
  t.same(extractAmount('up to 300k', ctx('en'))?.details, { max: 300000 })
  t.same(extractAmount('from 50 thousand', ctx('en'))?.details, { min: 50000 })
})

t.test('no number, no amount', async (t) => {
  t.equal(extractAmount('пока не знаю', ctx('ru')), undefined)
  t.equal(extractAmount('no idea', ctx('en')), undefined)
  t.equal(extractAmount('', ctx('en')), undefined)
})
