import { createHash, timingSafeEqual } from 'node:crypto'
import type { Logger } from 'pino'
import type { SqlDriver } from '../sql-driver.ts'
import { Bitrix24Error } from './bitrix24-error.ts'

export const DEFAULT_OAUTH_URL = 'https://oauth.bitrix.info/oauth/token/'
/** a token this close to its expiry is refreshed before use rather than sent to be refused */
const EXPIRY_MARGIN_MS = 30_000
const REFRESH_TIMEOUT_MS = 15_000

export interface Bitrix24OAuthOptions {
  db: SqlDriver
  /** BITRIX24_PORTAL as an origin: `https://example.bitrix24.ru` */
  portal: string
  clientId: string
  clientSecret: string
  /** BITRIX24_OAUTH_URL: Bitrix24's token endpoint (tests point it at a local server) */
  oauthUrl?: string
  logger?: Logger
  now?: () => number
}

interface TokenRow {
  access_token: string
  refresh_token: string
  expires_at: Date | null
}

/** What the token endpoint answers (the fields we use). */
interface TokenAnswer {
  access_token?: string
  refresh_token?: string
  expires_in?: number
  error?: string
  error_description?: string
}

/**
 * The access token of a local application, kept in `crm_oauth_tokens`. Refreshed when the portal
 * answers `expired_token` (or shortly before the known expiry). A refresh is single-flight in the
 * process, and across instances it runs under the token row's lock: the refresh token rotates, so
 * the second instance must find the first one's new pair instead of spending the old token again.
 */
export class Bitrix24OAuth {
  /** `https://<portal>/rest/`: methods are `<restUrl><method>.json` with `auth` in the body */
  readonly restUrl: string
  private cached: string | undefined
  private cachedUntil = 0
  private inflight: Promise<string> | undefined
  private readonly now: () => number
  private readonly log?: Logger

  constructor(private readonly o: Bitrix24OAuthOptions) {
    this.restUrl = `${o.portal.replace(/\/+$/, '')}/rest/`
    this.now = o.now ?? Date.now
    this.log = o.logger?.child({ component: 'bitrix24-oauth', portal: o.portal })
  }

  /**
   * Stores the operator's first refresh token (BITRIX24_REFRESH_TOKEN) when the database holds none
   * for the portal; once the tokens have rotated the database's pair wins and the setting is ignored.
   */
  async bootstrap(refreshToken: string | undefined): Promise<boolean> {
    if (!refreshToken) return false
    const { rows } = await this.o.db.query(
      `INSERT INTO crm_oauth_tokens (portal, refresh_token) VALUES ($1, $2) ON CONFLICT (portal) DO NOTHING RETURNING portal`,
      [this.o.portal, refreshToken],
    )
    if (rows.length) this.log?.info('Bitrix24 refresh token taken from BITRIX24_REFRESH_TOKEN')
    return rows.length > 0
  }

  /**
   * The install event's tokens (ONAPPINSTALL): stored for the portal, with its application_token.
   * Once a token is stored, only an event with the same one is taken ('forbidden' otherwise): the
   * handler is reachable without the API's bearer token, so the token is what proves the portal; and
   * the event's access token must work on the portal (`app.info`), so a forged first install is
   * refused ('unverified'; 'unreachable' when the portal did not answer).
   */
  async install(e: {
    accessToken: string
    refreshToken: string
    expiresIn: number
    applicationToken: string
    memberId?: string
  }): Promise<'installed' | 'forbidden' | 'unverified' | 'unreachable'> {
    const known = await this.o.db.query<{ application_token: string | null }>(`SELECT application_token FROM crm_oauth_tokens WHERE portal = $1`, [
      this.o.portal,
    ])
    const stored = known.rows[0]?.application_token
    if (stored && !sameSecret(stored, e.applicationToken)) return 'forbidden'
    const verified = await this.verify(e.accessToken)
    if (verified !== 'ok') return verified
    const outcome = await this.o.db.transaction(async (tx) => {
      const { rows } = await tx.query<{ application_token: string | null }>(`SELECT application_token FROM crm_oauth_tokens WHERE portal = $1 FOR UPDATE`, [
        this.o.portal,
      ])
      const known = rows[0]?.application_token
      if (known && !sameSecret(known, e.applicationToken)) return 'forbidden' as const
      await tx.query(
        `INSERT INTO crm_oauth_tokens (portal, access_token, refresh_token, expires_at, application_token, member_id, updated_at)
         VALUES ($1, $2, $3, now() + $4::int * interval '1 second', $5, $6, now())
         ON CONFLICT (portal) DO UPDATE SET access_token = EXCLUDED.access_token, refresh_token = EXCLUDED.refresh_token,
           expires_at = EXCLUDED.expires_at, application_token = EXCLUDED.application_token, member_id = EXCLUDED.member_id, updated_at = now()`,
        [this.o.portal, e.accessToken, e.refreshToken, e.expiresIn, e.applicationToken, e.memberId ?? null],
      )
      return 'installed' as const
    })
    // the next request reads the new pair from the database
    if (outcome === 'installed') [this.cached, this.cachedUntil] = [undefined, 0]
    return outcome
  }

