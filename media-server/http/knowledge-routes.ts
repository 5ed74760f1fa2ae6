import type http from 'node:http'
import type { Logger } from 'pino'
import { DocumentError } from '../../dialog/knowledge/ingest.ts'
import type { KnowledgeBase } from '../../dialog/knowledge/knowledge-base.ts'
import { readBody } from './read-body.ts'

export interface KnowledgeRoutesOptions {
  /** uploads larger than this get 413 */
  maxUploadBytes?: number
  logger?: Logger
}

/** Handles the request when it is under /api/knowledge and says so; storage errors are thrown. */
export type KnowledgeRoutes = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => Promise<boolean>

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

function notAllowed(res: http.ServerResponse, allow: string): void {
  res.setHeader('allow', allow)
  json(res, 405, { error: 'method not allowed' })
}

/** A header carries only Latin-1, so a non-ASCII file name arrives percent-encoded. */
function headerName(value: string | string[] | undefined): string | undefined {
  if (typeof value !== 'string') return undefined
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}

/**
 * POST /api/knowledge?name=faq.md (raw file body; or the name in an `x-file-name` header),
 * GET /api/knowledge, DELETE /api/knowledge/:id, GET /api/knowledge/search?q=...&limit=3
 */
export function createKnowledgeRoutes(kb: KnowledgeBase, opts: KnowledgeRoutesOptions = {}): KnowledgeRoutes {
  const maxBytes = opts.maxUploadBytes ?? 20 * 1024 * 1024
  return async (req, res, url) => {
    const path = url.pathname
    if (path === '/api/knowledge') {
      if (req.method === 'GET') {
        json(res, 200, { documents: await kb.list() })
        return true
      }
      if (req.method !== 'POST') {
        notAllowed(res, 'GET, POST')
        return true
      }
      const name = url.searchParams.get('name') ?? headerName(req.headers['x-file-name'])
      if (!name?.trim()) {
        req.resume()
        json(res, 400, { error: 'name the file: POST /api/knowledge?name=faq.md or an x-file-name header' })
        return true
      }
      const body = await readBody(req, maxBytes)
      if (!body) {
        json(res, 413, { error: `file larger than ${maxBytes} bytes` })
        return true
      }
      try {
        const document = await kb.add(name.trim(), body)
        opts.logger?.info({ document: document.id, name: document.name, chunks: document.chunkCount }, 'knowledge document added')
        json(res, 201, { document })
      } catch (err) {
        if (!(err instanceof DocumentError)) throw err
        json(res, 400, { error: err.message })
      }
      return true
    }
    if (path === '/api/knowledge/search') {
      if (req.method !== 'GET') {
        notAllowed(res, 'GET')
        return true
      }
      const q = url.searchParams.get('q')?.trim()
      if (!q) {
        json(res, 400, { error: 'missing ?q=' })
        return true
      }
      const limit = Number(url.searchParams.get('limit') ?? 3)
      if (!Number.isInteger(limit) || limit < 1 || limit > 20) {
        json(res, 400, { error: 'limit must be an integer from 1 to 20' })
        return true
      }
      json(res, 200, { hits: await kb.search(q, { limit }) })
      return true
    }
    const m = /^\/api\/knowledge\/([^/]+)$/.exec(path)
    if (!m) return false
    if (req.method !== 'DELETE') {
      notAllowed(res, 'DELETE')
      return true
    }
    const id = Number(m[1])
    if (!Number.isSafeInteger(id) || id < 1) {
      json(res, 400, { error: `bad document id ${JSON.stringify(m[1])}` })
      return true
    }
    if (!(await kb.remove(id))) json(res, 404, { error: `no document ${id}` })
    else {
      opts.logger?.info({ document: id }, 'knowledge document removed')
      json(res, 200, { deleted: id })
    }
    return true
  }
}
