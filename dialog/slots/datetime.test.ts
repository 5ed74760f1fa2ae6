import t, { type Test } from 'tap'
import { extractDateTime } from './datetime.ts'
import { ctx, NOW } from './test-context.ts'

// NOW is Wednesday 2 December 2026, 10:15 Moscow time (+03:00)
type Case = [string, string, string?]
function check(t: Test, lang: 'ru' | 'en', cases: Case[]) {
  for (const [text, start, end] of cases) {
    const got = extractDateTime(text, ctx(lang))
    t.same(got?.value, end ? { start, end } : { start }, text)
  }
}

t.test('Russian days, parts of the day and clock times', async (t) => {
  check(t, 'ru', [
    ['завтра после обеда', '2026-12-03T14:00:00+03:00', '2026-12-03T18:00:00+03:00'],
    ['в понедельник в 10 утра', '2026-12-07T10:00:00+03:00'],
    ['послезавтра вечером', '2026-12-04T18:00:00+03:00', '2026-12-04T21:00:00+03:00'],
    ['после завтра утром', '2026-12-04T09:00:00+03:00', '2026-12-04T12:00:00+03:00'],
    ['завтра в 3 часа дня', '2026-12-03T15:00:00+03:00'],
    ['завтра в семь вечера', '2026-12-03T19:00:00+03:00'],
    ['в пятницу в половине третьего', '2026-12-04T14:30:00+03:00'],
    ['в четверг в десять тридцать', '2026-12-03T10:30:00+03:00'],
    ['во вторник в 11:45', '2026-12-08T11:45:00+03:00'],
    ['в среду', '2026-12-09T09:00:00+03:00', '2026-12-09T18:00:00+03:00'],
    ['в субботу в полдень', '2026-12-05T12:00:00+03:00'],
    ['15 марта в 11:30', '2027-03-15T11:30:00+03:00'],
    ['пятнадцатого декабря', '2026-12-15T09:00:00+03:00', '2026-12-15T18:00:00+03:00'],
    ['двадцать первого декабря в час дня', '2026-12-21T13:00:00+03:00'],
    ['10.12 в 16:00', '2026-12-10T16:00:00+03:00'],
    ['через два часа', '2026-12-02T12:15:00+03:00'],
    ['через полчаса', '2026-12-02T10:45:00+03:00'],
    ['через 3 дня', '2026-12-05T09:00:00+03:00', '2026-12-05T18:00:00+03:00'],
    ['через неделю', '2026-12-09T09:00:00+03:00', '2026-12-09T18:00:00+03:00'],
    ['на следующей неделе', '2026-12-07T09:00:00+03:00', '2026-12-11T18:00:00+03:00'],
    ['завтра с 10 до 12', '2026-12-03T10:00:00+03:00', '2026-12-03T12:00:00+03:00'],
    ['завтра между двумя и четырьмя', '2026-12-03T14:00:00+03:00', '2026-12-03T16:00:00+03:00'],
    ['после 3 часов', '2026-12-02T15:00:00+03:00', '2026-12-02T18:00:00+03:00'],
    ['сегодня вечером', '2026-12-02T18:00:00+03:00', '2026-12-02T21:00:00+03:00'],
    ['в 3', '2026-12-02T15:00:00+03:00'],
    ['в 9 утра', '2026-12-03T09:00:00+03:00'], // 9:00 today has passed: tomorrow
    ['утром', '2026-12-02T10:15:00+03:00', '2026-12-02T12:00:00+03:00'], // the rest of this morning
    ['завтра', '2026-12-03T09:00:00+03:00', '2026-12-03T18:00:00+03:00'],
  ])
})

t.test('English days, parts of the day and clock times', async (t) => {
  check(t, 'en', [
    ['tomorrow afternoon', '2026-12-03T12:00:00+03:00', '2026-12-03T17:00:00+03:00'],
    ['next Tuesday at 3 pm', '2026-12-08T15:00:00+03:00'],
    ['on Monday at 10am', '2026-12-07T10:00:00+03:00'],
    ['the day after tomorrow in the morning', '2026-12-04T09:00:00+03:00', '2026-12-04T12:00:00+03:00'],
    ['Friday at half past two', '2026-12-04T14:30:00+03:00'],
    ['Thursday at quarter to four', '2026-12-03T15:45:00+03:00'],
    ['tomorrow at noon', '2026-12-03T12:00:00+03:00'],
    ['March 15th at 11:30', '2027-03-15T11:30:00+03:00'],
    ['the 20th of December at ten thirty', '2026-12-20T10:30:00+03:00'],
    ['on the 20th', '2026-12-20T09:00:00+03:00', '2026-12-20T18:00:00+03:00'],
    ['in two hours', '2026-12-02T12:15:00+03:00'],
    ['in an hour', '2026-12-02T11:15:00+03:00'],
    ['in half an hour', '2026-12-02T10:45:00+03:00'],
    ['in 3 days', '2026-12-05T09:00:00+03:00', '2026-12-05T18:00:00+03:00'],
    ['next week', '2026-12-07T09:00:00+03:00', '2026-12-11T18:00:00+03:00'],
    ['between 2 and 4 tomorrow', '2026-12-03T14:00:00+03:00', '2026-12-03T16:00:00+03:00'],
    ['from 10 to 12 on Friday', '2026-12-04T10:00:00+03:00', '2026-12-04T12:00:00+03:00'],
    ['after 3', '2026-12-02T15:00:00+03:00', '2026-12-02T18:00:00+03:00'],
    ['tonight', '2026-12-02T18:00:00+03:00', '2026-12-02T21:00:00+03:00'],
    ["at 5 o'clock", '2026-12-02T17:00:00+03:00'],
    ['tomorrow', '2026-12-03T09:00:00+03:00', '2026-12-03T18:00:00+03:00'],
  ])
})

t.test('the zone decides what "tomorrow at 10" means', async (t) => {
  const ny = extractDateTime('tomorrow at 10 am', ctx('en', { timeZone: 'America/New_York' }))
  t.same(ny?.value, { start: '2026-12-03T10:00:00-05:00' }, 'NOW is 02:15 in New York, still 2 December')
  t.equal(new Date(ny!.value.start).getTime() - NOW.getTime(), 31.75 * 3600000)
  const summer = extractDateTime('tomorrow at 10 am', ctx('en', { timeZone: 'Europe/London', now: new Date('2026-06-30T12:00:00Z') }))
  t.same(summer?.value, { start: '2026-07-01T10:00:00+01:00' }, 'summer time offset')
})

t.test('what is said back', async (t) => {
  t.equal(extractDateTime('завтра после обеда', ctx('ru'))?.display, 'завтра, 3 декабря с 14:00 до 18:00')
  t.equal(extractDateTime('в понедельник в 10 утра', ctx('ru'))?.display, '7 декабря в 10:00')
  t.equal(extractDateTime('tomorrow afternoon', ctx('en'))?.display, 'tomorrow, December 3, 12:00–17:00')
  t.equal(extractDateTime('next Tuesday at 3 pm', ctx('en'))?.display, 'December 8 at 15:00')
})

t.test('no day or time, or one already past, is not a callback time', async (t) => {
  t.equal(extractDateTime('не знаю', ctx('ru')), undefined)
  t.equal(extractDateTime('в любое время', ctx('ru')), undefined)
  t.equal(extractDateTime('whenever', ctx('en')), undefined)
  t.equal(extractDateTime('сегодня в 9 утра', ctx('ru')), undefined, 'today 9:00 is over')
  t.equal(extractDateTime('с Иваном', ctx('ru')), undefined)
})
