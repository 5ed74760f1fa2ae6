import http from 'node:http'
import type { AddressInfo } from 'node:net'

/** A refusal as Bitrix24 sends it: HTTP status and `{"error", "error_description"}`. */
export interface PortalFault {
  status: number
  error: string
  description: string
  /** OPERATION_TIME_LIMIT: the Unix time (s) sent as time.operating_reset_at */
  resetAt?: number
}
/**
 * A refusal; 'lose': do it, then drop the connection; 'stall': do it and never answer (the client
 * times out); 'expire': the access tokens expire just before this request; 'ok': answer normally.
 */
export type Fault = PortalFault | 'lose' | 'stall' | 'expire' | 'ok'

type Lead = Record<string, unknown> & { ID: number }
/** next/total: a list method's paging (`start` of the next page, the count of all matches) */
type Outcome = { result: unknown; next?: number; total?: number } | { fault: PortalFault }

/** A list method's page size, as Bitrix24 fixes it. */
export const PAGE = 50

export const WEBHOOK_PATH = '/rest/1/abc123secret/'
export const CLIENT_ID = 'local.app.1'
export const CLIENT_SECRET = 'app-secret'

/**
 * A test portal speaking Bitrix24's REST wire protocol over a socket (a test helper, not product
 * code): `POST /rest/1/<code>/<method>.json` (inbound webhook) or `POST /rest/<method>.json` with
 * `auth` (application), JSON bodies, `{"result": ..., "time": {...}}` or `{"error",
 * "error_description"}` with the documented status; `batch` with `cmd` query strings, `$result[...]`
 * references and `result_error`; and the OAuth server's `GET /oauth/token/` with rotating refresh
 * tokens (a spent one gets `invalid_grant`).
 */
