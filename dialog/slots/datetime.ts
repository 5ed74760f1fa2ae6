// Callback dates and times, resolved against an injected "now" and time zone: "завтра после обеда",
// "в понедельник в 10 утра", "послезавтра вечером", "через два часа", "15 марта в 11:30",
// "tomorrow afternoon", "next Tuesday at 3 pm", "in two hours", "March 15th at half past ten".
// A time of day becomes a point; a part of the day, "after 3" or a bare day becomes a window.
import { numberTokens, parseNumbers, parseOrdinal } from './numbers.ts'
import type { Extractor, Lang, SlotContext } from './types.ts'
import { containsPhrase } from './words.ts'
import { fromWallTime, isoInZone, wallTime } from './zoned-time.ts'

export interface CallbackTime {
  /** ISO 8601 with offset; the moment, or the window's start */
  start: string
  /** the window's end; absent for a point in time */
  end?: string
}

type HM = [number, number]
type Meridiem = 'am' | 'pm'
interface Parsed {
  dayOffset?: number
  weekday?: number
  date?: { month: number; day: number; year?: number }
  /** day of this (or next) month: "the 15th" */
  monthDay?: number
  time?: { hm: HM; meridiem?: Meridiem; bound?: 'after' | 'before' }
  until?: { hm: HM; meridiem?: Meridiem }
  window?: [HM, HM]
  inMinutes?: number
  nextWeek?: boolean
}

const BUSINESS: [HM, HM] = [
  [9, 0],
  [18, 0],
]

const PARTS: Record<Lang, Array<[string, [HM, HM]]>> = {
  ru: [
    [
      'ближе к вечеру',
      [
        [16, 0],
        [19, 0],
      ],
    ],
    [
      'в первой половине дня',
      [
        [9, 0],
        [13, 0],
      ],
    ],
    [
      'во второй половине дня',
      [
        [13, 0],
        [18, 0],
      ],
    ],
    [
      'в конце дня',
      [
        [16, 0],
        [18, 0],
      ],
    ],
    ['в течение дня', BUSINESS],
    ['в рабочее время', BUSINESS],
    [
      'после обеда',
      [
        [14, 0],
        [18, 0],
      ],
    ],
    [
      'до обеда',
      [
        [9, 0],
        [13, 0],
      ],
    ],
    [
      'в обед',
      [
        [12, 0],
        [14, 0],
      ],
    ],
    [
      'с утра',
      [
        [9, 0],
        [12, 0],
      ],
    ],
    [
      'утром',
      [
        [9, 0],
        [12, 0],
      ],
    ],
    [
      'утро',
      [
        [9, 0],
        [12, 0],
      ],
    ],
    [
      'днем',
      [
        [12, 0],
        [17, 0],
      ],
    ],
    [
      'вечером',
      [
        [18, 0],
        [21, 0],
      ],
    ],
    [
      'вечер',
      [
        [18, 0],
        [21, 0],
      ],
    ],
  ],
  en: [
    [
      'end of the day',
      [
        [16, 0],
        [18, 0],
      ],
    ],
    [
      'end of day',
      [
        [16, 0],
        [18, 0],
      ],
    ],
    [
      'after lunch',
      [
        [14, 0],
        [18, 0],
      ],
    ],
    [
      'before lunch',
      [
        [9, 0],
        [13, 0],
      ],
    ],
    [
      'at lunch',
      [
        [12, 0],
        [14, 0],
      ],
    ],
    [
      'lunchtime',
      [
        [12, 0],
        [14, 0],
      ],
    ],
    ['during the day', BUSINESS],
    ['business hours', BUSINESS],
    ['working hours', BUSINESS],
    [
      'morning',
      [
        [9, 0],
        [12, 0],
      ],
    ],
    [
      'afternoon',
      [
        [12, 0],
        [17, 0],
      ],
    ],
    [
      'evening',
      [
        [18, 0],
        [21, 0],
      ],
    ],
    [
      'tonight',
      [
        [18, 0],
        [21, 0],
      ],
    ],
  ],
}
const WEEKDAY_STEMS: Record<Lang, string[]> = {
  ru: ['воскресен', 'понедельник', 'вторник', 'сред', 'четверг', 'пятниц', 'суббот'],
  en: ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'],
}
const MONTH_STEMS: Record<Lang, string[]> = {
  ru: ['январ', 'феврал', 'март', 'апрел', 'ма', 'июн', 'июл', 'август', 'сентябр', 'октябр', 'ноябр', 'декабр'],
  en: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'],
}
const RU_MONTHS_GEN = ['января', 'февраля', 'марта', 'апреля', 'мая', 'июня', 'июля', 'августа', 'сентября', 'октября', 'ноября', 'декабря']
const EN_MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December']

