import t from 'tap'
import { type CallingWindow, DEFAULT_WINDOW, RU_PUBLIC_HOLIDAYS, isOpen, nextOpen, parseCallingWindow } from './calling-window.ts'

const at = (iso: string) => new Date(iso)
const next = (w: CallingWindow, zone: string, iso: string) => nextOpen(w, zone, at(iso)).toISOString()
const MSK = 'Europe/Moscow' // UTC+3 all year

t.test('weekday hours, to exclusive, before and after hours (Moscow)', async (t) => {
  // Monday 2 March 2026.
  t.notOk(isOpen(DEFAULT_WINDOW, MSK, at('2026-03-02T05:59:59Z')), '08:59:59 is before hours')
  t.ok(isOpen(DEFAULT_WINDOW, MSK, at('2026-03-02T06:00:00Z')), '09:00 opens')
  t.ok(isOpen(DEFAULT_WINDOW, MSK, at('2026-03-02T16:59:59Z')), '19:59:59 is open')
  t.notOk(isOpen(DEFAULT_WINDOW, MSK, at('2026-03-02T17:00:00Z')), '20:00 is closed: to is exclusive')
  t.equal(next(DEFAULT_WINDOW, MSK, '2026-03-02T05:10:00Z'), '2026-03-02T06:00:00.000Z', 'early: today at 09:00')
  t.equal(next(DEFAULT_WINDOW, MSK, '2026-03-02T12:34:56.789Z'), '2026-03-02T12:34:56.789Z', 'open: the same instant')
  t.equal(next(DEFAULT_WINDOW, MSK, '2026-03-02T17:00:00Z'), '2026-03-03T06:00:00.000Z', 'late: tomorrow at 09:00')
  t.equal(next(DEFAULT_WINDOW, MSK, '2026-03-02T22:30:00Z'), '2026-03-03T06:00:00.000Z', 'after local midnight: that day at 09:00')
})

t.test('Saturday hours and the weekend', async (t) => {
  t.notOk(isOpen(DEFAULT_WINDOW, MSK, at('2026-03-07T06:30:00Z')), 'Saturday 09:30 is before its own 10:00')
  t.ok(isOpen(DEFAULT_WINDOW, MSK, at('2026-03-07T07:00:00Z')), 'Saturday 10:00')
  t.notOk(isOpen(DEFAULT_WINDOW, MSK, at('2026-03-07T15:00:00Z')), 'Saturday 18:00 closes')
  t.equal(next(DEFAULT_WINDOW, MSK, '2026-03-06T18:00:00Z'), '2026-03-07T07:00:00.000Z', 'Friday night: Saturday at 10:00')
  t.equal(next(DEFAULT_WINDOW, MSK, '2026-03-07T15:00:00Z'), '2026-03-09T06:00:00.000Z', 'Saturday evening: past Sunday to Monday')
})

t.test('holidays: yearly, a run of them, and a dated extra day', async (t) => {
  t.notOk(isOpen(DEFAULT_WINDOW, MSK, at('2026-05-01T09:00:00Z')), '1 May, a Friday, is a holiday')
  t.equal(next(DEFAULT_WINDOW, MSK, '2026-05-01T09:00:00Z'), '2026-05-02T07:00:00.000Z', 'next is Saturday 2 May at 10:00')
  t.equal(next(DEFAULT_WINDOW, MSK, '2025-12-31T17:00:00Z'), '2026-01-09T06:00:00.000Z', '1-8 January: 9 January at 09:00')
  const withDecree = parseCallingWindow({ days: [1, 2, 3, 4, 5], from: '09:00', to: '20:00', holidays: ['RU', '2026-03-09'] })
  t.equal(next(withDecree, MSK, '2026-03-06T17:00:00Z'), '2026-03-10T06:00:00.000Z', 'the decree moved 8 March (a Sunday) to Monday 9 March')
  t.equal(next(DEFAULT_WINDOW, MSK, '2026-03-07T15:00:00Z'), '2026-03-09T06:00:00.000Z', 'without the dated day, 9 March is open')
})

t.test('Europe/Berlin across the March DST change (Sunday 29 March 2026, 02:00 CET -> 03:00 CEST)', async (t) => {
  const weekdays = parseCallingWindow({ days: [1, 2, 3, 4, 5, 6], from: '09:00', to: '20:00', holidays: [] })
  t.equal(next(weekdays, 'Europe/Berlin', '2026-03-27T08:00:00Z'), '2026-03-27T08:00:00.000Z', 'Friday 09:00 CET is UTC+1')
  t.notOk(isOpen(weekdays, 'Europe/Berlin', at('2026-03-30T06:59:00Z')), 'Monday 06:59Z is 08:59 CEST')
  t.equal(next(weekdays, 'Europe/Berlin', '2026-03-28T19:00:00Z'), '2026-03-30T07:00:00.000Z', 'Saturday night to Monday 09:00 CEST = 07:00Z')

  const night = parseCallingWindow({ days: [1, 2, 3, 4, 5, 6, 7], from: '02:30', to: '04:00', holidays: [] })
  t.equal(next(night, 'Europe/Berlin', '2026-03-29T00:00:00Z'), '2026-03-29T01:00:00.000Z', '02:30 does not exist that night: open at the jump, 03:00 CEST')
  t.ok(isOpen(night, 'Europe/Berlin', at('2026-03-29T01:00:00Z')))
  const gapOnly = parseCallingWindow({ days: [1, 2, 3, 4, 5, 6, 7], from: '02:00', to: '02:30', holidays: [] })
  t.equal(next(gapOnly, 'Europe/Berlin', '2026-03-28T23:30:00Z'), '2026-03-30T00:00:00.000Z', 'a window wholly inside the gap skips that day')
  t.equal(next(night, 'Europe/Berlin', '2026-10-24T23:00:00Z'), '2026-10-25T00:30:00.000Z', 'October: the first of the two 02:30s (CEST)')
})

