/**
 * The digit in a SIP INFO body: application/dtmf-relay ("Signal=5\r\nDuration=160")
 * or application/dtmf ("5"). Null for anything else.
 */
export function digitFromInfo(contentType: string, body: string): string | null {
  const type = contentType.split(';')[0].trim().toLowerCase()
  let signal: string | undefined
  if (type === 'application/dtmf-relay') signal = /^\s*signal\s*=\s*(\S+)/im.exec(body)?.[1]
  else if (type === 'application/dtmf') signal = body.trim()
  if (!signal) return null
  if (/^[0-9*#A-Da-d]$/.test(signal)) return signal.toUpperCase()
  // Some gateways send the RFC 4733 event number instead of the character.
  const n = Number(signal)
  if (Number.isInteger(n) && n >= 0 && n <= 15) return '0123456789*#ABCD'[n]
  return null
}