function weekdayOf(w: string, lang: Lang): number | undefined {
  const i = WEEKDAY_STEMS[lang].findIndex((s) => w.startsWith(s))
  if (i < 0 || (lang === 'ru' && i === 3 && !/^сред[аеуы]$/.test(w))) return undefined
  return i
}

function monthOf(w: string, lang: Lang): number | undefined {
  if (lang === 'ru') {
    if (/^ма[йяе]$/.test(w)) return 5
    const i = MONTH_STEMS.ru.findIndex((s, k) => k !== 4 && w.startsWith(s))
    return i < 0 || w.length < 4 ? undefined : i + 1
  }
  if (w === 'may') return 5
  const i = MONTH_STEMS.en.findIndex((s) => w.startsWith(s))
  return i < 0 || w.length < 3 || (w.length > 3 && !EN_MONTHS[i].toLowerCase().startsWith(w.replace(/\.$/, ''))) ? undefined : i + 1
}

/** An hour and minutes spoken from token i: "10", "10:30", "десять тридцать", "3pm", "half past three". */
function parseClock(t: string[], i: number, lang: Lang): { hm: HM; meridiem?: Meridiem; used: number } | undefined {
  const w = t[i]
  if (w === undefined) return undefined
  if (w === 'полдень' || w === 'полудня' || w === 'noon' || w === 'midday') return { hm: [12, 0], used: 1 }
  const lit = /^(\d{1,2})(?:[:.](\d{2}))?(am|pm)?$/.exec(w)
  let hm: HM | undefined
  let used = 1
  let meridiem: Meridiem | undefined
  if (lit) {
    hm = [Number(lit[1]), lit[2] ? Number(lit[2]) : 0]
    meridiem = lit[3] as Meridiem | undefined
    if (lit[2] === undefined && !lit[3]) {
      const m = minutesAt(t, i + 1, lang)
      if (m) {
        hm[1] = m.value
        used += m.used
      }
    }
  } else if (lang === 'ru' && /^половин[аеуы]$/.test(w)) {
    const o = parseOrdinal(t, i + 1, lang) // "половина третьего" = 2:30
    if (!o || o.value > 12) return undefined
    return { hm: [o.value - 1, 30], used: 1 + o.used }
  } else if (lang === 'en' && (w === 'half' || w === 'quarter') && (t[i + 1] === 'past' || t[i + 1] === 'to')) {
    const h = parseClock(t, i + 2, lang)
    if (!h) return undefined
    const m = w === 'half' ? 30 : 15
    const [hh] = h.hm
    return { hm: t[i + 1] === 'past' ? [hh, m] : [hh - 1, 60 - m], meridiem: h.meridiem, used: 2 + h.used }
  } else if (lang === 'ru' && (w === 'час' || w === 'часа') && !t[i - 1]?.match(/^\d/)) {
    hm = [1, 0]
  } else {
    const n = parseNumbers(t.slice(i, i + 2), lang)[0]
    if (!n || n.start !== 0 || n.value > 24 || n.value % 1) return undefined
    hm = [n.value, 0]
    used = n.end
    const m = minutesAt(t, i + used, lang)
    if (m) {
      hm[1] = m.value
      used += m.used
    }
  }
  if (hm[0] > 24 || hm[1] > 59) return undefined
  // "часов", "o'clock", then "утра/дня/вечера/ночи", "am/pm"
  for (;;) {
    const x = t[i + used]
    if (x === undefined) break
    if (/^час(а|ов)?$/.test(x) || x === "o'clock" || x === 'oclock' || x === 'ровно' || x === 'sharp') used++
    else if (x === 'утра' || x === 'ночи' || x === 'am' || x === 'a.m') {
      meridiem = 'am'
      used++
    } else if (x === 'дня' || x === 'вечера' || x === 'pm' || x === 'p.m') {
      meridiem = 'pm'
      used++
    } else break
  }
  return { hm, meridiem, used }
}

