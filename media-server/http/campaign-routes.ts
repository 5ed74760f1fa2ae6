import type http from 'node:http'
import { randomUUID } from 'node:crypto'
import { pageOf } from './paging.ts'
import type { Logger } from 'pino'
import { stringify } from 'csv-stringify/sync'
import { parseCampaign, type CampaignContext } from '../../dialer/campaign-request.ts'
import {
  CONTACT_STATES,
  TRANSITIONS,
  type CampaignAction,
  type CampaignStore,
  type Contact,
  type ContactState,
  type NewContact,
} from '../../dialer/campaign-store.ts'
import { importContactsCsv, importContactsJson, type ContactInput } from '../../dialer/contact-import.ts'
import { normalizePhone } from '../../dialer/phone-number.ts'
import { describePolicy, parseRetryPolicy } from '../../dialer/retry-policy.ts'
import { timeZoneOfNumber } from '../../dialer/number-region.ts'
import { readBody } from './read-body.ts'
import { leadsForCampaign, parseLeadFilter, type LeadFilter } from '../../crm/bitrix24/lead-source.ts'
import type { Bitrix24Client } from '../../crm/bitrix24/bitrix24-client.ts'

/** Handles /api/campaigns and /api/do-not-call and says so. */
export type CampaignRoutes = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => Promise<boolean>

