import { Bitrix24Error } from './bitrix24-error.ts'
import type { Bitrix24OAuth } from './bitrix24-oauth.ts'

export { Bitrix24Error } from './bitrix24-error.ts'

/** How requests are authorised: the inbound webhook's URL, or a local application's OAuth token. */
export type Bitrix24Auth = { webhookUrl: string } | { oauth: Bitrix24OAuth }

export interface Bitrix24ClientOptions {
  auth: Bitrix24Auth
  /** BITRIX24_RATE_PER_S: the portal allows 2 requests/s (more on Enterprise) */
  ratePerS?: number
  now?: () => number
}

/** One command of a `batch`; params may hold `$result[<name>]...` references to earlier commands. */
export interface BatchCommand {
  method: string
  params: Record<string, unknown>
}

export interface BatchError {
  error: string
  error_description?: string
}

/** A batch's answers by command name: what succeeded in `result`, what failed in `errors`. */
export interface BatchAnswer {
  result: Record<string, unknown>
  errors: Record<string, BatchError>
}

/** Bitrix24 takes at most 50 commands in one `batch`. */
export const BATCH_MAX = 50
/** after QUERY_LIMIT_EXCEEDED the portal's bucket is full: give it this long to leak */
export const QUERY_LIMIT_PAUSE_MS = 2000

interface Answer {
  result?: unknown
  /** a list method's paging: the next page's `start` (absent on the last page), all matches */
  next?: number
  total?: number
  error?: string
  error_description?: string
  time?: { operating_reset_at?: number }
}

/**
 * A small typed client for Bitrix24's REST API: POST `<base><method>.json` with a JSON body,
 * `{"result": ...}` back, errors as Bitrix24Error. In application mode the access token goes in the
 * body as `auth`; an `expired_token` refusal refreshes it and sends the request once more (a refused
 * request did nothing, so resending it does nothing twice). A leaky bucket spaces requests at
 * 1/ratePerS so the portal never has to refuse them; when it does refuse (QUERY_LIMIT_EXCEEDED, or
 * OPERATION_TIME_LIMIT until its operating_reset_at), the bucket holds every request back.
 */
export class Bitrix24Client {
  private readonly intervalMs: number
  private nextSlot = 0
  /** until when the portal asked us to send nothing (rate refusals) */
  private heldUntil = 0
  private readonly now: () => number

  constructor(private readonly opts: Bitrix24ClientOptions) {
    this.intervalMs = 1000 / (opts.ratePerS ?? 2)
    this.now = opts.now ?? Date.now
  }

  async call<T>(method: string, params: Record<string, unknown>, signal?: AbortSignal): Promise<T> {
    return (await this.request(method, params, signal)).result as T
  }

  /** One page (50 rows) of a `*.list` method from `params.start`; `next` is absent on the last page. */
  async page<T>(method: string, params: Record<string, unknown>, signal?: AbortSignal): Promise<{ rows: T[]; total: number; next?: number }> {
    const answer = await this.request(method, params, signal)
    return { rows: (answer.result as T[]) ?? [], total: Number(answer.total ?? 0), ...(answer.next !== undefined && { next: Number(answer.next) }) }
  }

  /**
   * Up to 50 commands in one request with `halt: 0`: each command's failure is its own (in
   * `errors`) and the others still run. A command that uses a failed one's `$result` fails too.
   */
  async batch(commands: Record<string, BatchCommand>, signal?: AbortSignal, urgent = false): Promise<BatchAnswer> {
    const names = Object.keys(commands)
    if (names.length > BATCH_MAX) throw new RangeError(`a batch takes at most ${BATCH_MAX} commands, got ${names.length}`)
    const cmd = Object.fromEntries(names.map((n) => [n, `${commands[n].method}?${toQuery(commands[n].params)}`]))
    const answer = (await this.request('batch', { halt: 0, cmd }, signal, urgent)).result as {
      result?: Record<string, unknown> | unknown[]
      result_error?: Record<string, BatchError> | unknown[]
    }
    // PHP sends an empty map as []
    const map = <V>(v: Record<string, V> | unknown[] | undefined): Record<string, V> => (v && !Array.isArray(v) ? v : {})
    return { result: map(answer.result), errors: map(answer.result_error) }
  }

