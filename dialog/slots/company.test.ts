import t from 'tap'
import { extractCompany } from './company.ts'
import { ctx } from './test-context.ts'

t.test('Russian company names', async (t) => {
  const cases: Array<[string, string | null | undefined]> = [
    ['ООО Ромашка', 'ООО Ромашка'],
    ['Ромашка', 'Ромашка'],
    ['я из компании Рога и Копыта', 'Рога и Копыта'],
    ['мы из Яндекса', 'Яндекса'],
    ['компания Вектор плюс', 'Вектор Плюс'],
    ['наша компания называется Стройинвест', 'Стройинвест'],
    ['работаю в ИП Сидоров', 'ИП Сидоров'],
    ['частное лицо', null],
    ['для себя', null],
    ['не скажу', undefined],
  ]
  for (const [text, name] of cases) t.equal(extractCompany(text, ctx('ru'))?.value.name, name, text)
  t.same(extractCompany('ООО Ромашка', ctx('ru'))?.details, { legalForm: 'ООО' })
  t.same(extractCompany('частное лицо', ctx('ru'))?.value, { name: null, private: true })
})

t.test('English company names', async (t) => {
  const cases: Array<[string, string | null | undefined]> = [
    ['Acme', 'Acme'],
    ["I'm from Acme Inc", 'Acme Inc'],
    ['we are Globex Corporation', 'Globex Corporation'],
    ['I work for Johnson and Johnson', 'Johnson and Johnson'],
    ['our company is called Initech LLC', 'Initech LLC'],
    ['just for myself', null],
    ['a private person', null],
    ['sorry', undefined],
  ]
  for (const [text, name] of cases) t.equal(extractCompany(text, ctx('en'))?.value.name, name, text)
})
