// The body of POST /api/calls, checked before anything is dialled. The target reaches a SIP
// Request-URI and a From header, so only what a number or a plain sip:/sips: URI needs passes:
// no display names, no URI headers (?...), no brackets, quotes or line breaks to inject with.
import type { TrunkConfig } from '../../sip/trunks/trunk.ts'
import type { AmdPolicy } from '../../dialer/amd/amd-screen.ts'

/** One call to place, as the API asked for it. */
export interface OriginateRequest {
  /** what was asked for: the number or URI, as the record's target */
  to: string
  /** the Request-URI of the INVITE */
  uri: string
  /** the trunk a number goes through (a URI may name none) */
  trunk?: string
  /** a loaded scenario file; absent: the default (or the number map's) */
  scenario?: string
  /** From's user part instead of the trunk's caller id */
  callerId?: string
  /** passed with the call to the lead record */
  variables?: Record<string, string | number | boolean>
  /** screen the answer for an answering machine, and what to do with one */
  amd?: AmdPolicy
}

export interface OriginateContext {
  trunks: TrunkConfig[]
  /** the trunk a sip: URI names by its host or domain (the toll-fraud guard's reading) */
  trunkFor(uri: string): TrunkConfig | undefined
  /** the loaded scenario file of this name, with or without .yaml */
  scenarioFile(name: string): string | undefined
}

export type ParsedOriginate = { ok: true; request: OriginateRequest } | { ok: false; error: string }

const KEYS = new Set(['to', 'trunk', 'scenario', 'callerId', 'variables', 'amd'])
const AMD_KEYS = new Set(['onMachine', 'message'])
/** A voicemail message is a sentence or two; TTS says it while the recording runs. */
const MAX_AMD_MESSAGE = 500
/** E.164 and national forms: up to 15 digits, a leading + allowed; visual separators are removed first. */
const NUMBER = /^\+?[0-9]{3,15}$/
const SEPARATORS = /[\s().-]/g
const SIP_URI =
  /^sips?:(?:[A-Za-z0-9+._~-]{1,64}@)?(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?(?:;transport=(?:udp|tcp|tls))?$/i
const VARIABLE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/
const MAX_VARIABLES = 50
const MAX_VALUE = 1000

export function parseOriginate(body: unknown, ctx: OriginateContext): ParsedOriginate {
  const fail = (error: string): ParsedOriginate => ({ ok: false, error })
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return fail('the body must be a JSON object')
  const b = body as Record<string, unknown>
  const unknown = Object.keys(b).filter((k) => !KEYS.has(k))
  if (unknown.length) return fail(`unknown field(s): ${unknown.slice(0, 5).join(', ')}`)
  if (typeof b.to !== 'string' || !b.to.trim()) return fail('"to" must be a phone number or a sip:/sips: URI')
  if (b.to.length > 256) return fail('"to" is too long')
  for (const k of ['trunk', 'scenario', 'callerId'] as const) {
    if (b[k] !== undefined && (typeof b[k] !== 'string' || !b[k])) return fail(`"${k}" must be a non-empty string`)
  }
  const trunkName = b.trunk as string | undefined
  const named = trunkName === undefined ? undefined : ctx.trunks.find((t) => t.name === trunkName)
  if (trunkName !== undefined && !named) return fail(`no trunk named ${JSON.stringify(trunkName.slice(0, 64))}`)

  const to = b.to.trim()
  let uri: string
  let trunk: TrunkConfig | undefined
  if (/^sips?:/i.test(to)) {
    if (!SIP_URI.test(to)) return fail('"to" is not a plain sip:/sips: URI (user@host[:port], no headers or other parameters)')
    uri = to
    trunk = ctx.trunkFor(uri)
    if (named && trunk?.name !== named.name) return fail(`"to" does not name trunk ${named.name}'s host or domain`)
  } else {
    const number = to.replace(SEPARATORS, '')
    if (!NUMBER.test(number)) return fail('"to" must be a phone number (3-15 digits, optionally with a leading +) or a sip:/sips: URI')
    trunk = named ?? ctx.trunks[0]
    if (!trunk) return fail('no trunk is configured to dial a number through: give a sip: URI, or configure TRUNK_HOST')
    uri = `sip:${number}@${trunk.domain}`
  }

  let scenario: string | undefined
  if (b.scenario !== undefined) {
    scenario = ctx.scenarioFile(b.scenario as string)
    if (!scenario) return fail(`no scenario ${JSON.stringify((b.scenario as string).slice(0, 64))}`)
  }
  const callerId = b.callerId as string | undefined
  if (callerId !== undefined && !NUMBER.test(callerId)) return fail('"callerId" must be a phone number (3-15 digits, optionally with a leading +)')

  let variables: OriginateRequest['variables']
  if (b.variables !== undefined) {
    const v = b.variables
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail('"variables" must be an object')
    const entries = Object.entries(v)
    if (entries.length > MAX_VARIABLES) return fail(`"variables" may hold at most ${MAX_VARIABLES} fields`)
    for (const [k, val] of entries) {
      if (!VARIABLE.test(k)) return fail(`variable name ${JSON.stringify(k.slice(0, 64))} is not an identifier`)
      const ok = (typeof val === 'string' && val.length <= MAX_VALUE) || typeof val === 'boolean' || (typeof val === 'number' && Number.isFinite(val))
      if (!ok) return fail(`variable ${k} must be a string (up to ${MAX_VALUE} characters), a number or a boolean`)
    }
    variables = Object.fromEntries(entries) as OriginateRequest['variables']
  }
  const amd = parseAmdPolicy(b.amd)
  if (typeof amd === 'string') return fail(amd)
  return {
    ok: true,
    request: {
      to,
      uri,
      ...(trunk && { trunk: trunk.name }),
      ...(scenario && { scenario }),
      ...(callerId && { callerId }),
      ...(variables && { variables }),
      ...(amd && { amd }),
    },
  }
}

/** The "amd" field of a call or a campaign: undefined when absent, a string saying what is wrong. */
export function parseAmdPolicy(a: unknown): AmdPolicy | undefined | string {
  if (a === undefined) return undefined
  if (typeof a !== 'object' || a === null || Array.isArray(a))
    return '"amd" must be an object: {"onMachine": "hangup"} or {"onMachine": "message", "message": "..."}'
  const extra = Object.keys(a).filter((k) => !AMD_KEYS.has(k))
  if (extra.length) return `unknown field(s) in "amd": ${extra.slice(0, 5).join(', ')}`
  const { onMachine, message } = a as Record<string, unknown>
  if (onMachine !== 'hangup' && onMachine !== 'message') return '"amd.onMachine" must be "hangup" or "message"'
  if (onMachine === 'message' && (typeof message !== 'string' || !message.trim() || message.length > MAX_AMD_MESSAGE))
    return `"amd.message" must be the text to leave (1-${MAX_AMD_MESSAGE} characters) when "onMachine" is "message"`
  if (onMachine === 'hangup' && message !== undefined) return '"amd.message" is only said when "onMachine" is "message"'
  return onMachine === 'message' ? { onMachine, message: (message as string).trim() } : { onMachine }
}