t.test('zones far from the server: Kamchatka (UTC+12) and Kaliningrad (UTC+2)', async (t) => {
  // Friday 21:30 UTC is already Saturday 09:30 in Petropavlovsk-Kamchatsky.
  t.notOk(isOpen(DEFAULT_WINDOW, 'Asia/Kamchatka', at('2026-03-06T21:30:00Z')))
  t.equal(next(DEFAULT_WINDOW, 'Asia/Kamchatka', '2026-03-06T21:30:00Z'), '2026-03-06T22:00:00.000Z', 'Saturday 10:00 local')
  t.ok(isOpen(DEFAULT_WINDOW, 'Asia/Kamchatka', at('2026-03-05T21:00:00Z')), 'Friday 09:00 local is Thursday in UTC')
  t.ok(isOpen(DEFAULT_WINDOW, 'Europe/Kaliningrad', at('2026-03-06T17:59:00Z')), 'Friday 19:59 local')
  t.equal(next(DEFAULT_WINDOW, 'Europe/Kaliningrad', '2026-03-06T18:00:00Z'), '2026-03-07T08:00:00.000Z', 'Saturday 10:00 local, UTC+2')
  t.equal(next(DEFAULT_WINDOW, 'Europe/Kaliningrad', '2026-07-04T16:00:00Z'), '2026-07-06T07:00:00.000Z', 'no DST in summer either')
})

t.test('a window that can never open is an error, a bad zone a RangeError', async (t) => {
  const allHolidays = Array.from({ length: 12 }, (_, m) =>
    Array.from({ length: 31 }, (_, d) => `${String(m + 1).padStart(2, '0')}-${String(d + 1).padStart(2, '0')}`),
  )
    .flat()
    .filter((d) => !['02-30', '02-31', '04-31', '06-31', '09-31', '11-31'].includes(d))
  const closed = parseCallingWindow({ days: [1], from: '09:00', to: '10:00', holidays: allHolidays })
  t.throws(() => nextOpen(closed, MSK, at('2026-01-01T00:00:00Z')), /never opens/)
  t.throws(() => isOpen(DEFAULT_WINDOW, 'Mars/Olympus', at('2026-01-01T00:00:00Z')), RangeError)
})

t.test('parseCallingWindow', async (t) => {
  const w = parseCallingWindow({ days: [5, 1], from: '09:00', to: '24:00', hours: { '5': { from: '09:00', to: '17:00' } } })
  t.same(w.days, [1, 5])
  t.same(w.holidays, [...RU_PUBLIC_HOLIDAYS], 'holidays default to the Russian list')
  t.same(w.hours, { 5: { from: '09:00', to: '17:00' } })
  t.ok(isOpen(w, MSK, at('2026-03-02T20:59:00Z')), "Monday 23:59 with to '24:00'")
  t.notOk(isOpen(w, MSK, at('2026-03-06T14:00:00Z')), 'Friday 17:00 with its own hours')
  t.same(
    parseCallingWindow({ days: [1], from: '09:00', to: '10:00', holidays: ['02-29', 'RU', '01-01'] }).holidays.slice(0, 2),
    ['02-29', '01-01'],
    'deduplicated',
  )

  const bad: Array<[unknown, RegExp]> = [
    [null, /expected an object/],
    [{ days: [1], from: '09:00', to: '10:00', tz: 'x' }, /unknown key 'tz'/],
    [{ days: [], from: '09:00', to: '10:00' }, /days must be a non-empty list/],
    [{ days: [0], from: '09:00', to: '10:00' }, /ISO weekdays 1 \(Monday\) to 7/],
    [{ days: [1, 1], from: '09:00', to: '10:00' }, /distinct/],
    [{ days: [1], from: '9:00', to: '10:00' }, /from must be 'HH:MM'/],
    [{ days: [1], from: '09:00', to: '24:30' }, /to must be 'HH:MM'/],
    [{ days: [1], from: '22:00', to: '06:00' }, /must be after from .* past midnight/],
    [{ days: [1], from: '09:00', to: '10:00', hours: { '8': { from: '09:00', to: '10:00' } } }, /hours key '8'/],
    [{ days: [1], from: '09:00', to: '10:00', hours: { '1': { from: '11:00', to: '10:00' } } }, /hours\.1: to \(10:00\) must be after/],
    [{ days: [1], from: '09:00', to: '10:00', holidays: '01-01' }, /holidays must be a list/],
    [{ days: [1], from: '09:00', to: '10:00', holidays: ['2026-02-30'] }, /holiday "2026-02-30" is not a/],
    [{ days: [1], from: '09:00', to: '10:00', holidays: ['1 May'] }, /holiday "1 May"/],
  ]
  for (const [json, message] of bad) t.throws(() => parseCallingWindow(json), message, JSON.stringify(json))
})
