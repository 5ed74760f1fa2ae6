// What a transfer target names, and what the transferee tells us about it (RFC 3515 §2.4.5).
import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import type { Remote } from '../message/types.ts'

const PHONE = /^\+?[0-9][0-9 ().-]*$/
const SIP_URI = /^sips?:(?:[^@\s<>]+@)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?([;?][^\s<>]*)?$/

/**
 * A sip:/sips: URI as given; a phone number ("+7 (999) 000-11-22") becomes
 * sip:+79990001122@<domain>. Throws on anything else, or on a number without a domain.
 */
export function transferTargetUri(target: string, domain?: string): string {
  const t = target.trim()
  if (SIP_URI.test(t)) return t
  if (PHONE.test(t)) {
    if (!domain) throw new Error(`transfer to the number ${t} needs a trunk domain`)
    if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(domain)) throw new Error(`bad trunk domain ${JSON.stringify(domain)}`)
    return `sip:${t.replace(/[^0-9+]/g, '')}@${domain}`
  }
  throw new Error(`transfer target ${JSON.stringify(target)} is neither a sip: URI nor a phone number`)
}

/** Where to send requests for a sip: URI: its host (resolved by the system resolver) and port. */
export async function uriRemote(uri: string): Promise<Remote> {
  const m = SIP_URI.exec(uri)
  if (!m) throw new Error(`not a sip: URI: ${uri}`)
  const host = m[1].replace(/^\[|\]$/g, '')
  const address = isIP(host) ? host : (await lookup(host)).address
  const tcp = /;transport=tcp/i.test(m[3] ?? '')
  return { protocol: tcp ? 'TCP' : 'UDP', address, port: m[2] ? Number(m[2]) : 5060 }
}

/** The status line of a message/sipfrag body ("SIP/2.0 200 OK"), or null when there is none. */
export function sipfragStatus(body: string): { status: number; reason: string } | null {
  const m = /^\s*SIP\/2\.0 ([1-6]\d\d)(?: ([^\r\n]*))?/.exec(body)
  return m ? { status: Number(m[1]), reason: (m[2] ?? '').trim() } : null
}

/** Subscription-State: terminated ends the implicit refer subscription (RFC 6665 §4.1.3). */
export function subscriptionTerminated(header: unknown): boolean {
  return typeof header === 'string' && /^\s*terminated\b/i.test(header)
}