export class FakePortal {
  readonly leads: Lead[] = []
  /** contacts and companies (a test puts them here, with PHONE as Bitrix24 keeps it) and deals */
  readonly contacts: Lead[] = []
  readonly companies: Lead[] = []
  readonly deals: Lead[] = []
  readonly todos: Array<{
    ID: number
    OWNER_TYPE_ID: number
    OWNER_ID: number
    PROVIDER_ID: string
    DESCRIPTION: string
    DEADLINE: string
    RESPONSIBLE_ID: number
    SUBJECT: string
  }> = []
  readonly comments: Array<{ ID: number; ENTITY_ID: number; ENTITY_TYPE: string; COMMENT: string }> = []
  /** telephony.externalCall.*: the portal's calls, by its CALL_ID */
  readonly phoneCalls = new Map<string, { params: Record<string, any>; finish?: Record<string, any>; records: string[] }>()
  /** every HTTP request: its method (`batch` for a batch), and the commands in a batch */
  readonly calls: Array<{ method: string; at: number; commands?: string[] }> = []
  /** answers to give before the real one, by method (`batch` for a whole batch request) */
  readonly faults: Record<string, Fault[]> = {}
  /** OAuth: the live access tokens, the one refresh token that works, and how many refreshes */
  private accessTokens = new Set<string>()
  refreshToken = 'rt-0'
  refreshes = 0
  /** requests refused with expired_token (they did nothing) */
  expiredRefusals = 0
  private tokenSeq = 0
  private server = http.createServer((req, res) => void this.handle(req, res))
  port = 0

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r))
    this.port = (this.server.address() as AddressInfo).port
  }
  stop(): Promise<void> {
    this.server.closeAllConnections()
    return new Promise((r) => this.server.close(() => r()))
  }
  get origin(): string {
    return `http://127.0.0.1:${this.port}`
  }
  get url(): string {
    return `${this.origin}${WEBHOOK_PATH}`
  }
  get oauthUrl(): string {
    return `${this.origin}/oauth/token/`
  }
  /**
   * The application installed on this portal: fresh tokens, as the ONAPPINSTALL event's form fields
   * (`event`, `auth[...]`) Bitrix24 POSTs to the application's handler URL.
   */
  install(applicationToken = 'app-token-1'): Record<string, string> {
    const n = ++this.tokenSeq
    this.refreshToken = `rt-${n}`
    this.accessTokens.add(`at-${n}`)
    return {
      event: 'ONAPPINSTALL',
      'data[VERSION]': '1',
      'data[LANGUAGE_ID]': 'ru',
      ts: String(Math.floor(Date.now() / 1000)),
      'auth[access_token]': `at-${n}`,
      'auth[expires]': String(Math.floor(Date.now() / 1000) + 3600),
      'auth[expires_in]': '3600',
      'auth[scope]': 'crm,telephony',
      'auth[domain]': `127.0.0.1:${this.port}`,
      'auth[server_endpoint]': 'https://oauth.bitrix.info/rest/',
      'auth[status]': 'L',
      'auth[client_endpoint]': `${this.origin}/rest/`,
      'auth[member_id]': 'fake-member',
      'auth[user_id]': '1',
      'auth[refresh_token]': this.refreshToken,
      'auth[application_token]': applicationToken,
    }
  }

  /** every access token issued so far is refused with expired_token from now on */
  expireTokens(): void {
    this.accessTokens.clear()
  }
  /** commands run, by method, over all requests (batched or not) */
  count(method: string): number {
    return this.calls.reduce((n, c) => n + (c.commands ?? [c.method]).filter((m) => m === method).length, 0)
  }

  private send(res: http.ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
  }
  private refuse(res: http.ServerResponse, f: PortalFault): void {
    this.send(res, f.status, {
      error: f.error,
      error_description: f.description,
      ...(f.resetAt !== undefined && { time: { start: Date.now() / 1000, operating_reset_at: f.resetAt } }),
    })
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let raw = ''
    for await (const c of req) raw += c
    const url = new URL(req.url ?? '/', this.origin)
    if (url.pathname === '/oauth/token/') return this.token(url.searchParams, res)
    const m = /^\/rest\/(?:1\/abc123secret\/)?([\w.]+)\.json$/.exec(url.pathname)
    if (!m) return this.send(res, 401, { error: 'INVALID_CREDENTIALS', error_description: 'Invalid request credentials' })
    const p = JSON.parse(raw || '{}') as Record<string, unknown>
    const method = m[1]
    let fault = this.faults[method]?.shift()
    if (fault === 'expire') this.expireTokens()
    if (!url.pathname.startsWith(WEBHOOK_PATH)) {
      if (typeof p.auth !== 'string') return this.send(res, 401, { error: 'NO_AUTH_FOUND', error_description: 'Wrong authorization data' })
      if (!this.accessTokens.has(p.auth)) {
        this.expiredRefusals++
        return this.send(res, 401, { error: 'expired_token', error_description: 'The access token provided has expired.' })
      }
    }
    const entry: { method: string; at: number; commands?: string[] } = { method, at: Date.now() }
    this.calls.push(entry)
    if (fault === 'expire' || fault === 'ok') fault = undefined
    if (fault && typeof fault === 'object') return this.refuse(res, fault)
    let lose: 'lose' | 'stall' | undefined = fault
    let result: unknown
    let paging = {}
    if (method === 'batch') {
      const out: Record<string, unknown> = {}
      const errors: Record<string, { error: string; error_description: string }> = {}
      const totals: Record<string, number> = {}
      const nexts: Record<string, number> = {}
      entry.commands = []
      for (const [name, line] of Object.entries(p.cmd as Record<string, string>)) {
        const [inner, query = ''] = line.split('?', 2) as [string, string?]
        entry.commands.push(inner)
        const f = this.faults[inner]?.shift()
        if (f === 'lose' || f === 'stall') lose = f
        const o: Outcome = f && typeof f === 'object' ? { fault: f } : this.exec(inner, resolve(parseQuery(query), out))
        if ('fault' in o) errors[name] = { error: o.fault.error, error_description: o.fault.description }
        else {
          out[name] = o.result
          if (o.total !== undefined) totals[name] = o.total
          if (o.next !== undefined) nexts[name] = o.next
        }
      }
      // PHP's json_encode writes an empty map as []
      const map = (m: Record<string, unknown>) => (Object.keys(m).length ? m : [])
      result = { result: map(out), result_error: map(errors), result_total: map(totals), result_next: map(nexts) }
    } else {
      const o = this.exec(method, p)
      if ('fault' in o) return this.refuse(res, o.fault)
      result = o.result
      paging = { ...(o.next !== undefined && { next: o.next }), ...(o.total !== undefined && { total: o.total }) }
    }
    if (lose === 'lose') req.socket.destroy()
    if (lose) return
    this.send(res, 200, { result, ...paging, time: { start: Date.now() / 1000, operating: 0 } })
  }

  private token(q: URLSearchParams, res: http.ServerResponse): void {
    if (q.get('client_id') !== CLIENT_ID || q.get('client_secret') !== CLIENT_SECRET)
      return this.send(res, 401, { error: 'invalid_client', error_description: 'Invalid client credentials' })
    if (q.get('grant_type') !== 'refresh_token' || q.get('refresh_token') !== this.refreshToken)
      return this.send(res, 400, { error: 'invalid_grant', error_description: 'Invalid grant' })
    this.refreshes++
    const n = ++this.tokenSeq
    this.refreshToken = `rt-${n}`
    const access = `at-${n}`
    this.accessTokens.add(access)
    this.send(res, 200, {
      access_token: access,
      expires_in: 3600,
      scope: 'crm,telephony',
      domain: `127.0.0.1:${this.port}`,
      server_endpoint: `${this.origin}/rest/`,
      status: 'L',
      client_endpoint: `${this.origin}/rest/`,
      member_id: 'fake-member',
      user_id: 1,
      refresh_token: this.refreshToken,
    })
  }

  /** A lead (owner type 1), deal (2), contact (3) or company (4) by id. */
  private owner(typeId: unknown, id: unknown): Lead | undefined {
    const lists: Record<string, Lead[]> = { 1: this.leads, 2: this.deals, 3: this.contacts, 4: this.companies }
    return lists[String(typeId)]?.find((l) => String(l.ID) === String(id))
  }

  /** One method on this portal's records. */
  private exec(method: string, p: Record<string, any>): Outcome {
    switch (method) {
      case 'app.info':
        return { result: { ID: 1, CODE: CLIENT_ID, VERSION: 1, STATUS: 'L', INSTALLED: true, PAYMENT_EXPIRED: 'N', DAYS: null, LICENSE: 'ru_pro' } }
      case 'crm.lead.list':
        return listPage(this.leads, p)
      case 'crm.duplicate.findbycomm': {
        // documented: entity_type one of LEAD, CONTACT, COMPANY; omitted, all three; only the types with matches appear
        const values = Object.values(p.values ?? {}) as string[]
        const all = { LEAD: this.leads, CONTACT: this.contacts, COMPANY: this.companies }
        const types = p.entity_type && p.entity_type in all ? [p.entity_type as keyof typeof all] : (Object.keys(all) as Array<keyof typeof all>)
        const out: Record<string, number[]> = {}
        for (const type of types) {
          const ids = all[type].filter((l) => ((l.PHONE as Array<{ VALUE: string }>) ?? []).some((ph) => values.includes(ph.VALUE))).map((l) => l.ID)
          if (ids.length) out[type] = ids
        }
        return { result: Object.keys(out).length ? out : [] }
      }
      case 'crm.deal.add': {
        const f = p.fields ?? {}
        if (f.CONTACT_ID && !this.contacts.some((c) => String(c.ID) === String(f.CONTACT_ID)))
          return { fault: { status: 400, error: 'ERROR_CORE', description: 'Contact not found' } }
        const deal = { ASSIGNED_BY_ID: 1, STAGE_ID: 'NEW', STAGE_SEMANTIC_ID: 'P', ...f, ID: this.deals.length + 1 }
        this.deals.push(deal)
        return { result: deal.ID }
      }
      case 'crm.deal.list': {
        // filter on a field's value; the answer holds ID and the `select`ed fields (all when none)
        const select = p.select ? (Object.values(p.select) as string[]) : undefined
        const rows = this.deals.filter((d) => Object.entries(p.filter ?? {}).every(([k, v]) => String(d[k] ?? '') === String(v)))
        if (p.order?.ID === 'DESC') rows.reverse()
        return { result: rows.map((d) => (select ? Object.fromEntries(['ID', ...select].map((k) => [k, k === 'ID' ? String(d.ID) : (d[k] ?? null)])) : d)) }
      }
      case 'crm.deal.get': {
        const deal = this.deals.find((d) => String(d.ID) === String(p.id))
        return deal ? { result: deal } : { fault: { status: 400, error: 'ERROR_CORE', description: 'Not found' } }
      }
      case 'crm.deal.update': {
        const deal = this.deals.find((d) => String(d.ID) === String(p.id))
        if (!deal) return { fault: { status: 400, error: 'ERROR_CORE', description: 'Not found' } }
        Object.assign(deal, p.fields)
        return { result: true }
      }
      case 'crm.lead.add': {
        if (!p.fields?.TITLE) return { fault: { status: 400, error: 'ERROR_CORE', description: 'Поле "Название лида" обязательно' } }
        const lead = { ASSIGNED_BY_ID: 1, ...p.fields, PHONE: list(p.fields.PHONE), EMAIL: list(p.fields.EMAIL), ID: this.leads.length + 1 }
        this.leads.push(lead)
        return { result: lead.ID }
      }
      case 'crm.contact.get': {
        const contact = this.contacts.find((c) => String(c.ID) === String(p.id))
        return contact ? { result: contact } : { fault: { status: 400, error: 'ERROR_CORE', description: 'Not found' } }
      }
      case 'crm.lead.get': {
        const lead = this.leads.find((l) => String(l.ID) === String(p.id))
        return lead ? { result: lead } : { fault: { status: 400, error: 'ERROR_CORE', description: 'Not found' } }
      }
      case 'crm.lead.update': {
        const lead = this.leads.find((l) => String(l.ID) === String(p.id))
        if (!lead) return { fault: { status: 400, error: 'ERROR_CORE', description: 'Not found' } }
        Object.assign(lead, p.fields, p.fields?.EMAIL && { EMAIL: list(p.fields.EMAIL) })
        return { result: true }
      }
      case 'crm.activity.todo.add': {
        if (!this.owner(p.ownerTypeId, p.ownerId)) return { fault: { status: 400, error: 'ERROR_CORE', description: 'Owner not found' } }
        const todo = {
          ID: this.todos.length + 1,
          OWNER_TYPE_ID: Number(p.ownerTypeId),
          OWNER_ID: Number(p.ownerId),
          PROVIDER_ID: 'CRM_TODO',
          DESCRIPTION: String(p.description ?? ''),
          DEADLINE: String(p.deadline),
          RESPONSIBLE_ID: Number(p.responsibleId),
          SUBJECT: String(p.title ?? ''),
        }
        this.todos.push(todo)
        return { result: { id: todo.ID } }
      }
      case 'crm.activity.list':
        return {
          result: this.todos
            .filter((a) => Object.entries(p.filter ?? {}).every(([k, v]) => String((a as Record<string, unknown>)[k]) === String(v)))
            .reverse()
            .map((a) => ({ ID: String(a.ID), DESCRIPTION: a.DESCRIPTION })),
        }
      case 'crm.timeline.comment.list':
        return {
          result: this.comments.filter((c) => String(c.ENTITY_ID) === String(p.filter?.ENTITY_ID) && c.ENTITY_TYPE === p.filter?.ENTITY_TYPE),
        }
      case 'crm.timeline.comment.add': {
        const id = Number(p.fields?.ENTITY_ID)
        if (!this.owner({ lead: 1, deal: 2, contact: 3, company: 4 }[String(p.fields?.ENTITY_TYPE)], id))
          return { fault: { status: 400, error: 'ERROR_CORE', description: 'Entity not found' } }
        const c = { ...p.fields, ENTITY_ID: id, ID: this.comments.length + 1 }
        this.comments.push(c)
        return { result: c.ID }
      }
      case 'telephony.externalCall.register': {
        // the same call registered again while not finished gets the same CALL_ID (documented, 30 min)
        const same = [...this.phoneCalls].find(
          ([, c]) => !c.finish && c.params.EXTERNAL_CALL_ID === p.EXTERNAL_CALL_ID && String(c.params.USER_ID) === String(p.USER_ID),
        )
        const id = same?.[0] ?? `externalCall.${this.phoneCalls.size + 1}.${Date.now()}`
        if (!same) this.phoneCalls.set(id, { params: p, records: [] })
        return { result: { CALL_ID: id, CRM_CREATED_LEAD: null, CRM_ENTITY_TYPE: p.CRM_ENTITY_TYPE, CRM_ENTITY_ID: Number(p.CRM_ENTITY_ID) } }
      }
      case 'telephony.externalCall.finish': {
        const c = this.phoneCalls.get(p.CALL_ID)
        if (!c || c.finish) return { fault: { status: 400, error: 'ERROR_CORE', description: 'Call is not found or finished' } }
        c.finish = p
        return { result: { CALL_ID: p.CALL_ID, CALL_DURATION: Number(p.DURATION), CALL_FAILED_CODE: String(p.STATUS_CODE), CRM_ACTIVITY_ID: 1 } }
      }
      case 'telephony.externalCall.attachRecord': {
        const c = this.phoneCalls.get(p.CALL_ID)
        if (!c) return { fault: { status: 400, error: 'ERROR_CORE', description: 'Call is not found' } }
        c.records.push(String(p.FILE_CONTENT ?? ''))
        return { result: { FILE_ID: c.records.length } }
      }
      case 'voximplant.statistic.get': {
        const c = this.phoneCalls.get(p.FILTER?.CALL_ID)
        return { result: c?.finish ? [{ CALL_ID: p.FILTER.CALL_ID, CALL_FAILED_CODE: c.finish.STATUS_CODE, RECORD_FILE_ID: c.records.length ? 1 : null }] : [] }
      }
      default:
        return { fault: { status: 404, error: 'ERROR_METHOD_NOT_FOUND', description: 'Method not found!' } }
    }
  }
}

