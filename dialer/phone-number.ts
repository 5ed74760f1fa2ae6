// One normal form for phone numbers, so that imports deduplicate and lookups by number agree.

const SEPARATORS = /[\s\-\u2010-\u2015().]/g
const PHONE = /^\+?[0-9]{3,15}$/

/**
 * A phone number as the dialer keeps it, or undefined when it is not one. Visual separators go; Russian national
 * forms become +7: 8XXXXXXXXXX, 7XXXXXXXXXX and a bare 10-digit 9XXXXXXXXX (a mobile number without its prefix).
 * Anything else must be 3 to 15 digits, optionally after +, and is kept as written.
 */
export function normalizePhone(raw: string): string | undefined {
  const s = raw.replace(SEPARATORS, '')
  if (/^8[0-9]{10}$/.test(s)) return `+7${s.slice(1)}`
  if (/^7[0-9]{10}$/.test(s)) return `+${s}`
  if (/^9[0-9]{9}$/.test(s)) return `+7${s}`
  return PHONE.test(s) ? s : undefined
}
