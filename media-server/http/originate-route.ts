import type http from 'node:http'
import type { Logger } from 'pino'
import { parseOriginate, type OriginateContext } from '../call/originate-request.ts'
import type { Originator } from '../call/originator.ts'
import { readBody } from './read-body.ts'

/** Handles POST /api/calls and says so; other methods and paths are left to the read-only API. */
export type OriginateRoute = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => Promise<boolean>

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

/**
 * POST /api/calls {"to", "trunk"?, "scenario"?, "callerId"?, "variables"?, "amd"?}: 202 {"id"} once the
 * INVITE is out; 400 for a body that is not a call we can place, 403 with the toll-fraud guard's
 * reason, 503 while draining or at capacity.
 */
export function createOriginateRoute(originator: Originator, ctx: OriginateContext, opts: { maxBodyBytes: number; logger: Logger }): OriginateRoute {
  return async (req, res, url) => {
    if (url.pathname !== '/api/calls' || req.method !== 'POST') return false
    const raw = await readBody(req, opts.maxBodyBytes)
    if (!raw) return (json(res, 413, { error: `body larger than ${opts.maxBodyBytes} bytes` }), true)
    let body: unknown
    try {
      body = JSON.parse(raw.toString('utf8'))
    } catch {
      return (json(res, 400, { error: 'the body is not JSON' }), true)
    }
    const parsed = parseOriginate(body, ctx)
    if (!parsed.ok) return (json(res, 400, { error: parsed.error }), true)
    const result = await originator.originate(parsed.request)
    if (!result.ok) {
      opts.logger.warn({ to: parsed.request.to, status: result.status, error: result.error }, 'POST /api/calls refused')
      return (json(res, result.status, { error: result.error }), true)
    }
    json(res, 202, { id: result.id })
    return true
  }
}