/**
 * One page of a `*.list` method: `filter` with Bitrix24's key prefixes (`>=DATE_CREATE`, `>ID`, ...;
 * an array value is "any of"), `order` by ID, `select` (ID always; all fields when none), `start`
 * (the offset, 50 a page); `next` while more remain, and `total`.
 */
function listPage(records: Lead[], p: Record<string, any>): Outcome {
  const rows = records.filter((r) => Object.entries(p.filter ?? {}).every(([key, want]) => matches(r, key, want)))
  if (p.order?.ID === 'DESC') rows.reverse()
  const start = Number(p.start ?? 0) || 0
  const select = p.select ? (Object.values(p.select) as string[]) : undefined
  const page = rows.slice(start, start + PAGE).map((r) => (select ? Object.fromEntries(['ID', ...select].map((k) => [k, r[k] ?? null])) : r))
  return { result: page.map((r) => ({ ...r, ID: String(r.ID) })), total: rows.length, ...(start + PAGE < rows.length && { next: start + PAGE }) }
}

function matches(r: Lead, key: string, want: unknown): boolean {
  const [, op = '=', field] = /^(>=|<=|>|<|=|!)?(.+)$/.exec(key)!
  const have = r[field]
  if (typeof want === 'object' && want !== null) return Object.values(want).some((w) => String(have) === String(w))
  const [a, b] = [have, want].map((v) => (/^\d{4}-\d\d-\d\d/.test(String(v)) ? Date.parse(String(v)) : Number(v)))
  const cmp = Number.isNaN(a) || Number.isNaN(b) ? String(have ?? '').localeCompare(String(want)) : a - b
  return { '=': cmp === 0, '!': cmp !== 0, '>': cmp > 0, '<': cmp < 0, '>=': cmp >= 0, '<=': cmp <= 0 }[op]!
}

