// A campaign's contacts from the portal's leads (POST /api/campaigns with "fromBitrix24").
import type { ContactInput } from '../../dialer/contact-import.ts'
import { normalizePhone } from '../../dialer/phone-number.ts'
import { BATCH_MAX, type Bitrix24Client, type BatchCommand } from './bitrix24-client.ts'

/** Which leads: every given condition holds; a list means any of its values. */
export interface LeadFilter {
  statusId?: string[]
  sourceId?: string[]
  assignedById?: number[]
  /** created at or after this ISO 8601 time */
  createdFrom?: string
}

export interface LeadSourceResult {
  contacts: ContactInput[]
  /** leads left out: no phone number that is one */
  errors: Array<{ leadId: string; error: string }>
  /** leads left out because an earlier lead has the same number */
  duplicates: number
  /** leads the filter matched; more than were read when over the cap */
  total: number
  truncated: boolean
}

/** Leads read at most: 200 pages, five requests. */
export const LEAD_CAP = 10_000
/** Bitrix24's page size for list methods. */
const PAGE = 50
const SELECT = ['ID', 'TITLE', 'NAME', 'LAST_NAME', 'COMPANY_TITLE', 'PHONE']

interface LeadRow {
  ID: string
  TITLE?: string | null
  NAME?: string | null
  LAST_NAME?: string | null
  COMPANY_TITLE?: string | null
  PHONE?: Array<{ VALUE?: string }> | null
}

/**
 * The filter from the API's JSON (`{"statusId": "NEW" | [...], "sourceId", "assignedById", "createdFrom"}`);
 * throws a TypeError that names the bad key.
 */
export function parseLeadFilter(v: unknown): LeadFilter {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new TypeError('fromBitrix24.filter must be an object')
  const o = v as Record<string, unknown>
  const known = ['statusId', 'sourceId', 'assignedById', 'createdFrom']
  const unknown = Object.keys(o).find((k) => !known.includes(k))
  if (unknown) throw new TypeError(`fromBitrix24.filter.${unknown} is not a lead filter (${known.join(', ')})`)
  const list = <T>(key: string, ok: (x: unknown) => x is T): T[] | undefined => {
    if (o[key] === undefined) return undefined
    const xs = Array.isArray(o[key]) ? (o[key] as unknown[]) : [o[key]]
    if (!xs.length || !xs.every(ok)) throw new TypeError(`fromBitrix24.filter.${key} must be one value or a non-empty list of them`)
    return xs
  }
  const code = (x: unknown): x is string => typeof x === 'string' && /^[\w:.-]{1,50}$/.test(x)
  const id = (x: unknown): x is number => Number.isInteger(x) && (x as number) > 0
  if (o.createdFrom !== undefined && (typeof o.createdFrom !== 'string' || Number.isNaN(Date.parse(o.createdFrom))))
    throw new TypeError('fromBitrix24.filter.createdFrom must be an ISO 8601 date or time')
  const f: LeadFilter = {
    statusId: list('statusId', code),
    sourceId: list('sourceId', code),
    assignedById: list('assignedById', id),
    createdFrom: o.createdFrom as string | undefined,
  }
  return Object.fromEntries(Object.entries(f).filter(([, x]) => x !== undefined)) as LeadFilter
}

/**
 * The leads the filter matches (oldest first, up to `cap`) as campaign contacts: the first phone
 * number that normalises, the name, and fields leadId (the campaign's outcome goes on that lead),
 * company and title. The first page says how many match; the rest are read 50 pages to a batch
 * request, so 10,000 leads take five requests rather than 200.
 */
export async function leadsForCampaign(
  client: Bitrix24Client,
  filter: LeadFilter,
  opts: { cap?: number; signal?: AbortSignal } = {},
): Promise<LeadSourceResult> {
  const cap = opts.cap ?? LEAD_CAP
  const params = { filter: bitrixFilter(filter), order: { ID: 'ASC' }, select: SELECT }
  const first = await client.page<LeadRow>('crm.lead.list', { ...params, start: 0 }, opts.signal)
  const leads = [...first.rows]
  const wanted = Math.min(first.total, cap)
  const starts: number[] = []
  for (let start = PAGE; first.next !== undefined && start < wanted; start += PAGE) starts.push(start)
  for (let i = 0; i < starts.length; i += BATCH_MAX) {
    const cmd: Record<string, BatchCommand> = Object.fromEntries(
      starts.slice(i, i + BATCH_MAX).map((start) => [`p${start}`, { method: 'crm.lead.list', params: { ...params, start } }]),
    )
    const answer = await client.batch(cmd, opts.signal)
    const failed = Object.entries(answer.errors)[0]
    // a page missing would leave a hole in the list: the whole read fails and can be asked again
    if (failed) throw new Error(`crm.lead.list from ${failed[0].slice(1)}: ${failed[1].error} ${failed[1].error_description ?? ''}`.trim())
    for (const name of Object.keys(cmd)) leads.push(...((answer.result[name] as LeadRow[] | undefined) ?? []))
  }
  return { ...toContacts(leads.slice(0, cap)), total: first.total, truncated: first.total > cap }
}

function bitrixFilter(f: LeadFilter): Record<string, unknown> {
  return {
    ...(f.statusId && { STATUS_ID: f.statusId }),
    ...(f.sourceId && { SOURCE_ID: f.sourceId }),
    ...(f.assignedById && { ASSIGNED_BY_ID: f.assignedById }),
    ...(f.createdFrom && { '>=DATE_CREATE': f.createdFrom }),
  }
}

function toContacts(leads: LeadRow[]): Pick<LeadSourceResult, 'contacts' | 'errors' | 'duplicates'> {
  const out: Pick<LeadSourceResult, 'contacts' | 'errors' | 'duplicates'> = { contacts: [], errors: [], duplicates: 0 }
  const seen = new Set<string>()
  const text = (v: string | null | undefined) => v?.trim() || undefined
  for (const lead of leads) {
    const numbers = (lead.PHONE ?? []).map((p) => p.VALUE ?? '')
    const phone = numbers.map(normalizePhone).find((p) => p !== undefined)
    if (!phone) {
      out.errors.push({ leadId: String(lead.ID), error: numbers.length ? `no valid phone number (${numbers.join(', ')})` : 'no phone number' })
      continue
    }
    if (seen.has(phone)) {
      out.duplicates++
      continue
    }
    seen.add(phone)
    const name = [text(lead.NAME), text(lead.LAST_NAME)].filter(Boolean).join(' ')
    const company = text(lead.COMPANY_TITLE)
    const title = text(lead.TITLE)
    out.contacts.push({
      phone,
      ...(name && { name }),
      fields: { leadId: String(lead.ID), ...(company && { company }), ...(title && { title }) },
    })
  }
  return out
}
