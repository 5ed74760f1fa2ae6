// A campaign's contact list from an uploaded CSV file or a JSON array.
// Row problems are reported per row and the good rows kept; problems with the whole file (no header, no phone
// column, broken quoting, over the limits) throw, since no row of such a file can be trusted.
import { parse } from 'csv-parse/sync'
import { normalizePhone } from './phone-number.ts'

export interface ContactInput {
  /** Normalised: +7XXXXXXXXXX for Russian numbers, otherwise digits with an optional leading +. */
  phone: string
  name?: string
  /** An IANA zone valid for Intl, as given. */
  timeZone?: string
  region?: string
  /** Whether the callee agreed to be called (a consent column: yes/no, да/нет, 1/0); absent: not recorded */
  consent?: boolean
  /** Every other column, for the scenario (e.g. {{company}}). */
  fields: Record<string, string>
}

export interface ContactImportResult {
  contacts: ContactInput[]
  /** line: the file line a CSV row ends on (the header is line 1); for JSON, the 1-based array position. */
  errors: Array<{ line: number; error: string }>
  /** Rows dropped because an earlier row had the same normalised phone. */
  duplicates: number
}

export const MAX_ROWS = 100_000
export const MAX_FIELD_LENGTH = 1000
export const MAX_CUSTOM_FIELDS = 50

type Known = 'phone' | 'name' | 'timeZone' | 'region' | 'consent'

// Header names (lower case) of the columns with a meaning of their own; Russian ones for Excel in Russian offices.
const ALIASES = new Map<string, Known>(
  Object.entries({
    phone: 'phone',
    tel: 'phone',
    телефон: 'phone',
    name: 'name',
    имя: 'name',
    фио: 'name',
    timezone: 'timeZone',
    tz: 'timeZone',
    time_zone: 'timeZone',
    'часовой пояс': 'timeZone',
    region: 'region',
    регион: 'region',
    consent: 'consent',
    согласие: 'consent',
  } as const),
)

// A consent cell: what a spreadsheet or a CRM export writes for yes and for no.
const YES = new Set(['1', 'yes', 'y', 'true', '+', 'да', 'д', 'есть'])
const NO = new Set(['0', 'no', 'n', 'false', '-', 'нет', 'н'])

/** Contacts from CSV text: header row required, ',' or ';' as the delimiter (whichever the header uses more), BOM ignored. */
export function importContactsCsv(text: string): ContactImportResult {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text
  const headerLine = body.slice(0, body.search(/\r?\n|$/))
  const delimiter = count(headerLine, ';') > count(headerLine, ',') ? ';' : ','
  let records: Array<{ record: string[]; info: { lines: number } }>
  try {
    records = parse(body, {
      delimiter,
      info: true,
      relax_column_count: true, // a row with a wrong number of fields is that row's error, reported below
      relax_quotes: true, // ООО "Ромашка" unquoted keeps its quotes instead of failing the file
      skip_empty_lines: true,
      to: MAX_ROWS + 2, // the header, the allowed rows, and one more to tell that there are too many
    }) as unknown as typeof records // csv-parse's typings do not model info: true
  } catch (err) {
    throw new Error(`contacts CSV: ${(err as Error).message}`)
  }
  if (records.length === 0) throw new Error('contacts CSV: the file is empty; a header row is required')
  if (records.length > MAX_ROWS + 1) throw new Error(`contacts CSV: more than ${MAX_ROWS} rows; split the file`)
  const [header, ...rows] = records
  const columns = header.record.map((name) => name.trim())
  columns.forEach((name, i) => {
    if (name === '') throw new Error(`contacts CSV: column ${i + 1} of the header has no name`)
  })
  const duplicate = columns.find((name, i) => columns.indexOf(name) !== i)
  if (duplicate !== undefined) throw new Error(`contacts CSV: column '${duplicate}' appears twice in the header`)
  const problem = columnsProblem(columns)
  if (problem !== undefined) throw new Error(`contacts CSV: header: ${problem}`)
  if (!columns.some((name) => roleOf(name) === 'phone'))
    throw new Error(`contacts CSV: no phone column (name one 'phone' or 'телефон'); the header has ${columns.join(', ')}`)

  const collector = new Collector()
  for (const { record, info } of rows) {
    if (record.every((cell) => cell.trim() === '')) continue // Excel's trailing ';;;' rows
    if (record.length !== columns.length) {
      collector.error(info.lines, `the row has ${record.length} fields, the header has ${columns.length}`)
      continue
    }
    collector.add(
      info.lines,
      columns.map((name, i) => [name, record[i]]),
    )
  }
  return collector.result()
}