/** Minutes after an hour: "тридцать", "30", "сорок пять", "ноль пять", "fifteen", "oh five". */
function minutesAt(t: string[], i: number, lang: Lang): { value: number; used: number } | undefined {
  let k = i
  if (/^час(а|ов)?$/.test(t[k] ?? '')) k++
  let zero = false
  if (t[k] === 'ноль' || t[k] === 'oh') {
    zero = true
    k++
  }
  const n = parseNumbers(t.slice(k, k + 2), lang)[0]
  if (!n || n.start !== 0 || n.value >= 60 || n.value % 1 || (n.value < 10 && !zero && !/^\d\d$/.test(t[k]))) return undefined
  let used = k - i + n.end
  if (/^минут/.test(t[i + used] ?? '') || t[i + used] === 'minutes') used++
  return { value: n.value, used }
}

function parse(text: string, lang: Lang): Parsed | undefined {
  const t = numberTokens(text)
  const p: Parsed = {}
  let found = false
  for (const [phrase, win] of PARTS[lang]) {
    if (containsPhrase(t, phrase.split(' '))) {
      p.window = win
      found = true
      break
    }
  }
  for (let i = 0; i < t.length; i++) {
    const w = t[i]
    const next = t[i + 1]
    // relative days
    if (w === 'сегодня' || w === 'today' || w === 'tonight') p.dayOffset = 0
    else if ((w === 'завтра' && t[i - 1] === 'после') || w === 'послезавтра' || (w === 'day' && next === 'after' && t[i + 2] === 'tomorrow')) {
      p.dayOffset = 2
      if (w === 'day') i += 2
    } else if (w === 'завтра' || w === 'tomorrow') p.dayOffset = 1
    else if ((w === 'через' || w === 'in') && next !== undefined) {
      // "через два часа", "через полчаса", "через неделю", "in an hour", "in 3 days"
      const rest = t.slice(i + 1, i + 4)
      let count = 1
      let k = 0
      if (rest[0] === 'an' || rest[0] === 'a') k = 1
      else if (rest[0] === 'half' && rest[1] === 'an') {
        count = 0.5
        k = 2
      } else {
        const n = parseNumbers(rest, lang)[0]
        if (n && n.start === 0) {
          count = n.value
          k = n.end
        }
      }
      const unit = rest[k] ?? ''
      if (unit === 'полчаса') p.inMinutes = 30
      else if (/^(минут|minute)/.test(unit)) p.inMinutes = count
      else if (/^(час|hour)/.test(unit)) p.inMinutes = count * 60
      else if (/^(день|дня|дней|day)/.test(unit)) p.dayOffset = count
      else if (/^(недел|week)/.test(unit)) p.dayOffset = count * 7
      else continue
      found = true
      i += k + 1
      continue
    } else if (/^следующ/.test(w) && /^недел/.test(next ?? '')) p.nextWeek = true
    else if (w === 'next' && next === 'week') p.nextWeek = true
    else if (weekdayOf(w, lang) !== undefined) p.weekday = weekdayOf(w, lang)
    else if (/^(\d{1,2})\.(\d{1,2})(?:\.(\d{2,4}))?$/.test(w) && !['в', 'к', 'at', 'около', 'после', 'до'].includes(t[i - 1])) {
      const [d, m, y] = w.split('.').map(Number)
      if (m >= 1 && m <= 12 && d >= 1 && d <= 31) p.date = { day: d, month: m, year: y ? (y < 100 ? 2000 + y : y) : undefined }
      else continue
    } else if (monthOf(w, lang) !== undefined) {
      // "15 марта", "пятнадцатого марта", "March 15th", "the 15th of March"
      const month = monthOf(w, lang)!
      const before = t[i - 1] === 'of' ? i - 2 : i - 1
      const back = before >= 1 ? parseOrdinal(t, before - 1, lang) : undefined
      const day = back && back.used === 2 ? back : before >= 0 ? parseOrdinal(t, before, lang) : undefined
      const after = lang === 'en' ? parseOrdinal(t, i + 1, lang) : undefined
      const d = day?.value ?? after?.value
      if (d === undefined || d > 31) continue
      p.date = { day: d, month }
      if (after && day === undefined) i += after.used
    } else if (lang === 'en' && w === 'the' && next && parseOrdinal(t, i + 1, lang) && !monthOf(t[i + 2] ?? '', lang) && t[i + 2] !== 'of') {
      const o = parseOrdinal(t, i + 1, lang)!
      if (o.value <= 31 && !/^\d+$/.test(next)) p.monthDay = o.value
      else continue
    } else if (
      ['в', 'во', 'к', 'около', 'после', 'до', 'с', 'at', 'around', 'after', 'before', 'by', 'from', 'between'].includes(w) ||
      /^\d{1,2}(:\d{2})?(am|pm)$/.test(w) ||
      /^\d{1,2}:\d{2}$/.test(w)
    ) {
      const at = /^\d/.test(w) ? i : i + 1
      const c = parseClock(t, at, lang)
      if (!c) continue
      const bound = w === 'после' || w === 'after' ? 'after' : w === 'до' || w === 'before' || w === 'by' ? 'before' : undefined
      // "с 10 до 12", "from 2 to 4", "между 2 и 4", "between 2 and 4"
      const sep = t[at + c.used]
      if ((w === 'с' || w === 'from' || w === 'between') && ['до', 'по', 'to', 'and', 'till', 'until'].includes(sep ?? '')) {
        const c2 = parseClock(t, at + c.used + 1, lang)
        if (c2) {
          p.time = { hm: c.hm, meridiem: c.meridiem ?? c2.meridiem }
          p.until = { hm: c2.hm, meridiem: c2.meridiem }
          i = at + c.used + c2.used
          found = true
          continue
        }
      }
      if (w === 'с' && !c.meridiem && !/^час/.test(t[at + 1] ?? '')) continue // "с утра", "с Иваном"
      p.time = { hm: c.hm, meridiem: c.meridiem, bound: bound === 'before' && w === 'by' ? undefined : bound }
      i = at + c.used - 1
    } else if (lang === 'ru' && w === 'между' && next) {
      const c = parseClock(t, i + 1, lang)
      const c2 = c && t[i + 1 + c.used] === 'и' ? parseClock(t, i + 2 + c.used, lang) : undefined
      if (!c || !c2) continue
      p.time = { hm: c.hm, meridiem: c.meridiem ?? c2.meridiem }
      p.until = { hm: c2.hm, meridiem: c2.meridiem }
      i += 1 + c.used + c2.used
    } else continue
    found = true
  }
  return found ? p : undefined
}

