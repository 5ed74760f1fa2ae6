import t from 'tap'
import { extractFreeText } from './free-text.ts'
import { ctx } from './test-context.ts'
import { extractYesNo } from './yesno.ts'

t.test('Russian yes and no', async (t) => {
  const cases: Array<[string, boolean | undefined]> = [
    ['да', true],
    ['Да, конечно', true],
    ['ага', true],
    ['угу', true],
    ['верно', true],
    ['всё верно', true],
    ['давайте', true],
    ['да, удобно', true],
    ['хорошо', true],
    ['да, не против', true],
    ['почему бы и нет', true],
    ['конечно, не вопрос', true],
    ['нет', false],
    ['неа', false],
    ['нет, неудобно', false],
    ['не удобно', false],
    ['да нет', false],
    ['неправильно', false],
    ['нет, не надо', false],
    ['ни в коем случае', false],
    ['не знаю', undefined],
    ['может быть', undefined],
    ['алло', undefined],
    ['', undefined],
  ]
  for (const [text, v] of cases) t.equal(extractYesNo(text, ctx('ru'))?.value, v, text)
})

t.test('English yes and no', async (t) => {
  const cases: Array<[string, boolean | undefined]> = [
    ['yes', true],
    ['yeah sure', true],
    ['yep', true],
    ['of course', true],
    ["that's right", true],
    ['correct', true],
    ['go ahead', true],
    ['why not', true],
    ["I don't mind", true],
    ['no problem', true],
    ['no', false],
    ['nope', false],
    ['not really', false],
    ["I don't think so", false],
    ['wrong', false],
    ['no thanks', false],
    ["I don't know", undefined],
    ['maybe', undefined],
    ['hello', undefined],
  ]
  for (const [text, v] of cases) t.equal(extractYesNo(text, ctx('en'))?.value, v, text)
})

t.test('free text keeps what was said once it has a real word', async (t) => {
  t.equal(extractFreeText('  нужна CRM   для отдела продаж ', ctx('ru'))?.value, 'нужна CRM для отдела продаж')
  t.equal(extractFreeText('we need a warehouse system', ctx('en'))?.value, 'we need a warehouse system')
  t.equal(extractFreeText('ну э', ctx('ru')), undefined)
  t.equal(extractFreeText('um', ctx('en')), undefined)
})
