import { createHash, timingSafeEqual } from 'node:crypto'
import type http from 'node:http'
import type { Logger } from 'pino'
import type { ApiConfig } from '../config.ts'

export type RefusedReason = 'no_token' | 'bad_token' | 'not_loopback' | 'body_too_large'

export interface ApiGuardOptions {
  api: ApiConfig
  logger: Logger
  onRefused?: (reason: RefusedReason) => void
}

/** Handles (refuses) the request and says so, or lets it through with false. */
export type ApiGuard = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => boolean

const digest = (s: string) => createHash('sha256').update(s).digest()

/** 127.0.0.0/8 and ::1, also as dual-stack sockets report them (::ffff:127.x.y.z). */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false
  const a = address.replace(/^::ffff:/i, '')
  return a === '::1' || /^127\./.test(a)
}

/**
 * Bearer for API clients; Basic (any user name, API_TOKEN as the password) for a browser at the
 * console, which asks once and then sends it with every request to this origin, the recording
 * player's included.
 */
const CHALLENGE = ['Bearer realm="voice-agent"', 'Basic realm="voice-agent", charset="UTF-8"']

/** The token in `Authorization: Bearer <token>` or the password of `Basic <user:password>`. */
function presentedToken(header: string | undefined): string | undefined {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')
  if (bearer) return bearer[1]
  const basic = /^Basic\s+([A-Za-z0-9+/]+=*)\s*$/i.exec(header ?? '')
  if (!basic) return undefined
  const pair = Buffer.from(basic[1], 'base64').toString('utf8')
  const colon = pair.indexOf(':')
  return colon >= 0 && colon < pair.length - 1 ? pair.slice(colon + 1) : undefined
}

/**
 * Who may use the HTTP API. With API_TOKEN set, everything but /health and /metrics needs
 * `Authorization: Bearer <token>` (or Basic with the token as the password). Without a token the API answers loopback peers only and
 * others get 403: one port (HTTP_PORT) serves both, since Linux cannot bind 127.0.0.1:8080
 * beside 0.0.0.0:8080, and a peer check holds whatever HTTP_HOST is.
 */
export function createApiGuard(opts: ApiGuardOptions): ApiGuard {
  const { api, logger } = opts
  // Hashing both sides gives equal lengths, so timingSafeEqual compares in constant time and the
  // token's length leaks nothing either.
  const tokens = api.token
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
    .map(digest)
  const open = new Set<string>()
  if (String(api.openHealth) === 'true') open.add('/health')
  if (String(api.openMetrics) === 'true') open.add('/metrics')
  const refuse = (res: http.ServerResponse, status: number, reason: RefusedReason, message: string, headers: Record<string, string | string[]> = {}) => {
    opts.onRefused?.(reason)
    const text = JSON.stringify({ error: message })
    res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) })
    res.end(text)
    return true
  }
  return (req, res, url) => {
    if (!open.has(url.pathname)) {
      if (tokens.length) {
        const token = presentedToken(req.headers.authorization)
        if (token === undefined) return refuse(res, 401, 'no_token', 'a bearer token is required', { 'www-authenticate': CHALLENGE })
        const given = digest(token)
        let ok = false
        for (const t of tokens) ok = timingSafeEqual(given, t) || ok
        if (!ok) {
          logger.warn({ remote: req.socket.remoteAddress, path: url.pathname }, 'HTTP API: wrong bearer token')
          return refuse(res, 401, 'bad_token', 'wrong token', { 'www-authenticate': [`${CHALLENGE[0]}, error="invalid_token"`, CHALLENGE[1]] })
        }
      } else if (!isLoopback(req.socket.remoteAddress)) {
        return refuse(res, 403, 'not_loopback', 'no API_TOKEN is set: the API answers on 127.0.0.1 only')
      }
    }
    // A declared body over the limit is refused before a byte of it is read; the connection
    // closes, so the rest is not drained either. Chunked bodies are cut by the routes that read them.
    const length = Number(req.headers['content-length'] ?? 0)
    const max = url.pathname === '/api/knowledge' ? api.maxUploadBytes : api.maxBodyBytes
    if (length > max) {
      res.setHeader('connection', 'close')
      return refuse(res, 413, 'body_too_large', `body larger than ${max} bytes`)
    }
    return false
  }
}

/** The header, request and keep-alive timeouts that stop slow clients holding sockets open. */
export function applyHttpTimeouts(server: http.Server, api: ApiConfig): void {
  server.headersTimeout = api.headersTimeoutMs
  server.requestTimeout = api.requestTimeoutMs
  server.keepAliveTimeout = api.keepAliveTimeoutMs
}
