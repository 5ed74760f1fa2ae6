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
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      weekday: 'short',
    })
    formatters.set(timeZone, f)
  }
  return f
}

/** Throws a RangeError for a zone name Intl does not know. */
export function assertTimeZone(timeZone: string): void {
  formatter(timeZone)
}

/** The zone's wall clock as Intl reports it (the slow path; see offsetMinutes). */
function intlWallTime(date: Date, timeZone: string): WallTime {
  const parts: Record<string, string> = {}
  for (const p of formatter(timeZone).formatToParts(date)) parts[p.type] = p.value
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    weekday: WEEKDAYS.indexOf(parts.weekday),
  }
}

// Zone offsets change only on quarter-hour boundaries (UTC), so one Intl lookup per zone and
// quarter hour is enough; Intl formatting is the expensive part of resolving a date.
const QUARTER = 15 * 60000
const offsets = new Map<string, number>()

/** Offset of the zone from UTC at that instant, in minutes (Moscow: +180). */
function offsetMinutes(date: Date, timeZone: string): number {
  const bucket = Math.floor(date.getTime() / QUARTER)
  const key = `${timeZone} ${bucket}`
  let off = offsets.get(key)
  if (off === undefined) {
    const at = new Date(bucket * QUARTER)
    const w = intlWallTime(at, timeZone)
    off = Math.round((Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute) - at.getTime()) / 60000)
    if (offsets.size > 4096) offsets.clear()
    offsets.set(key, off)
  }
  return off
}

export function wallTime(date: Date, timeZone: string): WallTime {
  const local = new Date(date.getTime() + offsetMinutes(date, timeZone) * 60000)
  return {
    year: local.getUTCFullYear(),
    month: local.getUTCMonth() + 1,
    day: local.getUTCDate(),
    hour: local.getUTCHours(),
    minute: local.getUTCMinutes(),
    weekday: local.getUTCDay(),
  }
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