  /** Does the portal take this access token? `app.info` answers any application's own token. */
  private async verify(token: string): Promise<'ok' | 'unverified' | 'unreachable'> {
    try {
      const res = await fetch(`${this.restUrl}app.info.json`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ auth: token }),
        signal: AbortSignal.timeout(REFRESH_TIMEOUT_MS),
      })
      const body = (await res.json().catch(() => ({}))) as { result?: unknown; error?: string }
      return res.ok && body.result && !body.error ? 'ok' : 'unverified'
    } catch (err) {
      this.log?.warn({ err: (err as Error).message }, 'Bitrix24 install event: the portal did not answer app.info')
      return 'unreachable'
    }
  }

  /** The token to send: the one in memory, else the database's, refreshed when it is (nearly) expired. */
  async accessToken(): Promise<string> {
    if (this.cached && this.now() < this.cachedUntil) return this.cached
    const row = await this.load(this.o.db)
    if (row.access_token && this.fresh(row)) return this.keep(row)
    return this.refresh(row.access_token)
  }

  /**
   * Gets a new access token because `stale` was refused. Concurrent callers share one refresh; when
   * another instance refreshed already (the stored token is not `stale`), its token is used.
   */
  refresh(stale: string): Promise<string> {
    this.inflight ??= this.refreshNow(stale).finally(() => (this.inflight = undefined))
    return this.inflight
  }

  private refreshNow(stale: string): Promise<string> {
    return this.o.db.transaction(async (tx) => {
      // the lock serialises instances sharing the database; the row read under it is the latest pair
      const row = await this.load(tx, 'FOR UPDATE')
      if (row.access_token && row.access_token !== stale && this.fresh(row)) return this.keep(row)
      const url = new URL(this.o.oauthUrl ?? DEFAULT_OAUTH_URL)
      url.searchParams.set('grant_type', 'refresh_token')
      url.searchParams.set('client_id', this.o.clientId)
      url.searchParams.set('client_secret', this.o.clientSecret)
      url.searchParams.set('refresh_token', row.refresh_token)
      // the URL carries the secret: it is never logged, and errors name the endpoint only
      const res = await fetch(url, { signal: AbortSignal.timeout(REFRESH_TIMEOUT_MS) })
      const text = await res.text()
      let body: TokenAnswer
      try {
        body = JSON.parse(text) as TokenAnswer
      } catch {
        throw new Bitrix24Error(res.status, 'HTTP_ERROR', `token endpoint: ${text.slice(0, 200)}`, 'oauth/token')
      }
      if (!res.ok || body.error || !body.access_token || !body.refresh_token)
        throw new Bitrix24Error(res.status, body.error ?? 'HTTP_ERROR', body.error_description ?? 'no tokens in the answer', 'oauth/token')
      const expiresIn = body.expires_in ?? 3600
      const { rows } = await tx.query<TokenRow>(
        `UPDATE crm_oauth_tokens SET access_token = $2, refresh_token = $3, expires_at = now() + $4::int * interval '1 second', updated_at = now()
         WHERE portal = $1 RETURNING access_token, refresh_token, expires_at`,
        [this.o.portal, body.access_token, body.refresh_token, expiresIn],
      )
      this.log?.info({ expiresIn }, 'Bitrix24 access token refreshed')
      return this.keep(rows[0])
    })
  }

  private async load(db: Pick<SqlDriver, 'query'>, lock = ''): Promise<TokenRow> {
    const { rows } = await db.query<TokenRow>(`SELECT access_token, refresh_token, expires_at FROM crm_oauth_tokens WHERE portal = $1 ${lock}`, [this.o.portal])
    if (!rows[0])
      throw new Bitrix24Error(
        401,
        'NO_TOKENS',
        'no OAuth tokens stored for the portal: install the application (its handler URL is /crm/bitrix24/install) or set BITRIX24_REFRESH_TOKEN',
        'oauth/token',
      )
    return rows[0]
  }

  private fresh(row: TokenRow): boolean {
    return !row.expires_at || row.expires_at.getTime() - EXPIRY_MARGIN_MS > this.now()
  }

  private keep(row: TokenRow): string {
    this.cached = row.access_token
    this.cachedUntil = row.expires_at ? row.expires_at.getTime() - EXPIRY_MARGIN_MS : Number.POSITIVE_INFINITY
    return row.access_token
  }
}

/** Equal secrets, compared in constant time (hashed to one length first). */
function sameSecret(a: string, b: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest()
  return timingSafeEqual(h(a), h(b))
}
