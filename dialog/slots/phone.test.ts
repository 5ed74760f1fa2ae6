import t from 'tap'
import { extractDigits, extractPhone, toE164 } from './phone.ts'
import { ctx } from './test-context.ts'

t.test('Russian phone numbers, spoken, typed and mixed, become E.164', async (t) => {
  const cases: Array<[string, string]> = [
    ['восемь девятьсот шестнадцать сто двадцать три сорок пять шестьдесят семь', '+79161234567'],
    ['восемь девять один шесть один два три четыре пять шесть семь', '+79161234567'],
    ['плюс семь девятьсот шестнадцать сто двадцать три сорок пять шестьдесят семь', '+79161234567'],
    ['+7 (916) 123-45-67', '+79161234567'],
    ['8 916 123 45 67', '+79161234567'],
    ['89161234567', '+79161234567'],
    ['9161234567', '+79161234567'],
    ['мой номер восемь 916 сто двадцать три 45 67', '+79161234567'],
    ['восемь девятьсот шестнадцать ноль ноль один двадцать три сорок', '+79160012340'],
    ['восемь четыреста девяносто пять сто двадцать три сорок пять ноль семь', '+74951234507'],
    ['плюс три семь пять два девять один два три четыре пять шесть семь', '+375291234567'],
  ]
  for (const [text, e164] of cases) t.equal(extractPhone(text, ctx('ru'))?.value, e164, text)
  t.equal(extractPhone('89161234567', ctx('ru'))?.display, '+7 916 123-45-67')
})

t.test('English phone numbers: oh, double, triple, NANP', async (t) => {
  const us = ctx('en', { phoneCountry: '1' })
  const cases: Array<[string, string]> = [
    ['two one two five five five oh one two three', '+12125550123'],
    ['two one two triple five oh one two three', '+12125550123'],
    ['one two one two double five five zero one two three', '+12125550123'],
    ['plus one 212 555 0123', '+12125550123'],
    ['my number is (212) 555-0123', '+12125550123'],
    ['plus seven nine one six one two three four five six seven', '+79161234567'],
  ]
  for (const [text, e164] of cases) t.equal(extractPhone(text, us)?.value, e164, text)
  t.equal(extractPhone('2125550123', us)?.display, '+1 212 555-0123')
  t.equal(extractPhone('nine one six one two three four five six seven', ctx('en'))?.value, '+79161234567', 'national number in the scenario country')
})

t.test('incomplete or wrong-length numbers are not numbers', async (t) => {
  t.equal(extractPhone('восемь девятьсот шестнадцать', ctx('ru')), undefined)
  t.equal(extractPhone('123', ctx('en')), undefined)
  t.equal(extractPhone('не помню', ctx('ru')), undefined)
  t.equal(extractPhone('+7 916 123 45 6', ctx('ru')), undefined)
  t.equal(toE164('812345', '7'), undefined)
})

t.test('digits slot: keypad and spoken digits', async (t) => {
  t.equal(extractDigits('1234', ctx('ru'))?.value, '1234')
  t.equal(extractDigits('один два три', ctx('ru'))?.value, '123')
  t.equal(extractDigits('forty two', ctx('en'))?.value, '42')
  t.equal(extractDigits('нет', ctx('ru')), undefined)
})
