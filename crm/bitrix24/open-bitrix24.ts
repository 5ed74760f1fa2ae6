import type { Logger } from 'pino'
import type { SqlDriver } from '../sql-driver.ts'
import { Bitrix24Client } from './bitrix24-client.ts'
import { Bitrix24OAuth } from './bitrix24-oauth.ts'

/** The BITRIX24_* settings (media-server/config.ts). */
export interface Bitrix24Settings {
  bitrix24WebhookUrl: string
  bitrix24RatePerS: number
  bitrix24Portal: string
  bitrix24ClientId: string
  bitrix24ClientSecret: string
  bitrix24RefreshToken: string
  bitrix24OAuthUrl: string
}

/**
 * The Bitrix24 client the configuration asks for: inbound-webhook mode (BITRIX24_WEBHOOK_URL) or
 * local-application mode (BITRIX24_PORTAL with the app's credentials; the first refresh token from
 * BITRIX24_REFRESH_TOKEN when the database holds none); undefined when neither is set. `portal` is
 * the outbox rows' target: the origin only, never the webhook's secret code.
 */
export async function openBitrix24(crm: Bitrix24Settings, db: SqlDriver, logger: Logger): Promise<{ client: Bitrix24Client; portal: string } | undefined> {
  const ratePerS = crm.bitrix24RatePerS
  if (crm.bitrix24WebhookUrl) {
    const portal = new URL(crm.bitrix24WebhookUrl).origin
    logger.info({ portal, ratePerS }, 'Bitrix24 connector on (webhook mode)')
    return { client: new Bitrix24Client({ auth: { webhookUrl: crm.bitrix24WebhookUrl }, ratePerS }), portal }
  }
  if (!crm.bitrix24Portal) return undefined
  const portal = new URL(/^https?:\/\//.test(crm.bitrix24Portal) ? crm.bitrix24Portal : `https://${crm.bitrix24Portal}`).origin
  const oauth = new Bitrix24OAuth({
    db,
    portal,
    clientId: crm.bitrix24ClientId,
    clientSecret: crm.bitrix24ClientSecret,
    oauthUrl: crm.bitrix24OAuthUrl,
    logger,
  })
  await oauth.bootstrap(crm.bitrix24RefreshToken || undefined).catch((err) =>
    // the database is down at start: the token is stored at the next start; delivery waits for it anyway
    logger.error({ err }, 'BITRIX24_REFRESH_TOKEN not stored'),
  )
  logger.info({ portal, ratePerS }, 'Bitrix24 connector on (application mode)')
  return { client: new Bitrix24Client({ auth: { oauth }, ratePerS }), portal }
}
