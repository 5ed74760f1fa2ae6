// SIPp's own record of what it saw (-trace_msg -message_file): every message with the time SIPp
// took it off or put it on the wire. Pacing figures come from here, not from the server's logs.
import { readFileSync } from 'node:fs'

export interface TracedMessage {
  /** ms since the epoch, SIPp's clock */
  at: number
  dir: 'received' | 'sent'
  /** the request method, or the response's status code as a string */
  what: string
  callId: string
  /** the user part of the Request-URI of a request */
  user?: string
  /** the first Via's sent-by of a request (which instance sent it) */
  via?: string
}

// "UDP message received [940] bytes :" and "UDP message sent (313 bytes):"
const HEAD = /^-{10,} (\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}\.\d+)\n(?:UDP|TCP|TLS) message (received|sent) (?:\[\d+\] bytes :|\(\d+ bytes\):)\n\n/

export function readSippTrace(file: string): TracedMessage[] {
  const out: TracedMessage[] = []
  for (const block of readFileSync(file, 'utf8').split(/(?=^-{10,} \d{4}-)/m)) {
    const m = HEAD.exec(block)
    if (!m) continue
    const msg = block.slice(m[0].length)
    const first = msg.split(/\r?\n/, 1)[0]
    const status = /^SIP\/2\.0 (\d{3})/.exec(first)?.[1]
    const request = /^([A-Z]+) sips?:(?:([^@;> ]+)@)?/.exec(first)
    out.push({
      at: Date.parse(`${m[1]}T${m[2].slice(0, 12)}`),
      dir: m[3] as 'received' | 'sent',
      what: status ?? request?.[1] ?? '?',
      callId: /^Call-ID:\s*(.+?)\s*$/im.exec(msg)?.[1] ?? '',
      ...(request?.[2] && { user: request[2] }),
      ...(!status && { via: /^Via:\s*SIP\/2\.0\/\w+ ([^;\s]+)/im.exec(msg)?.[1] }),
    })
  }
  return out
}

/** The most INVITEs received in any `windowMs` (a trunk's calls per second, as the far end counts them). */
export function peakRate(msgs: TracedMessage[], windowMs = 1000): number {
  const t = firstInvites(msgs).map((m) => m.at)
  let peak = 0
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[i] - t[j] >= windowMs) j++
    peak = Math.max(peak, i - j + 1)
  }
  return peak
}

/** The most calls up at once: each from its first INVITE to its BYE (either way). */
export function peakConcurrency(msgs: TracedMessage[]): number {
  const edges: Array<[number, number]> = []
  const byes = new Map(msgs.filter((m) => m.what === 'BYE').map((m) => [m.callId, m.at]))
  for (const inv of firstInvites(msgs)) edges.push([inv.at, 1], [byes.get(inv.callId) ?? Number.POSITIVE_INFINITY, -1])
  // at equal times an end goes first: a call that ends as another starts is not overlap
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1])
  let up = 0
  let peak = 0
  for (const [, d] of edges) peak = Math.max(peak, (up += d))
  return peak
}

/** Each call's first INVITE as SIPp received it (a retransmission or an authenticated retry is the same call). */
export function firstInvites(msgs: TracedMessage[]): TracedMessage[] {
  const seen = new Set<string>()
  return msgs.filter((m) => m.dir === 'received' && m.what === 'INVITE' && !seen.has(m.callId) && seen.add(m.callId))
}
