// When a contact may be called: weekdays and hours in the callee's local time, less holidays.
// All local-time arithmetic goes through Intl.DateTimeFormat with the callee's IANA zone, so DST and zones far
// from the server's (Kaliningrad, Kamchatka) come out right without a date library.
import { wallTime } from '../dialog/slots/zoned-time.ts'

export type IsoWeekday = 1 | 2 | 3 | 4 | 5 | 6 | 7

export interface DayHours {
  /** 'HH:MM', inclusive. */
  from: string
  /** 'HH:MM' (or '24:00'), exclusive; after from: a window does not run past midnight. */
  to: string
}

export interface CallingWindow {
  /** ISO weekdays when calls are allowed: 1 = Monday .. 7 = Sunday. */
  days: number[]
  /** 'HH:MM', inclusive, local to the callee. */
  from: string
  /** 'HH:MM' (or '24:00'), exclusive, local to the callee. */
  to: string
  /** Per-day hours that replace from/to on that weekday (the day must still be in days). */
  hours?: Partial<Record<IsoWeekday, DayHours>>
  /** Days without calls in the callee's calendar: 'YYYY-MM-DD' for one date, 'MM-DD' for that date every year. */
  holidays: string[]
}

/**
 * The fixed-date non-working holidays of the Russian Labour Code, art. 112: 1-8 January, 23 February, 8 March,
 * 1 and 9 May, 12 June, 4 November. The yearly government decree moves days off (a holiday on a weekend, the
 * bridges between them): those are dated and change every year, so a campaign adds them as 'YYYY-MM-DD'.
 */
export const RU_PUBLIC_HOLIDAYS: readonly string[] = Object.freeze([
  ...['01', '02', '03', '04', '05', '06', '07', '08'].map((d) => `01-${d}`),
  '02-23',
  '03-08',
  '05-01',
  '05-09',
  '06-12',
  '11-04',
])

/** Mon-Fri 09:00-20:00, Sat 10:00-18:00, no Sundays, no Russian public holidays. */
export const DEFAULT_WINDOW: CallingWindow = Object.freeze({
  days: [1, 2, 3, 4, 5, 6],
  from: '09:00',
  to: '20:00',
  hours: { 6: { from: '10:00', to: '18:00' } },
  holidays: [...RU_PUBLIC_HOLIDAYS],
})

/** In a holidays list, this entry stands for all of RU_PUBLIC_HOLIDAYS. */
export const RU_HOLIDAYS_TOKEN = 'RU'

const HHMM = /^([01][0-9]|2[0-3]):([0-5][0-9])$|^24:00$/
const DATE = /^(?:([0-9]{4})-)?(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$/

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * A calling window from a campaign's JSON: `{ days, from, to, hours?, holidays? }`. `holidays` defaults to
 * ["RU"] (the Russian public holidays); give [] for none, or e.g. ["RU", "2026-01-09"] to add the decree's days.
 * Throws an Error naming the offending key.
 */
export function parseCallingWindow(json: unknown): CallingWindow {
  if (!isObject(json)) throw new Error('calling window: expected an object { days, from, to, hours?, holidays? }')
  for (const key of Object.keys(json)) {
    if (!['days', 'from', 'to', 'hours', 'holidays'].includes(key)) throw new Error(`calling window: unknown key '${key}'`)
  }
  const { days } = json
  if (!Array.isArray(days) || days.length === 0 || !days.every(isWeekday) || new Set(days).size !== days.length) {
    throw new Error(`calling window: days must be a non-empty list of distinct ISO weekdays 1 (Monday) to 7 (Sunday), got ${JSON.stringify(days)}`)
  }
  const range = parseHours(json, 'calling window')
  const window: CallingWindow = { days: [...days].sort((a, b) => a - b), ...range, holidays: parseHolidays(json.holidays ?? [RU_HOLIDAYS_TOKEN]) }
  if (json.hours !== undefined) {
    if (!isObject(json.hours)) throw new Error('calling window: hours must be an object keyed by ISO weekday, e.g. { "6": { "from": "10:00", "to": "18:00" } }')
    const hours: Partial<Record<IsoWeekday, DayHours>> = {}
    for (const [day, value] of Object.entries(json.hours)) {
      const n = Number(day)
      if (!isWeekday(n)) throw new Error(`calling window: hours key '${day}' is not an ISO weekday 1 to 7`)
      if (!isObject(value)) throw new Error(`calling window: hours.${day} must be an object { from, to }`)
      hours[n] = parseHours(value, `calling window: hours.${day}`)
    }
    window.hours = hours
  }
  return window
}

function isWeekday(v: unknown): v is IsoWeekday {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 7
}

function parseHours(json: Record<string, unknown>, where: string): DayHours {
  const { from, to } = json
  if (typeof from !== 'string' || !HHMM.test(from) || from === '24:00')
    throw new Error(`${where}: from must be 'HH:MM' from 00:00 to 23:59, got ${JSON.stringify(from)}`)
  if (typeof to !== 'string' || !HHMM.test(to)) throw new Error(`${where}: to must be 'HH:MM' from 00:01 to 24:00, got ${JSON.stringify(to)}`)
  if (minutesOf(to) <= minutesOf(from)) throw new Error(`${where}: to (${to}) must be after from (${from}); a window does not run past midnight`)
  return { from, to }
}

function parseHolidays(json: unknown): string[] {
  if (!Array.isArray(json)) throw new Error(`calling window: holidays must be a list of 'YYYY-MM-DD' or 'MM-DD' dates (or "${RU_HOLIDAYS_TOKEN}")`)
  const out = new Set<string>()
  for (const entry of json) {
    if (entry === RU_HOLIDAYS_TOKEN) {
      for (const d of RU_PUBLIC_HOLIDAYS) out.add(d)
    } else if (typeof entry === 'string' && isCalendarDate(entry)) {
      out.add(entry)
    } else {
      throw new Error(`calling window: holiday ${JSON.stringify(entry)} is not a 'YYYY-MM-DD' or 'MM-DD' date`)
    }
  }
  return [...out]
}

function isCalendarDate(s: string): boolean {
  const m = DATE.exec(s)
  if (!m) return false
  const year = m[1] === undefined ? 2000 : Number(m[1]) // a leap year, so '02-29' is a valid yearly date
  const d = new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3])))
  return d.getUTCDate() === Number(m[3])
}

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5))

