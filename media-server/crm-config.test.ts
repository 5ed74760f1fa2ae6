import t from 'tap'
import { loadConfig } from './config.ts'

t.test('CRM settings from the environment', async (t) => {
  t.match(loadConfig({}).crm, { webhookUrl: '', webhookSecret: '', outboxMaxAttempts: 8, bitrix24WebhookUrl: '', bitrix24RatePerS: 2 })
  const c = loadConfig({
    CRM_WEBHOOK_URL: 'https://crm.example/hooks/voice',
    CRM_WEBHOOK_SECRET: 's3cret',
    CRM_OUTBOX_MAX_ATTEMPTS: '5',
    BITRIX24_WEBHOOK_URL: 'https://portal.bitrix24.ru/rest/1/abc123/',
    BITRIX24_RATE_PER_S: '4',
  })
  t.match(c.crm, {
    webhookUrl: 'https://crm.example/hooks/voice',
    webhookSecret: 's3cret',
    outboxMaxAttempts: 5,
    bitrix24WebhookUrl: 'https://portal.bitrix24.ru/rest/1/abc123/',
    bitrix24RatePerS: 4,
  })
  t.throws(() => loadConfig({ CRM_WEBHOOK_URL: 'crm.example' }), /CRM_WEBHOOK_URL must be/)
  t.throws(() => loadConfig({ CRM_OUTBOX_MAX_ATTEMPTS: '0' }), /CRM_OUTBOX_MAX_ATTEMPTS must be/)
  t.throws(() => loadConfig({ BITRIX24_WEBHOOK_URL: 'https://portal.bitrix24.ru/' }), /BITRIX24_WEBHOOK_URL must have the form/)
  t.equal(
    loadConfig({ BITRIX24_WEBHOOK_URL: 'https://portal.bitrix24.ru/rest/1/code' }).crm.bitrix24WebhookUrl,
    'https://portal.bitrix24.ru/rest/1/code',
    'no trailing slash is fine',
  )

  const app = loadConfig({
    BITRIX24_PORTAL: 'example.bitrix24.ru',
    BITRIX24_CLIENT_ID: 'local.abc.123',
    BITRIX24_CLIENT_SECRET: 'sec',
    BITRIX24_REFRESH_TOKEN: 'rt',
    BITRIX24_USER_ID: '17',
  }).crm
  t.match(app, {
    bitrix24Portal: 'example.bitrix24.ru',
    bitrix24ClientId: 'local.abc.123',
    bitrix24ClientSecret: 'sec',
    bitrix24RefreshToken: 'rt',
    bitrix24OAuthUrl: 'https://oauth.bitrix.info/oauth/token/',
    bitrix24UserId: 17,
  })
  t.equal(loadConfig({}).crm.bitrix24CallbackMin, 60, 'a missed call is called back within the hour by default')
  t.equal(loadConfig({ BITRIX24_CALLBACK_MIN: '15' }).crm.bitrix24CallbackMin, 15)
  t.equal(loadConfig({}).crm.bitrix24Currency, 'RUB')
  t.equal(loadConfig({ BITRIX24_CURRENCY: 'USD' }).crm.bitrix24Currency, 'USD')
  t.match(loadConfig({ BITRIX24_DNC_STATUS_ID: 'JUNK' }).crm, { bitrix24DncStatusId: 'JUNK', bitrix24WrongNumberStatusId: '' })
  t.throws(() => loadConfig({ BITRIX24_CURRENCY: 'rubles' }), /BITRIX24_CURRENCY must be a currency code/)
  t.throws(() => loadConfig({ BITRIX24_CALLBACK_MIN: '-1' }), /BITRIX24_CALLBACK_MIN must be between 0 and 10080/)
  t.throws(() => loadConfig({ BITRIX24_USER_ID: '17', BITRIX24_WEBHOOK_URL: 'https://p.bitrix24.ru/rest/1/c/' }), /BITRIX24_USER_ID .* needs application mode/)
  t.equal(
    loadConfig({
      BITRIX24_PORTAL: 'https://example.bitrix24.ru',
      BITRIX24_CLIENT_ID: 'a',
      BITRIX24_CLIENT_SECRET: 'b',
      BITRIX24_OAUTH_URL: 'http://127.0.0.1:9/oauth/token/',
    }).crm.bitrix24OAuthUrl,
    'http://127.0.0.1:9/oauth/token/',
  )
  t.throws(() => loadConfig({ BITRIX24_PORTAL: 'example.bitrix24.ru' }), /needs BITRIX24_CLIENT_ID and BITRIX24_CLIENT_SECRET/)
  t.throws(
    () => loadConfig({ BITRIX24_PORTAL: 'https://example.bitrix24.ru/rest/1/x/', BITRIX24_CLIENT_ID: 'a', BITRIX24_CLIENT_SECRET: 'b' }),
    /BITRIX24_PORTAL must be/,
  )
  t.throws(
    () =>
      loadConfig({
        BITRIX24_PORTAL: 'example.bitrix24.ru',
        BITRIX24_CLIENT_ID: 'a',
        BITRIX24_CLIENT_SECRET: 'b',
        BITRIX24_WEBHOOK_URL: 'https://example.bitrix24.ru/rest/1/c/',
      }),
    /either BITRIX24_WEBHOOK_URL .* or BITRIX24_PORTAL/,
  )
})
