// One SIP trunk as configured (media-server/trunk-config.ts reads it from the config file and
// the TRUNK_* variables): where it is, how we log in, what we may dial through it.
import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import type { Remote } from '../message/types.ts'
import type { SrtpPolicy } from '../sdp/negotiate.ts'

export interface TrunkConfig {
  name: string
  /** Registrar/proxy host name or address, and its port. */
  host: string
  port: number
  transport: 'udp' | 'tcp' | 'tls'
  /** Login (often the number itself) and password for digest auth; empty: no auth. */
  username: string
  password: string
  /** When set, only challenges from this realm are answered (the password goes nowhere else). */
  realm: string
  /** Domain of our address of record (sip:username@domain) and of dialled numbers; default host. */
  domain: string
  /** Our number as the carrier knows it: From and P-Asserted-Identity of calls through the trunk. */
  callerId: string
  /** Number prefixes this trunk may dial; empty: OUTBOUND_ALLOW_PREFIXES applies. */
  allowPrefixes: string[]
  /** Concurrent outbound calls through the trunk; 0: no limit. */
  channels: number
  /** New outbound calls per second through the trunk; 0: no limit. */
  cps: number
  /** host[:port] every request goes to first (with a loose Route), e.g. the carrier's SBC. */
  outboundProxy: string
  /** REGISTER with the trunk (registration-based trunks); off for IP-authenticated ones. */
  register: boolean
  /** Registration lifetime we ask for, in seconds (the registrar may grant less). */
  expires: number
  /** SRTP for calls from the trunk's addresses, replacing SRTP for them; unset: SRTP applies.
   *  `required` also refuses our own plain-RTP calls through it (outbound legs are plain). */
  srtp?: SrtpPolicy
}

/** `host[:port]` split; IPv6 in brackets. */
export function splitHostPort(s: string, defaultPort = 5060): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+)(?::(\d{1,5}))?$/.exec(s.trim())
  if (!m) throw new Error(`not host[:port]: ${JSON.stringify(s)}`)
  return { host: m[1], port: m[2] ? Number(m[2]) : defaultPort }
}

/** The number a sip:/tel: URI or a bare number dials: the user part, visual separators removed. */
export function dialledNumber(target: string): string {
  const user = /^(?:sips?|tel):([^@;?]+)/i.exec(target.trim())?.[1] ?? target.trim()
  return decodeURIComponent(user).replace(/[\s().-]/g, '')
}

/** The transport of a trunk's requests. */
export function trunkProtocol(trunk: Pick<TrunkConfig, 'transport'>): Remote['protocol'] {
  return trunk.transport === 'tls' ? 'TLS' : trunk.transport === 'tcp' ? 'TCP' : 'UDP'
}

export async function resolveRemote(hostPort: string, protocol: Remote['protocol']): Promise<Remote> {
  const { host, port } = splitHostPort(hostPort, protocol === 'TLS' ? 5061 : 5060)
  const bare = host.replace(/^\[|\]$/g, '')
  // A/AAAA only: RFC 3263 NAPTR/SRV lookups are not done, so the port must be given when not 5060 (5061 for TLS).
  if (isIP(bare)) return { protocol, address: bare, port }
  // over TLS the certificate is checked against the name, not the address it resolved to (RFC 5922 §7)
  return { protocol, address: (await lookup(bare)).address, port, ...(protocol === 'TLS' && { serverName: bare }) }
}
