// The callee's time zone guessed from the phone number, for contacts imported without one.
//
// Limits: only fixed-line (ABC) numbers say where the callee is. Russian mobile numbers (DEF codes 9xx) do not:
// each DEF code is split into blocks assigned to operators in different regions (Rossvyaz's DEF-9xx registry,
// not shipped here), and since mobile number portability (2013) a number keeps its code when its owner moves
// operator or city. No DEF code is reliably one region, so they give undefined, as do non-geographic codes
// (80x) and countries not in the table; the campaign's default zone applies to those contacts.
import { RU_AREA_CODES, SINGLE_ZONE_COUNTRIES } from './data/ru-area-codes.ts'
import { normalizePhone } from './phone-number.ts'

export interface NumberRegion {
  /** IANA zone. */
  zone: string
  /** The Russian federal subject, or the country for source 'country'. */
  region: string
  /** abc: a Russian geographic code; def: a Russian mobile code (none is listed, see above); country: by calling code. */
  source: 'abc' | 'def' | 'country'
}

const BY_CODE = new Map<string, NumberRegion>(
  RU_AREA_CODES.flatMap(({ region, zone, codes }) => codes.map((code) => [code, { zone, region, source: 'abc' as const }])),
)

// Kazakhstan shares +7 (national numbers 6xx and 7xx). The whole country is UTC+5 since 1 March 2024.
const KAZAKHSTAN: NumberRegion = { zone: 'Asia/Almaty', region: 'Kazakhstan', source: 'country' }

/**
 * The zone of a number given as E.164 (+7 495 ..., +49 ...) or in the Russian national forms (8 495 ..., 7 495 ...).
 * Separators are ignored (see normalizePhone). Undefined when the number does not tell.
 */
export function timeZoneOfNumber(e164OrNational: string): NumberRegion | undefined {
  const phone = normalizePhone(e164OrNational)
  // Without a + after normalising, the number is in no form that names its country.
  return phone?.startsWith('+') ? byInternational(phone.slice(1)) : undefined
}

function byInternational(number: string): NumberRegion | undefined {
  if (number.startsWith('7')) return number.length === 11 ? byRussian(number.slice(1)) : undefined
  for (const length of [3, 2]) {
    const country = SINGLE_ZONE_COUNTRIES[number.slice(0, length)]
    if (country) return { zone: country.zone, region: country.country, source: 'country' }
  }
  return undefined
}

/** nsn: the 10-digit national significant number after +7. */
function byRussian(nsn: string): NumberRegion | undefined {
  if (nsn.startsWith('6') || nsn.startsWith('7')) return KAZAKHSTAN
  for (const length of [5, 4, 3]) {
    const hit = BY_CODE.get(nsn.slice(0, length))
    if (hit) return hit
  }
  return undefined
}