/** A date and wall-clock time in some zone; month 1-12. */
interface Wall {
  year: number
  month: number
  day: number
  minutes: number
}

function wallClock(zone: string, at: number): Wall {
  const w = wallTime(new Date(at), zone)
  return { year: w.year, month: w.month, day: w.day, minutes: w.hour * 60 + w.minute }
}

/** The wall clock read as if it were UTC, in ms: differences between these are calendar differences. */
const wallMs = (w: Wall) => Date.UTC(w.year, w.month - 1, w.day) + w.minutes * 60_000

const isoWeekday = (w: Wall): IsoWeekday => (((new Date(Date.UTC(w.year, w.month - 1, w.day)).getUTCDay() + 6) % 7) + 1) as IsoWeekday

const pad = (n: number) => String(n).padStart(2, '0')

/** The hours that apply on that local date, or undefined when calls are not allowed that day. */
function hoursOn(window: CallingWindow, w: Wall): DayHours | undefined {
  const weekday = isoWeekday(w)
  if (!window.days.includes(weekday)) return undefined
  const monthDay = `${pad(w.month)}-${pad(w.day)}`
  if (window.holidays.includes(monthDay) || window.holidays.includes(`${w.year}-${monthDay}`)) return undefined
  return window.hours?.[weekday] ?? { from: window.from, to: window.to }
}

/** Whether a call may start at `at` for a callee in `zone` (an IANA name; an invalid one throws RangeError). */
export function isOpen(window: CallingWindow, zone: string, at: Date): boolean {
  const w = wallClock(zone, at.getTime())
  const hours = hoursOn(window, w)
  return hours !== undefined && w.minutes >= minutesOf(hours.from) && w.minutes < minutesOf(hours.to)
}

// Enough to get past any run of holidays in a year; a window that never opens is a configuration error.
const MAX_DAYS_AHEAD = 800

/** The first instant at or after `at` when the window is open for a callee in `zone`. */
export function nextOpen(window: CallingWindow, zone: string, at: Date): Date {
  const t = at.getTime()
  if (isOpen(window, zone, at)) return new Date(t)
  const today = wallClock(zone, t)
  for (let k = 0; k < MAX_DAYS_AHEAD; k++) {
    const date = new Date(Date.UTC(today.year, today.month - 1, today.day + k))
    const day: Wall = { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate(), minutes: 0 }
    const hours = hoursOn(window, day)
    if (!hours) continue
    const start = Math.max(t, firstInstantAtOrAfter(zone, { ...day, minutes: minutesOf(hours.from) }))
    if (start < firstInstantAtOrAfter(zone, { ...day, minutes: minutesOf(hours.to) })) return new Date(start)
  }
  throw new Error(`calling window never opens within ${MAX_DAYS_AHEAD} days (days ${window.days.join(',')}, ${window.holidays.length} holidays)`)
}

/**
 * The first instant whose wall clock in `zone` reads `target` or later. When the clock jumps forward over
 * `target` (a DST gap) that is the instant of the jump; when it repeats `target` (falling back), the first time.
 */
function firstInstantAtOrAfter(zone: string, target: Wall): number {
  const goal = wallMs(target)
  const offsetAt = (t: number) => wallMs(wallClock(zone, t)) - t
  // A transition lies between the offset half a day before and half a day after; try both.
  const candidates = [goal - offsetAt(goal - 43_200_000), goal - offsetAt(goal + 43_200_000)].sort((a, b) => a - b)
  const exact = candidates.find((c) => wallMs(wallClock(zone, c)) === goal)
  if (exact !== undefined) return exact
  // In a gap: the earlier candidate reads before target, the later one after; bisect to the minute of the jump.
  let [lo, hi] = candidates
  while (hi - lo > 60_000) {
    const mid = lo + Math.floor((hi - lo) / 120_000) * 60_000
    if (wallMs(wallClock(zone, mid)) >= goal) hi = mid
    else lo = mid
  }
  return hi
}
