// The `trunks` and `outbound` sections of the config file, and the TRUNK_* / OUTBOUND_* variables
// for the simple one-trunk case. Kept out of config.ts: a list of objects is not a tree of scalars.
import { parsePrefixes } from '../sip/trunks/outbound-guard.ts'
import { SRTP_POLICIES, type SrtpPolicy } from '../sip/sdp/negotiate.ts'
import { splitHostPort, type TrunkConfig } from '../sip/trunks/trunk.ts'
// config.ts imports this module back; neither uses the other at load time
import { ConfigError } from './config.ts'

export interface OutboundConfig {
  /** OUTBOUND_ALLOW_PREFIXES: numbers an outbound call may dial; empty: none. */
  allowPrefixes: string[]
  /** OUTBOUND_MAX_CALLS_PER_HOUR: outbound calls in any 60 minutes, all trunks together. */
  maxCallsPerHour: number
  /** OUTBOUND_RING_TIMEOUT_S: how long a call placed through POST /api/calls may ring before our CANCEL. */
  ringTimeoutS: number
}

export const DEFAULT_MAX_CALLS_PER_HOUR = 60
const DEFAULT_RING_TIMEOUT_S = 30
const DEFAULT_EXPIRES = 300

/** Variables of the one-trunk case -> keys of a trunk entry. TRUNK_HOST turns it on. */
const TRUNK_ENV: Array<[string, keyof RawTrunk]> = [
  ['TRUNK_NAME', 'name'],
  ['TRUNK_HOST', 'host'],
  ['TRUNK_USERNAME', 'username'],
  ['TRUNK_PASSWORD', 'password'],
  ['TRUNK_TRANSPORT', 'transport'],
  ['TRUNK_CALLER_ID', 'callerId'],
  ['TRUNK_REALM', 'realm'],
  ['TRUNK_DOMAIN', 'domain'],
  ['TRUNK_ALLOW_PREFIXES', 'allowPrefixes'],
  ['TRUNK_CHANNELS', 'channels'],
  ['TRUNK_CPS', 'cps'],
  ['TRUNK_OUTBOUND_PROXY', 'outboundProxy'],
  ['TRUNK_REGISTER', 'register'],
  ['TRUNK_EXPIRES', 'expires'],
  ['TRUNK_SRTP', 'srtp'],
]

type RawTrunk = Record<
  | 'name'
  | 'host'
  | 'username'
  | 'password'
  | 'transport'
  | 'callerId'
  | 'realm'
  | 'domain'
  | 'allowPrefixes'
  | 'channels'
  | 'cps'
  | 'outboundProxy'
  | 'register'
  | 'expires'
  | 'srtp',
  unknown
>

const KNOWN = new Set(TRUNK_ENV.map(([, k]) => k as string))

function bool(v: unknown, where: string): boolean {
  if (typeof v === 'boolean') return v
  const s = String(v).trim().toLowerCase()
  if (['1', 'true', 'yes', 'on'].includes(s)) return true
  if (['0', 'false', 'no', 'off'].includes(s)) return false
  throw new ConfigError(`${where} must be true or false, got ${JSON.stringify(v)}`)
}