/** Hours without am/pm are read as business hours: 1-7 are afternoon, 8-11 morning. */
function hour24(hm: HM, meridiem: Meridiem | undefined, window: [HM, HM] | undefined): HM {
  let [h, m] = hm
  if (meridiem === 'pm' && h < 12) h += 12
  else if (meridiem === 'am' && h === 12) h = 0
  else if (!meridiem && window && window[0][0] >= 12 && h < 12) h += 12
  else if (!meridiem && !window && h >= 1 && h <= 7) h += 12
  return [h, m]
}

function display(start: Date, end: Date | undefined, ctx: SlotContext, dayDiff: number): string {
  const w = wallTime(start, ctx.timeZone)
  const hm = (d: Date) => {
    const x = wallTime(d, ctx.timeZone)
    return `${x.hour}:${String(x.minute).padStart(2, '0')}`
  }
  if (ctx.lang === 'ru') {
    const rel = dayDiff === 0 ? 'сегодня, ' : dayDiff === 1 ? 'завтра, ' : ''
    return `${rel}${w.day} ${RU_MONTHS_GEN[w.month - 1]} ${end ? `с ${hm(start)} до ${hm(end)}` : `в ${hm(start)}`}`
  }
  const rel = dayDiff === 0 ? 'today, ' : dayDiff === 1 ? 'tomorrow, ' : ''
  return `${rel}${EN_MONTHS[w.month - 1]} ${w.day}${end ? `, ${hm(start)}–${hm(end)}` : ` at ${hm(start)}`}`
}