/** A multi-field (PHONE, EMAIL) from JSON (an array) or a batch query (a map with keys 0, 1, ...). */
function list(v: unknown): unknown[] | undefined {
  return v === undefined ? undefined : Array.isArray(v) ? v : Object.values(v as object)
}

/** A query string as PHP reads it: `a[b][0]=x` becomes `{a: {b: {0: 'x'}}}`. */
export function parseQuery(q: string): Record<string, any> {
  const out: Record<string, any> = {}
  for (const pair of q.split('&').filter(Boolean)) {
    const [k, v = ''] = pair.split('=', 2).map((s) => decodeURIComponent(s.replace(/\+/g, ' ')))
    const keys = k.replace(/\]/g, '').split('[')
    let node = out
    for (const key of keys.slice(0, -1)) node = node[key] ??= {}
    node[keys[keys.length - 1]] = v
  }
  return out
}

/** Replaces `$result[name][key]...` values by what the batch's earlier commands returned. */
function resolve(v: any, results: Record<string, unknown>): any {
  if (typeof v === 'string') {
    const m = /^\$result\[(\w+)\]((?:\[\w+\])*)$/.exec(v)
    if (!m) return v
    let x: any = results[m[1]]
    for (const key of m[2].slice(1, -1).split('][').filter(Boolean)) x = x?.[key]
    return x === undefined ? '' : x
  }
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolve(x, results)]))
  return v
}
