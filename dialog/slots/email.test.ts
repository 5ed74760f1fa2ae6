import t from 'tap'
import { extractEmail } from './email.ts'
import { ctx } from './test-context.ts'

t.test('e-mail dictated in Russian', async (t) => {
  const cases: Array<[string, string]> = [
    ['ivan собака mail точка ru', 'ivan@mail.ru'],
    ['иван собака мейл точка ру', 'ivan@mail.ru'],
    ['мой имейл иван точка петров собака яндекс точка ру', 'ivan.petrov@yandex.ru'],
    ['почта petrov подчеркивание 85 собака gmail точка com', 'petrov_85@gmail.com'],
    ['пишите на sales дефис team собака firma точка рф', 'sales-team@firma.рф'],
    ['olga собачка inbox точка ru', 'olga@inbox.ru'],
    ['Ivan.Petrov@Mail.ru', 'ivan.petrov@mail.ru'],
  ]
  for (const [text, email] of cases) t.equal(extractEmail(text, ctx('ru'))?.value, email, text)
})

t.test('e-mail dictated in English', async (t) => {
  const cases: Array<[string, string]> = [
    ['john at example dot com', 'john@example.com'],
    ['my email is j o h n underscore smith at gmail dot com', 'john_smith@gmail.com'],
    ["it's mary dot jones at acme dot co dot uk", 'mary.jones@acme.co.uk'],
    ['send it to sales at acme hyphen corp dot com please', 'sales@acme-corp.com'],
    ['jack two three at outlook dot com', 'jack23@outlook.com'],
    ['write to me at jack@example.org', 'jack@example.org'],
  ]
  for (const [text, email] of cases) t.equal(extractEmail(text, ctx('en'))?.value, email, text)
})

t.test('no address, no e-mail', async (t) => {
  t.equal(extractEmail('у меня нет почты', ctx('ru')), undefined)
  t.equal(extractEmail('at home', ctx('en')), undefined)
  t.equal(extractEmail('john at example', ctx('en')), undefined, 'a domain needs a dot')
})