export const extractDateTime: Extractor<CallbackTime> = (text, ctx) => {
  const p = parse(text, ctx.lang)
  if (!p) return undefined
  const tz = ctx.timeZone
  const now = ctx.now
  const today = wallTime(now, tz)
  const dayIndex = (y: number, m: number, d: number) => Math.round(Date.UTC(y, m - 1, d) / 86400000)
  const todayIndex = dayIndex(today.year, today.month, today.day)
  if (p.inMinutes !== undefined) {
    const at = new Date(Math.ceil((now.getTime() + p.inMinutes * 60000) / 60000) * 60000)
    const w = wallTime(at, tz)
    return { value: { start: isoInZone(at, tz) }, display: display(at, undefined, ctx, dayIndex(w.year, w.month, w.day) - todayIndex) }
  }
  // the day
  let day: number // days after today
  let implicitDay = false
  if (p.date) {
    let y = p.date.year ?? today.year
    if (!p.date.year && dayIndex(y, p.date.month, p.date.day) < todayIndex) y++
    day = dayIndex(y, p.date.month, p.date.day) - todayIndex
  } else if (p.monthDay !== undefined) {
    day = p.monthDay - today.day
    if (day < 0) day = dayIndex(today.year, today.month + 1, p.monthDay) - todayIndex
  } else if (p.weekday !== undefined) day = (p.weekday - today.weekday + 7) % 7 || 7
  else if (p.nextWeek) day = (1 - today.weekday + 7) % 7 || 7
  else if (p.dayOffset !== undefined) day = p.dayOffset
  else {
    day = 0
    implicitDay = true
  }
  // the hours
  let from: HM
  let to: HM | undefined
  const window = p.window
  if (p.time && p.until) {
    from = hour24(p.time.hm, p.time.meridiem, window)
    to = hour24(p.until.hm, p.until.meridiem ?? p.time.meridiem, window)
    if (to[0] < from[0] && to[0] < 12) to = [to[0] + 12, to[1]]
  } else if (p.time?.bound === 'after') {
    from = hour24(p.time.hm, p.time.meridiem, window)
    to = from[0] < 17 ? [18, 0] : [Math.min(from[0] + 2, 23), from[1]]
  } else if (p.time?.bound === 'before') {
    to = hour24(p.time.hm, p.time.meridiem, window)
    from = [Math.min(9, to[0] - 1), 0]
  } else if (p.time) from = hour24(p.time.hm, p.time.meridiem, window)
  else if (window) [from, to] = window
  else if (p.nextWeek) {
    from = BUSINESS[0]
    to = BUSINESS[1]
  } else [from, to] = BUSINESS
  const at = (d: number, hm: HM) => fromWallTime(today.year, today.month, today.day + d, hm[0], hm[1], tz)
  let startDate = at(day, from)
  let endDate = to ? at(p.nextWeek && !p.time && !window ? day + 4 : day, to) : undefined
  if (implicitDay && (endDate ?? startDate) <= now) {
    day += 1
    startDate = at(day, from)
    endDate = to ? at(day, to) : undefined
  }
  if ((endDate ?? startDate) <= now) return undefined // a time already past: ask again
  if (endDate && startDate < now) startDate = new Date(Math.ceil(now.getTime() / 60000) * 60000)
  const value: CallbackTime = endDate ? { start: isoInZone(startDate, tz), end: isoInZone(endDate, tz) } : { start: isoInZone(startDate, tz) }
  return { value, display: display(startDate, endDate, ctx, day) }
}
