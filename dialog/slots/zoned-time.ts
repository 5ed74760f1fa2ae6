// Wall-clock time in an IANA zone without a date library: Intl gives the zone's offset.

export interface WallTime {
  year: number
  month: number // 1-12
  day: number
  hour: number
  minute: number
  /** 0 = Sunday */
  weekday: number
}

const formatters = new Map<string, Intl.DateTimeFormat>()
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', weekday: 'short',
    })
    formatters.set(timeZone, f)
  }
  return f
}

/** Throws a RangeError for a zone name Intl does not know. */
export function assertTimeZone(timeZone: string): void {
  formatter(timeZone)
}

export function wallTime(date: Date, timeZone: string): WallTime {
  const parts: Record<string, string> = {}
  for (const p of formatter(timeZone).formatToParts(date)) parts[p.type] = p.value
  return {
    year: Number(parts.year), month: Number(parts.month), day: Number(parts.day),
    hour: Number(parts.hour), minute: Number(parts.minute), weekday: WEEKDAYS.indexOf(parts.weekday),
  }
}

/** Offset of the zone from UTC at that instant, in minutes (Moscow: +180). */
function offsetMinutes(date: Date, timeZone: string): number {
  const w = wallTime(date, timeZone)
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute)
  return Math.round((asUtc - Math.floor(date.getTime() / 60000) * 60000) / 60000)
}

/** The instant a wall-clock time names in the zone (day overflow allowed: day 32 = next month). */
export function fromWallTime(year: number, month: number, day: number, hour: number, minute: number, timeZone: string): Date {
  const guess = Date.UTC(year, month - 1, day, hour, minute)
  let t = guess - offsetMinutes(new Date(guess), timeZone) * 60000
  t = guess - offsetMinutes(new Date(t), timeZone) * 60000 // again across a DST change
  return new Date(t)
}

/** ISO 8601 with the zone's offset: 2026-12-03T14:00:00+03:00. */
export function isoInZone(date: Date, timeZone: string): string {
  const w = wallTime(date, timeZone)
  const off = offsetMinutes(date, timeZone)
  const p2 = (n: number) => String(n).padStart(2, '0')
  const sign = off < 0 ? '-' : '+'
  const a = Math.abs(off)
  return `${w.year}-${p2(w.month)}-${p2(w.day)}T${p2(w.hour)}:${p2(w.minute)}:00${sign}${p2(Math.floor(a / 60))}:${p2(a % 60)}`
}
