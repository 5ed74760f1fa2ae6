import type http from 'node:http'
import type { Logger } from 'pino'
import { pageOf } from './paging.ts'
import { OUTBOX_STATES, type OutboxState, type OutboxStore } from '../../crm/outbox/outbox-store.ts'

/** Handles the request when it is under /api/crm and says so; storage errors are thrown. */
export type CrmRoutes = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => Promise<boolean>

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

function notAllowed(res: http.ServerResponse, allow: string): void {
  res.setHeader('allow', allow)
  json(res, 405, { error: 'method not allowed' })
}

// outbox ids are bigserial: anything else is no row and never reaches SQL
const ROW_ID = /^[1-9][0-9]{0,18}$/

/**
 * GET /api/crm/outbox?state=dead&callId=...&limit=100 (newest first), GET /api/crm/outbox/:id,
 * POST /api/crm/outbox/:id/retry (a dead row goes back to queued; 409 when it is not dead).
 */
export function createCrmRoutes(outbox: OutboxStore, opts: { logger?: Logger; kick?: () => void } = {}): CrmRoutes {
  return async (req, res, url) => {
    const path = url.pathname
    if (path === '/api/crm/outbox') {
      if (req.method !== 'GET') return (notAllowed(res, 'GET'), true)
      const state = url.searchParams.get('state')
      if (state !== null && !OUTBOX_STATES.includes(state as OutboxState)) {
        json(res, 400, { error: `state must be one of ${OUTBOX_STATES.join(', ')}` })
        return true
      }
      const { limit } = pageOf(url, { default: 100, max: 1000 })
      const rows = await outbox.list({ state: (state ?? undefined) as OutboxState | undefined, callId: url.searchParams.get('callId') ?? undefined, limit })
      json(res, 200, { rows })
      return true
    }
    const m = /^\/api\/crm\/outbox\/([^/]+)(\/retry)?$/.exec(path)
    if (!m) return false
    const id = m[1]
    if (m[2]) {
      if (req.method !== 'POST') return (notAllowed(res, 'POST'), true)
      req.resume()
      if (!ROW_ID.test(id)) return (json(res, 404, { error: `no outbox row ${id}` }), true)
      const row = await outbox.retry(id)
      if (!row) {
        const existing = await outbox.get(id)
        if (!existing) json(res, 404, { error: `no outbox row ${id}` })
        else json(res, 409, { error: `outbox row ${id} is ${existing.state}, only a dead row can be retried`, row: existing })
        return true
      }
      opts.logger?.info({ outboxId: id, callId: row.callId, step: row.step }, 'dead CRM step queued again by the API')
      opts.kick?.()
      json(res, 200, { row })
      return true
    }
    if (req.method !== 'GET') return (notAllowed(res, 'GET'), true)
    const row = ROW_ID.test(id) ? await outbox.get(id) : null
    if (!row) json(res, 404, { error: `no outbox row ${id}` })
    else json(res, 200, row)
    return true
  }
}
