// The settings of POST /api/campaigns, checked before anything is stored: a campaign that is
// stored can be run (its window, policy, trunks and scenario are known good).
import type { TrunkConfig } from '../sip/trunks/trunk.ts'
import { DEFAULT_WINDOW, parseCallingWindow } from './calling-window.ts'
import { parseAmdPolicy } from '../media-server/call/originate-request.ts'
import type { NewCampaign } from './campaign-store.ts'
import { parseRetryPolicy } from './retry-policy.ts'

export interface CampaignContext {
  trunks: TrunkConfig[]
  /** the loaded scenario file of this name, with or without .yaml */
  scenarioFile(name: string): string | undefined
}

/** The fields of a campaign; the contacts come in the same body (JSON or CSV) or later. */
const KEYS = new Set(['name', 'trunks', 'scenario', 'callerId', 'maxConcurrent', 'callingWindow', 'timeZone', 'retryPolicy', 'amd', 'requireConsent'])
const NUMBER = /^\+?[0-9]{3,15}$/
const MAX_CONCURRENT = 1000
export const DEFAULT_TIME_ZONE = 'Europe/Moscow'

export type ParsedCampaign = { ok: true; campaign: Omit<NewCampaign, 'id'> } | { ok: false; error: string }

export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone })
    return true
  } catch {
    return false
  }
}

/** `body`: the JSON fields (without `contacts`/`csv`), or the query string's for a CSV upload. */
export function parseCampaign(body: Record<string, unknown>, ctx: CampaignContext): ParsedCampaign {
  const fail = (error: string): ParsedCampaign => ({ ok: false, error })
  const unknown = Object.keys(body).filter((k) => !KEYS.has(k))
  if (unknown.length) return fail(`unknown field(s): ${unknown.slice(0, 5).join(', ')}`)
  const name = body.name
  if (typeof name !== 'string' || !name.trim() || name.length > 200) return fail('"name" must be a non-empty string of at most 200 characters')

  const trunks = body.trunks === undefined ? [] : typeof body.trunks === 'string' ? body.trunks.split(',') : body.trunks
  if (!Array.isArray(trunks) || trunks.some((t) => typeof t !== 'string')) return fail('"trunks" must be a list of trunk names')
  for (const t of trunks as string[]) if (!ctx.trunks.some((c) => c.name === t)) return fail(`no trunk named ${JSON.stringify(t.slice(0, 64))}`)
  if (!trunks.length && !ctx.trunks.length) return fail('no trunk is configured to call through: configure TRUNK_HOST or trunks in the config file')

  let scenario: string | null = null
  if (body.scenario !== undefined) {
    if (typeof body.scenario !== 'string' || !(scenario = ctx.scenarioFile(body.scenario) ?? null))
      return fail(`no scenario ${JSON.stringify(String(body.scenario).slice(0, 64))}`)
  }
  const callerId = body.callerId
  if (callerId !== undefined && (typeof callerId !== 'string' || !NUMBER.test(callerId)))
    return fail('"callerId" must be a phone number (3-15 digits, optionally with a leading +)')

  const maxConcurrent = Number(body.maxConcurrent ?? 1)
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1 || maxConcurrent > MAX_CONCURRENT)
    return fail(`"maxConcurrent" must be a whole number from 1 to ${MAX_CONCURRENT}`)

  const timeZone = body.timeZone ?? DEFAULT_TIME_ZONE
  if (typeof timeZone !== 'string' || !isTimeZone(timeZone)) return fail(`"timeZone" must be an IANA time zone such as Europe/Moscow`)

  const callingWindow = body.callingWindow ?? DEFAULT_WINDOW
  const retryPolicy = body.retryPolicy ?? {}
  try {
    parseCallingWindow(callingWindow)
  } catch (err) {
    return fail(`"callingWindow": ${(err as Error).message}`)
  }
  try {
    parseRetryPolicy(retryPolicy)
  } catch (err) {
    return fail(`"retryPolicy": ${(err as Error).message}`)
  }
  const amd = parseAmdPolicy(body.amd)
  if (typeof amd === 'string') return fail(amd)
  // a CSV upload's settings come from the query string, where a flag is text
  const requireConsent = body.requireConsent ?? false
  if (![true, false, 'true', 'false'].includes(requireConsent as boolean | string)) return fail('"requireConsent" must be true or false')
  return {
    ok: true,
    campaign: {
      name: name.trim(),
      trunks: trunks as string[],
      scenario,
      callerId: (callerId as string | undefined) ?? null,
      maxConcurrent,
      callingWindow,
      defaultTimeZone: timeZone,
      retryPolicy,
      amd: amd ?? null,
      requireConsent: requireConsent === true || requireConsent === 'true',
    },
  }
}