export interface CampaignRoutesDeps {
  store: CampaignStore
  ctx: CampaignContext
  logger: Logger
  maxUploadBytes: number
  /** a campaign was started or resumed: the dialer looks at once instead of at its next tick */
  kick?: () => void
  /** the Bitrix24 portal the contacts of `"fromBitrix24"` are read from; none: Bitrix24 is not configured */
  leads?: Bitrix24Client
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
/** The results export: one row per contact, its custom fields after these. */
const EXPORT_COLUMNS = [
  'phone',
  'name',
  'state',
  'attempts',
  'last_result',
  'last_status',
  'last_amd',
  'last_rule',
  'outcome',
  'last_call_id',
  'consent',
  'time_zone',
  'zone_source',
  'updated_at',
] as const
const PAGE = 1000
const LIST_PAGE = { default: 100, max: PAGE }
/** campaigns per page: each is listed with its contacts' counts, a query of its own */
const CAMPAIGN_PAGE = { default: 100, max: 500 }

/** The zone a contact is called in: its own, else its number's region, else the campaign's. */
export function placeContact(c: ContactInput, defaultZone: string): NewContact {
  const own = c.timeZone
  const byNumber = own ? undefined : timeZoneOfNumber(c.phone)
  return {
    phone: c.phone,
    ...(c.name && { name: c.name }),
    timeZone: own ?? byNumber?.zone ?? defaultZone,
    zoneSource: own ? 'contact' : (byNumber?.source ?? 'default'),
    ...((c.region ?? byNumber?.region) && { region: c.region ?? byNumber?.region }),
    ...(c.consent !== undefined && { consent: c.consent }),
    fields: c.fields,
  }
}

/**
 * The campaign API: create (JSON with `contacts` or `csv`, or a text/csv upload with the settings
 * in the query string), list, one campaign with its counts, start/pause/resume/stop, contacts
 * (add, page through), the results as CSV; and the do-not-call list.
 */
export function createCampaignRoutes(deps: CampaignRoutesDeps): CampaignRoutes {
  const { store } = deps
  return async (req, res, url) => {
    const path = url.pathname
    if (path === '/api/do-not-call' || path.startsWith('/api/do-not-call/')) return (await doNotCall(deps, req, res, url), true)
    if (path !== '/api/campaigns' && !path.startsWith('/api/campaigns/')) return false
    const parts = path.split('/').slice(3) // [id, sub]
    if (!parts.length) {
      if (req.method === 'GET') {
        const campaigns = await store.list(pageOf(url, CAMPAIGN_PAGE).limit)
        const withCounts = await Promise.all(campaigns.map(async (c) => ({ ...c, contacts: await store.counts(c.id) })))
        return (json(res, 200, { campaigns: withCounts }), true)
      }
      if (req.method === 'POST') return (await create(deps, req, res, url), true)
      return (methodNotAllowed(res, 'GET, POST'), true)
    }
    const [id, sub, ...rest] = parts
    if (!UUID.test(id) || rest.length) return (json(res, 404, { error: 'not found' }), true)
    const campaign = await store.get(id)
    if (!campaign) return (json(res, 404, { error: `no campaign ${id}` }), true)
    if (sub === undefined) {
      if (req.method !== 'GET') return (methodNotAllowed(res, 'GET'), true)
      // the retry table as this campaign applies it: defaults merged with its overrides, in match order
      const retryTable = describePolicy(parseRetryPolicy(campaign.retryPolicy))
      return (json(res, 200, { ...campaign, contacts: await store.counts(id), retryTable }), true)
    }
    if (sub in TRANSITIONS) {
      if (req.method !== 'POST') return (methodNotAllowed(res, 'POST'), true)
      req.resume()
      const after = await store.transition(id, sub as CampaignAction, new Date())
      if (!after) return (json(res, 409, { error: `cannot ${sub} a campaign that is ${campaign.state}`, state: campaign.state }), true)
      deps.logger.info({ campaignId: id, action: sub, state: after.state }, 'campaign state changed')
      if (after.state === 'running') deps.kick?.()
      return (json(res, 200, after), true)
    }
    if (sub === 'contacts') {
      if (req.method === 'GET') {
        const state = url.searchParams.get('state')
        if (state !== null && !CONTACT_STATES.includes(state as ContactState))
          return (json(res, 400, { error: `state must be one of ${CONTACT_STATES.join(', ')}` }), true)
        const { limit } = pageOf(url, LIST_PAGE)
        const contacts = await store.contacts(id, {
          state: (state as ContactState | null) ?? undefined,
          limit,
          afterId: url.searchParams.get('after') ?? undefined,
        })
        return (json(res, 200, { contacts, next: contacts.length === limit ? contacts[contacts.length - 1].id : null }), true)
      }
      if (req.method !== 'POST') return (methodNotAllowed(res, 'GET, POST'), true)
      if (campaign.state === 'stopped' || campaign.state === 'finished') return (json(res, 409, { error: `the campaign is ${campaign.state}` }), true)
      const got = await readContacts(deps, req, res)
      if (!got) return true
      withConsent(got, campaign.requireConsent)
      const added = await store.addContacts(
        id,
        got.contacts.map((c) => placeContact(c, campaign.defaultTimeZone)),
        new Date(),
      )
      return (json(res, 200, { added, errors: got.errors, duplicates: got.duplicates + got.contacts.length - added }), true)
    }
    if (sub === 'results.csv') {
      if (req.method !== 'GET') return (methodNotAllowed(res, 'GET'), true)
      await exportResults(store, id, res)
      return true
    }
    return (json(res, 404, { error: 'not found' }), true)
  }
}

function methodNotAllowed(res: http.ServerResponse, allow: string): void {
  res.setHeader('allow', allow)
  json(res, 405, { error: 'method not allowed' })
}

interface ReadContacts {
  contacts: ContactInput[]
  /** a CSV line or JSON item (line), or a lead (leadId), left out */
  errors: Array<{ line?: number; leadId?: string; error: string }>
  duplicates: number
  /** the JSON body's other fields (the campaign's settings) */
  fields: Record<string, unknown>
}

/**
 * A text/csv body, or a JSON object with `contacts` (an array), `csv` (the text) or `fromBitrix24`
 * (`{"filter": {...}}`: the portal's leads); null once answered.
 */
async function readContacts(deps: CampaignRoutesDeps, req: http.IncomingMessage, res: http.ServerResponse): Promise<ReadContacts | null> {
  const raw = await readBody(req, deps.maxUploadBytes)
  if (!raw) return (json(res, 413, { error: `body larger than ${deps.maxUploadBytes} bytes` }), null)
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase()
  let input: string | unknown[] = raw.toString('utf8')
  let fields: Record<string, unknown> = {}
  if (type !== 'text/csv') {
    let body: unknown
    try {
      body = JSON.parse(input)
    } catch {
      return (json(res, 400, { error: 'the body is neither JSON nor text/csv' }), null)
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return (json(res, 400, { error: 'the body must be a JSON object' }), null)
    const { contacts, csv, fromBitrix24, ...rest } = body as Record<string, unknown>
    if ([contacts, csv, fromBitrix24].filter((x) => x !== undefined).length !== 1)
      return (json(res, 400, { error: 'give the contacts as "contacts" (a list), "csv" (text) or "fromBitrix24" (a lead filter), one of the three' }), null)
    if (fromBitrix24 !== undefined) return fromLeads(deps, fromBitrix24, rest, res)
    if (contacts !== undefined && !Array.isArray(contacts)) return (json(res, 400, { error: '"contacts" must be a list' }), null)
    if (csv !== undefined && typeof csv !== 'string') return (json(res, 400, { error: '"csv" must be the CSV text' }), null)
    input = (contacts as unknown[] | undefined) ?? (csv as string)
    fields = rest
  }
  try {
    return { ...(typeof input === 'string' ? importContactsCsv(input) : importContactsJson(input)), fields }
  } catch (err) {
    return (json(res, 400, { error: (err as Error).message }), null)
  }
}

/** `"fromBitrix24": {"filter": {...}}`: the leads the filter matches, read from the portal now. */
async function fromLeads(deps: CampaignRoutesDeps, from: unknown, fields: Record<string, unknown>, res: http.ServerResponse): Promise<ReadContacts | null> {
  if (!deps.leads) return (json(res, 400, { error: '"fromBitrix24": Bitrix24 is not configured (BITRIX24_WEBHOOK_URL or BITRIX24_PORTAL)' }), null)
  let filter: LeadFilter
  try {
    const keys = typeof from === 'object' && from !== null && !Array.isArray(from) ? Object.keys(from) : []
    if (keys.some((k) => k !== 'filter')) throw new TypeError('"fromBitrix24" must be {"filter": {...}}')
    filter = parseLeadFilter((from as { filter?: unknown }).filter ?? {})
  } catch (err) {
    return (json(res, 400, { error: (err as Error).message }), null)
  }
  try {
    const got = await leadsForCampaign(deps.leads, filter)
    if (got.truncated) deps.logger.warn({ total: got.total, read: got.contacts.length }, 'more leads match than a campaign takes from the portal')
    return { contacts: got.contacts, errors: got.errors, duplicates: got.duplicates, fields }
  } catch (err) {
    deps.logger.warn({ err }, 'the leads could not be read from Bitrix24')
    return (json(res, 502, { error: `the leads could not be read from Bitrix24: ${(err as Error).message}` }), null)
  }
}

async function create(deps: CampaignRoutesDeps, req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
  const csvUpload = (req.headers['content-type'] ?? '').toLowerCase().startsWith('text/csv')
  const got = await readContacts(deps, req, res)
  if (!got) return
  // a CSV upload carries the settings in the query string; JSON values (a window, a policy) as JSON text
  const settings = csvUpload ? Object.fromEntries([...url.searchParams].map(([k, v]) => [k, /^[{[]/.test(v) ? safeJson(v) : v])) : got.fields
  const parsed = parseCampaign(settings, deps.ctx)
  if (!parsed.ok) return json(res, 400, { error: parsed.error })
  withConsent(got, parsed.campaign.requireConsent)
  if (!got.contacts.length) return json(res, 400, { error: 'no contact to call', errors: got.errors.slice(0, 100) })
  const id = randomUUID()
  const contacts = got.contacts.map((c) => placeContact(c, parsed.campaign.defaultTimeZone))
  const { campaign, added } = await deps.store.create({ id, ...parsed.campaign }, contacts, new Date())
  deps.logger.info({ campaignId: id, name: campaign.name, added, rejected: got.errors.length }, 'campaign created')
  json(res, 201, { ...campaign, added, errors: got.errors.slice(0, 100), rejected: got.errors.length, duplicates: got.duplicates })
}

/** A campaign that requires consent takes only contacts whose consent is recorded; the rest are row errors. */
function withConsent(got: ReadContacts, required: boolean): void {
  if (!required) return
  const without = got.contacts.filter((c) => c.consent !== true)
  got.contacts = got.contacts.filter((c) => c.consent === true)
  for (const c of without)
    got.errors.push({
      ...(c.fields.leadId ? { leadId: c.fields.leadId } : {}),
      error: `${c.phone}: ${c.consent === false ? 'refused consent' : 'no consent recorded'}`,
    })
}

function safeJson(v: string): unknown {
  try {
    return JSON.parse(v)
  } catch {
    return v
  }
}

/** One row per contact, page by page, so a campaign of 100,000 contacts is never held whole. */
async function exportResults(store: CampaignStore, id: string, res: http.ServerResponse): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="campaign-${id}.csv"` })
  let page: Contact[] = await store.contacts(id, { limit: PAGE })
  const custom = [...new Set(page.flatMap((c) => Object.keys(c.fields)))]
  res.write(stringify([[...EXPORT_COLUMNS, ...custom]]))
  while (page.length) {
    const rows = page.map((c) => [
      c.phone,
      c.name ?? '',
      c.state,
      c.attempts,
      c.lastResult ?? '',
      c.lastStatus ?? '',
      c.lastAmd ?? '',
      c.lastRule ?? '',
      c.outcome ?? '',
      c.lastCallId ?? '',
      c.consent === undefined ? '' : c.consent ? 'yes' : 'no',
      c.timeZone,
      c.zoneSource,
      c.updatedAt,
      ...custom.map((k) => c.fields[k] ?? ''),
    ])
    if (!res.write(stringify(rows))) await new Promise((r) => res.once('drain', r))
    if (page.length < PAGE) break
    page = await store.contacts(id, { limit: PAGE, afterId: page[page.length - 1].id })
  }
  res.end()
}

async function doNotCall(deps: CampaignRoutesDeps, req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
  const phone = normalizePhone(decodeURIComponent(url.pathname.slice('/api/do-not-call/'.length)))
  if (url.pathname === '/api/do-not-call') {
    if (req.method === 'GET') {
      const { limit, offset } = pageOf(url, LIST_PAGE)
      return json(res, 200, { numbers: await deps.store.doNotCallList(limit, offset) })
    }
    if (req.method !== 'POST') return methodNotAllowed(res, 'GET, POST')
    const raw = await readBody(req, 64 * 1024)
    let body: { phone?: unknown; reason?: unknown } = {}
    try {
      body = JSON.parse(raw?.toString('utf8') ?? '')
    } catch {
      return json(res, 400, { error: 'the body must be JSON {"phone", "reason"?}' })
    }
    // the form the campaigns keep (+7 for Russian numbers), so the list and the contacts compare equal
    const number = typeof body.phone === 'string' ? normalizePhone(body.phone) : undefined
    if (!number) return json(res, 400, { error: '"phone" must be a phone number (3-15 digits, optionally with a leading +)' })
    const reason = typeof body.reason === 'string' && body.reason.trim() ? body.reason.trim().slice(0, 500) : 'added by an operator'
    const added = await deps.store.addDoNotCall(number, reason, new Date())
    return json(res, added ? 201 : 200, { phone: number, added })
  }
  if (req.method !== 'DELETE') return methodNotAllowed(res, 'DELETE')
  if (!phone) return json(res, 404, { error: 'not found' })
  return (await deps.store.removeDoNotCall(phone)) ? json(res, 200, { phone, removed: true }) : json(res, 404, { error: `${phone} is not on the list` })
}
