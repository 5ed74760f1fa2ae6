import t from 'tap'
import { normalizePhone } from './phone-number.ts'

t.test('normalizePhone', async (t) => {
  const cases: Array<[string, string | undefined]> = [
    ['8 (916) 123-45-67', '+79161234567'],
    ['+7 916 123 45 67', '+79161234567'],
    ['7-916-123-45-67', '+79161234567'],
    ['916 123 45 67', '+79161234567'],
    ['8\u00a0495\u00a0123\u201245\u201267', '+74951234567'],
    ['+49 30 1234567', '+49301234567'],
    ['375291234567', '375291234567'],
    ['101', '101'],
    ['12', undefined],
    ['+7 916 ABC', undefined],
    ['1234567890123456', undefined],
    ['++79161234567', undefined],
  ]
  for (const [raw, want] of cases) t.equal(normalizePhone(raw), want, raw)
})