  private url(method: string): string {
    const a = this.opts.auth
    const base = 'oauth' in a ? a.oauth.restUrl : a.webhookUrl.endsWith('/') ? a.webhookUrl : `${a.webhookUrl}/`
    return `${base}${method}.json`
  }

  /**
   * urgent: a caller waits on the line (the lookup during a call): sent without waiting for the
   * bucket's pace, but counted in it, and held back by a rate refusal like the rest. The portal's own
   * bucket takes short bursts (50 requests), so an occasional request out of pace is not refused.
   */
  private async request(method: string, params: Record<string, unknown>, signal?: AbortSignal, urgent = false): Promise<Answer> {
    const oauth = 'oauth' in this.opts.auth ? this.opts.auth.oauth : undefined
    for (let refreshed = false; ; refreshed = true) {
      const token = oauth && (await oauth.accessToken())
      await this.slot(signal, urgent)
      const res = await fetch(this.url(method), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(token ? { ...params, auth: token } : params),
        signal,
      })
      const text = await res.text()
      let body: Answer
      try {
        body = JSON.parse(text) as Answer
      } catch {
        // an HTML error page from a proxy: keep its start as the description
        if (!res.ok) throw new Bitrix24Error(res.status, 'HTTP_ERROR', text.slice(0, 300), method)
        throw new Bitrix24Error(res.status, 'BAD_RESPONSE', `not JSON: ${text.slice(0, 300)}`, method)
      }
      if (res.ok && !body.error) return body
      const code = body.error ?? 'HTTP_ERROR'
      if (oauth && token && !refreshed && res.status === 401 && (code === 'expired_token' || code === 'invalid_token')) {
        await oauth.refresh(token)
        continue
      }
      throw new Bitrix24Error(res.status, code, body.error_description ?? '', method, this.holdBack(code, body))
    }
  }

  /** A rate refusal holds the whole bucket back; the wait, for the outbox's retry. */
  private holdBack(code: string, body: Answer): number | undefined {
    let until: number | undefined
    if (code === 'QUERY_LIMIT_EXCEEDED') until = this.now() + QUERY_LIMIT_PAUSE_MS
    const reset = Number(body.time?.operating_reset_at)
    if (code === 'OPERATION_TIME_LIMIT' && reset > 0) until = reset * 1000
    if (until === undefined) return undefined
    this.heldUntil = Math.max(this.heldUntil, until)
    this.nextSlot = Math.max(this.nextSlot, until)
    return Math.max(0, until - this.now())
  }

  /** Waits for the bucket's next slot (a request leaks out every 1/ratePerS s). */
  private async slot(signal?: AbortSignal, urgent = false): Promise<void> {
    const now = this.now()
    const at = urgent ? Math.max(now, this.heldUntil) : Math.max(now, this.nextSlot)
    this.nextSlot = Math.max(this.nextSlot, at) + this.intervalMs
    if (at > now)
      await new Promise((r, j) => {
        const timer = setTimeout(r, at - now)
        signal?.addEventListener('abort', () => (clearTimeout(timer), j(signal.reason)), { once: true })
      })
  }
}

/**
 * A batch command's parameters as PHP reads a query string: `fields[PHONE][0][VALUE]=...`.
 * `$result[...]` references are encoded like any value; the portal decodes before resolving them.
 */
export function toQuery(params: Record<string, unknown>): string {
  const parts: string[] = []
  const add = (key: string, v: unknown): void => {
    if (v === undefined || v === null) return
    if (typeof v === 'object') {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) add(`${key}[${k}]`, x)
      return
    }
    parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(typeof v === 'boolean' ? (v ? 'Y' : 'N') : String(v))}`)
  }
  for (const [k, v] of Object.entries(params)) add(k, v)
  return parts.join('&')
}
