import type http from 'node:http'
import type { Logger } from 'pino'
import type { Bitrix24OAuth } from '../../crm/bitrix24/bitrix24-oauth.ts'
import { readBody } from './read-body.ts'

/** The install handler's path: the local application's handler URL in the portal is `http(s)://<this server>/crm/bitrix24/install`. */
export const BITRIX24_INSTALL_PATH = '/crm/bitrix24/install'
/** an install event is a few hundred bytes of form fields */
const MAX_BODY = 16 * 1024

export type Bitrix24InstallRoute = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => Promise<boolean>

/**
 * `POST /crm/bitrix24/install`: the local application's install event. Bitrix24 POSTs it form-encoded
 * (`event=ONAPPINSTALL`, `auth[access_token]`, `auth[refresh_token]`, `auth[expires_in]`,
 * `auth[domain]`, `auth[member_id]`, `auth[application_token]`, ...) to the handler URL, so the route
 * goes before the API's bearer token. It takes only the configured portal (`auth[domain]` is
 * BITRIX24_PORTAL's host) whose access token the portal takes (`app.info`), and, once an install is
 * stored, only the same `application_token`; anything else is 403 and logged. The tokens go in crm_oauth_tokens, where the outbox's requests read them.
 */
export function createBitrix24InstallRoute(opts: { oauth: Bitrix24OAuth; portal: string; logger: Logger }): Bitrix24InstallRoute {
  const host = new URL(opts.portal).host.toLowerCase()
  const log = opts.logger.child({ component: 'bitrix24-install', portal: host })
  const answer = (res: http.ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body)
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) })
    res.end(text)
    return true
  }
  return async (req, res, url) => {
    if (url.pathname !== BITRIX24_INSTALL_PATH) return false
    const remote = req.socket.remoteAddress
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST')
      return answer(res, 405, { error: 'method not allowed' })
    }
    const raw = await readBody(req, MAX_BODY)
    if (!raw) return answer(res, 413, { error: `body larger than ${MAX_BODY} bytes` })
    const form = new URLSearchParams(raw.toString('utf8'))
    const event = form.get('event') ?? ''
    const auth = (k: string) => form.get(`auth[${k}]`) ?? ''
    const domain = auth('domain').toLowerCase()
    // never logged: the tokens
    const seen = { remote, event, domain, memberId: auth('member_id') || undefined }
    if (domain !== host) {
      log.warn(seen, 'Bitrix24 install event refused: not the configured portal (BITRIX24_PORTAL)')
      return answer(res, 403, { error: 'not the configured portal' })
    }
    if (event.toUpperCase() !== 'ONAPPINSTALL') {
      log.warn(seen, 'Bitrix24 event refused: only ONAPPINSTALL is handled here')
      return answer(res, 400, { error: `event ${event || '(none)'} is not handled` })
    }
    const e = {
      accessToken: auth('access_token'),
      refreshToken: auth('refresh_token'),
      expiresIn: Number(auth('expires_in')) || 3600,
      applicationToken: auth('application_token'),
      memberId: auth('member_id') || undefined,
    }
    if (!e.accessToken || !e.refreshToken || !e.applicationToken) {
      log.warn(seen, 'Bitrix24 install event refused: no tokens in it')
      return answer(res, 403, { error: 'auth[access_token], auth[refresh_token] and auth[application_token] are required' })
    }
    const outcome = await opts.oauth.install(e)
    if (outcome === 'forbidden') {
      log.warn(seen, 'Bitrix24 install event refused: application_token differs from the installed one')
      return answer(res, 403, { error: 'application_token does not match the installed application' })
    }
    if (outcome === 'unverified') {
      log.warn(seen, 'Bitrix24 install event refused: the portal does not take its access token (app.info)')
      return answer(res, 403, { error: 'the access token is not accepted by the portal' })
    }
    if (outcome === 'unreachable') {
      log.warn(seen, 'Bitrix24 install event not stored: the portal did not answer app.info; install again')
      return answer(res, 502, { error: 'the portal did not answer' })
    }
    log.info({ ...seen, expiresIn: e.expiresIn }, 'Bitrix24 application installed: tokens stored')
    return answer(res, 200, { installed: true })
  }
}