/** Contacts from a parsed JSON array of objects keyed like the CSV header; values are strings, numbers or booleans. */
export function importContactsJson(json: unknown): ContactImportResult {
  if (!Array.isArray(json)) throw new Error('contacts JSON: expected an array of objects')
  if (json.length > MAX_ROWS) throw new Error(`contacts JSON: ${json.length} rows, more than ${MAX_ROWS}; split the list`)
  const collector = new Collector()
  json.forEach((item, i) => {
    const line = i + 1
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return collector.error(line, 'expected an object')
    const entries: Array<[string, string]> = []
    for (const [key, value] of Object.entries(item)) {
      if (value === null || value === undefined) continue
      if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean') entries.push([key, String(value)])
      else if (typeof value === 'string') entries.push([key, value])
      else return collector.error(line, `'${key}' must be a string or a number`)
    }
    const problem = columnsProblem(entries.map(([key]) => key.trim()))
    if (problem !== undefined) return collector.error(line, problem)
    collector.add(line, entries)
  })
  return collector.result()
}

const count = (s: string, ch: string) => s.split(ch).length - 1

const roleOf = (name: string): Known | undefined => ALIASES.get(name.toLowerCase())

/** Why these column names cannot be one row (two columns with one meaning, too many custom ones), or undefined. */
function columnsProblem(names: string[]): string | undefined {
  const seen = new Map<Known, string>()
  let custom = 0
  for (const name of names) {
    const role = roleOf(name)
    if (role === undefined) {
      custom++
      continue
    }
    const other = seen.get(role)
    if (other !== undefined) return `'${other}' and '${name}' both give the ${role}`
    seen.set(role, name)
  }
  if (custom > MAX_CUSTOM_FIELDS) return `${custom} custom fields; at most ${MAX_CUSTOM_FIELDS} besides phone, name, timezone, region and consent`
  return undefined
}

/** Validates rows into contacts, keeping the first row of each phone. */
class Collector {
  private readonly contacts: ContactInput[] = []
  private readonly errors: ContactImportResult['errors'] = []
  private readonly phones = new Set<string>()
  private duplicates = 0

  error(line: number, error: string): void {
    this.errors.push({ line, error })
  }

  add(line: number, entries: Array<[string, string]>): void {
    const contact: ContactInput = { phone: '', fields: {} }
    const custom: Array<[string, string]> = []
    for (const [rawName, rawValue] of entries) {
      const name = rawName.trim()
      if (rawValue.length > MAX_FIELD_LENGTH) return this.error(line, `'${name}' is longer than ${MAX_FIELD_LENGTH} characters`)
      const role = roleOf(name)
      const value = rawValue.trim()
      if (role === undefined) custom.push([name, value])
      else if (role === 'consent') {
        const v = value.toLowerCase()
        if (YES.has(v)) contact.consent = true
        else if (NO.has(v)) contact.consent = false
        else if (v !== '') return this.error(line, `consent '${value}' is neither yes nor no (yes/no, да/нет, 1/0)`)
      } else if (value !== '') contact[role] = value
    }
    if (contact.phone === '') return this.error(line, 'no phone number')
    const phone = normalizePhone(contact.phone)
    if (phone === undefined) return this.error(line, `'${contact.phone}' is not a phone number: expected 3 to 15 digits, optionally after +`)
    if (contact.timeZone !== undefined && !isTimeZone(contact.timeZone))
      return this.error(line, `time zone '${contact.timeZone}' is not a valid IANA zone (e.g. Europe/Moscow)`)
    if (this.phones.has(phone)) {
      this.duplicates++
      return
    }
    this.phones.add(phone)
    // fromEntries defines own properties, so a column named __proto__ stays a field.
    this.contacts.push({ ...contact, phone, fields: Object.fromEntries(custom) })
  }

  result(): ContactImportResult {
    return { contacts: this.contacts, errors: this.errors, duplicates: this.duplicates }
  }
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone })
    return true
  } catch {
    return false
  }
}