function int(v: unknown, where: string, min: number, max: number): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${where} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`)
  return n
}

function trunkFrom(raw: Partial<RawTrunk>, where: string, index: number): TrunkConfig {
  for (const k of Object.keys(raw)) if (!KNOWN.has(k)) throw new ConfigError(`${where}: unknown key "${k}" (known: ${[...KNOWN].join(', ')})`)
  const str = (k: keyof RawTrunk) => (raw[k] === undefined || raw[k] === null ? '' : String(raw[k]).trim())
  if (!str('host')) throw new ConfigError(`${where}: host is required (the registrar/proxy host[:port])`)
  const transport = (str('transport') || 'udp').toLowerCase()
  if (transport !== 'udp' && transport !== 'tcp' && transport !== 'tls')
    throw new ConfigError(`${where}: transport must be udp, tcp or tls, got "${transport}"`)
  let hp: { host: string; port: number }
  try {
    hp = splitHostPort(str('host'))
    if (str('outboundProxy')) splitHostPort(str('outboundProxy'))
  } catch (err) {
    throw new ConfigError(`${where}: ${(err as Error).message}`)
  }
  const username = str('username')
  const register = raw.register === undefined ? username !== '' : bool(raw.register, `${where}.register`)
  if (register && !username) throw new ConfigError(`${where}: register is on but no username is set`)
  const callerId = str('callerId') || username
  const srtp = str('srtp').toLowerCase()
  if (srtp && !(SRTP_POLICIES as readonly string[]).includes(srtp)) throw new ConfigError(`${where}: srtp must be off, optional or required, got "${srtp}"`)
  return {
    name: str('name') || (index === 0 ? 'trunk' : `trunk${index + 1}`),
    host: hp.host,
    port: hp.port,
    transport,
    username,
    password: str('password'),
    realm: str('realm'),
    domain: str('domain') || hp.host,
    callerId,
    allowPrefixes:
      raw.allowPrefixes === undefined ? [] : parsePrefixes(Array.isArray(raw.allowPrefixes) ? (raw.allowPrefixes as string[]) : String(raw.allowPrefixes)),
    channels: raw.channels === undefined ? 0 : int(raw.channels, `${where}.channels`, 0, 100000),
    cps: raw.cps === undefined ? 0 : int(raw.cps, `${where}.cps`, 0, 10000),
    outboundProxy: str('outboundProxy'),
    register,
    // RFC 3261 §10.2.1.1 has no floor, but registrars refuse below 60 (423); a day is plenty.
    expires: raw.expires === undefined ? DEFAULT_EXPIRES : int(raw.expires, `${where}.expires`, 30, 86400),
    ...(srtp && { srtp: srtp as SrtpPolicy }),
  }
}

/** The trunks: the file's list, then (when TRUNK_HOST is set) the one from the environment, replacing a file entry of the same name. */
export function parseTrunks(section: unknown, env: NodeJS.ProcessEnv): TrunkConfig[] {
  if (section !== undefined && !Array.isArray(section)) throw new ConfigError('config file: "trunks" must be a list of trunk objects')
  const list = ((section as unknown[] | undefined) ?? []).map((t, i) => {
    if (!t || typeof t !== 'object' || Array.isArray(t)) throw new ConfigError(`trunks[${i}] must be an object`)
    return trunkFrom(t as Partial<RawTrunk>, `trunks[${i}]`, i)
  })
  if (env.TRUNK_HOST) {
    const raw: Partial<RawTrunk> = {}
    for (const [name, key] of TRUNK_ENV) if (env[name] !== undefined && env[name] !== '') raw[key] = env[name]
    const t = trunkFrom(raw, 'TRUNK_* variables', 0)
    const same = list.findIndex((x) => x.name === t.name)
    if (same >= 0) list[same] = t
    else list.unshift(t)
  }
  const names = new Set<string>()
  for (const t of list) {
    if (names.has(t.name)) throw new ConfigError(`two trunks are named "${t.name}"`)
    names.add(t.name)
  }
  return list
}

/**
 * SRTP for a call by its source address: the `srtp` of the trunk the address belongs to (the trust
 * list names trunks' addresses `trunk:<name>`), else SRTP.
 */
export function srtpPolicyFor(
  cfg: { srtp: SrtpPolicy; trunks: TrunkConfig[] },
  trustSource: (address: string) => string | undefined,
): (address: string) => SrtpPolicy {
  return (address) => {
    const source = trustSource(address)
    return cfg.trunks.find((t) => source === `trunk:${t.name}`)?.srtp ?? cfg.srtp
  }
}

export function parseOutbound(section: unknown, env: NodeJS.ProcessEnv): OutboundConfig {
  if (section !== undefined && (!section || typeof section !== 'object' || Array.isArray(section)))
    throw new ConfigError('config file: "outbound" must be an object')
  const s = (section ?? {}) as Record<string, unknown>
  const known = ['allowPrefixes', 'maxCallsPerHour', 'ringTimeoutS']
  for (const k of Object.keys(s)) if (!known.includes(k)) throw new ConfigError(`outbound: unknown key "${k}" (known: ${known.join(', ')})`)
  const prefixes = env.OUTBOUND_ALLOW_PREFIXES ?? s.allowPrefixes
  const cap = env.OUTBOUND_MAX_CALLS_PER_HOUR ?? s.maxCallsPerHour
  const ring = env.OUTBOUND_RING_TIMEOUT_S ?? s.ringTimeoutS
  return {
    allowPrefixes: prefixes === undefined ? [] : parsePrefixes(prefixes as string | string[]),
    maxCallsPerHour: cap === undefined || cap === '' ? DEFAULT_MAX_CALLS_PER_HOUR : int(cap, 'OUTBOUND_MAX_CALLS_PER_HOUR', 0, 1_000_000),
    ringTimeoutS: ring === undefined || ring === '' ? DEFAULT_RING_TIMEOUT_S : int(ring, 'OUTBOUND_RING_TIMEOUT_S', 1, 600),
  }
}
