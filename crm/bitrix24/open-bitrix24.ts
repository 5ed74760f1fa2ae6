import type { Logger } from 'pino'
import type { SqlDriver } from '../sql-driver.ts'
import type { CallDetail } from '../call-store.ts'
import { Bitrix24Client } from './bitrix24-client.ts'
import { Bitrix24Connector } from './bitrix24-connector.ts'
import { Bitrix24CampaignConnector } from './bitrix24-campaign.ts'
import { CallerLookup } from './caller-lookup.ts'
import { Bitrix24OAuth } from './bitrix24-oauth.ts'

/** The BITRIX24_* settings (media-server/config.ts). */
export interface Bitrix24Settings {
  /** inbound-webhook mode: `https://<portal>/rest/<user>/<code>/` */
  bitrix24WebhookUrl: string
  bitrix24RatePerS: number
  /** local-application mode: the portal, the app's credentials, the first refresh token, the token endpoint */
  bitrix24Portal: string
  bitrix24ClientId: string
  bitrix24ClientSecret: string
  bitrix24RefreshToken: string
  bitrix24OAuthUrl: string
  /** application mode: the bot's Bitrix24 user for telephony (0: no telephony records) */
  bitrix24UserId: number
  /** a missed or abandoned inbound call's "call back" to-do is due this many minutes after the call */
  bitrix24CallbackMin: number
  /** CURRENCY_ID of a known client's deal (its budget) */
  bitrix24Currency: string
  /** campaigns: the lead status for a contact who asked not to be called, and for a wrong number (empty: a comment only) */
  bitrix24DncStatusId: string
  bitrix24WrongNumberStatusId: string
}

/** What the process uses of the portal: one client (one rate bucket) behind all of it. */
export interface Bitrix24 {
  /** the call steps (BITRIX24_STEP) */
  connector: Bitrix24Connector
  /** campaign contacts' outcomes (CAMPAIGN_BITRIX24_STEP) */
  campaignConnector: Bitrix24CampaignConnector
  lookup: CallerLookup
  /** for reading leads into a campaign (leadsForCampaign) */
  client: Bitrix24Client
  portal: string
  oauth?: Bitrix24OAuth
}

/**
 * The Bitrix24 client the configuration asks for: inbound-webhook mode (BITRIX24_WEBHOOK_URL) or
 * local-application mode (BITRIX24_PORTAL with the app's credentials; the first refresh token from
 * BITRIX24_REFRESH_TOKEN when the database holds none); undefined when neither is set. `portal` is
 * One client (one rate bucket) serves the outbox and the lookup during calls. With BITRIX24_USER_ID, application mode also records each call as a telephony call. `portal` is
 * the outbox rows' target: the origin only, never the webhook's secret code.
 */
export async function openBitrix24(
  crm: Bitrix24Settings,
  db: SqlDriver,
  logger: Logger,
  loadCall: (callId: string) => Promise<CallDetail | null>,
): Promise<Bitrix24 | undefined> {
  const ratePerS = crm.bitrix24RatePerS
  const shared = (client: Bitrix24Client) => ({
    client,
    lookup: new CallerLookup(client),
    campaignConnector: new Bitrix24CampaignConnector({
      client,
      db,
      dncStatusId: crm.bitrix24DncStatusId || undefined,
      wrongNumberStatusId: crm.bitrix24WrongNumberStatusId || undefined,
      logger: connectorOptions.logger,
    }),
  })
  const connectorOptions = { callbackMs: crm.bitrix24CallbackMin * 60_000, currency: crm.bitrix24Currency, logger: logger.child({ component: 'bitrix24' }) }
  if (crm.bitrix24WebhookUrl) {
    const portal = new URL(crm.bitrix24WebhookUrl).origin
    logger.info({ portal, ratePerS }, 'Bitrix24 connector on (webhook mode)')
    const client = new Bitrix24Client({ auth: { webhookUrl: crm.bitrix24WebhookUrl }, ratePerS })
    return { connector: new Bitrix24Connector({ client, loadCall, ...connectorOptions }), ...shared(client), portal }
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
  const userId = crm.bitrix24UserId || undefined
  logger.info({ portal, ratePerS, telephonyUserId: userId }, 'Bitrix24 connector on (application mode)')
  const client = new Bitrix24Client({ auth: { oauth }, ratePerS })
  const connector = new Bitrix24Connector({ client, loadCall, ...connectorOptions, telephony: userId ? { userId, db } : undefined })
  return { connector, ...shared(client), portal, oauth }
}
