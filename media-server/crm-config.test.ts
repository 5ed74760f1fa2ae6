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
})
