import { timingSafeEqual } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { tempStore } from '../../test/helpers/crm-fixture.ts'
import { CAMPAIGN_BITRIX24_STEP } from '../bitrix24/bitrix24-campaign.ts'
import { campaignOutcomeSteps, enqueueCampaignOutcome, type CampaignContactPayload, type CampaignContactView } from './campaign-outcome.ts'
import { OutboxStore } from './outbox-store.ts'
import { CAMPAIGN_WEBHOOK_STEP, signWebhook, WebhookConnector } from './webhook.ts'

const campaign = { id: 'spring', name: 'Spring offer' }
const at = new Date('2026-03-02T10:00:00Z')
const exhausted: CampaignContactView = {
  id: '17',
  phone: '+79001234567',
  name: 'Иван',
  fields: { company: 'Ромашка' },
  state: 'exhausted',
  attempts: 3,
  lastCallId: 'call-3',
  lastResult: 'no-answer',
  lastStatus: 480,
  lastRule: 'exhausted',
  outcome: null,
}

t.test('a final state is one step per connector on; no step before it', async (t) => {
  const targets = { webhookUrl: 'http://crm.example/hook', bitrix24Portal: 'https://b24.example', delayMs: 500 }
  t.same(campaignOutcomeSteps(campaign, { ...exhausted, state: 'pending' }, targets, at), [])
  t.same(campaignOutcomeSteps(campaign, { ...exhausted, state: 'dialing' }, targets, at), [])
  const steps = campaignOutcomeSteps(campaign, exhausted, targets, at)
  t.same(
    steps.map((s) => [s.step, s.target, s.delayMs]),
    [
      [CAMPAIGN_WEBHOOK_STEP, 'http://crm.example/hook', 500],
      [CAMPAIGN_BITRIX24_STEP, 'https://b24.example', 500],
    ],
  )
  t.same(steps[0].payload, {
    schema: 'voice.campaign.v1',
    event: 'campaign.contact',
    campaign,
    contact: { id: '17', phone: '+79001234567', name: 'Иван', fields: { company: 'Ромашка' } },
    state: 'exhausted',
    outcome: null,
    attempts: 3,
    lastCallId: 'call-3',
    lastResult: 'no-answer',
    lastStatus: 480,
    rule: 'exhausted',
    finishedAt: '2026-03-02T10:00:00.000Z',
  } satisfies CampaignContactPayload)
  t.same(
    campaignOutcomeSteps(campaign, exhausted, { bitrix24Portal: 'https://b24.example' }, at).map((s) => s.step),
    [CAMPAIGN_BITRIX24_STEP],
  )
  t.same(campaignOutcomeSteps(campaign, exhausted, {}, at), [])
})

t.test('enqueued in the caller transaction, once per settling claim, and POSTed signed', async (t) => {
  const { store } = await tempStore(t, 'crm-campaign-')
  const outbox = new OutboxStore(store.driver)
  const received: Array<{ key: string; body: Record<string, unknown>; signed: boolean }> = []
  const server = http.createServer(async (req, res) => {
    let raw = ''
    for await (const c of req) raw += c
    const want = Buffer.from(signWebhook('s3cret', String(req.headers['x-voice-timestamp']), raw))
    const got = Buffer.from(String(req.headers['x-voice-signature']))
    received.push({ key: String(req.headers['idempotency-key']), body: JSON.parse(raw), signed: got.length === want.length && timingSafeEqual(got, want) })
    res.writeHead(200).end('{}')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise((r) => server.close(r)))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`

  // a transaction that fails leaves no step behind
  await t.rejects(
    store.driver.transaction(async (tx) => {
      await enqueueCampaignOutcome(tx, 'claim-1', campaign, exhausted, { webhookUrl: url }, at)
      throw new Error('the state write failed')
    }),
  )
  t.same(await outbox.list({ callId: 'claim-1' }), [])
  for (let i = 0; i < 2; i++) await store.driver.transaction((tx) => enqueueCampaignOutcome(tx, 'claim-1', campaign, exhausted, { webhookUrl: url }, at))
  const rows = await outbox.list({ callId: 'claim-1' })
  t.equal(rows.length, 1, 'a replayed settle enqueues nothing twice')
  t.match(rows[0], { step: CAMPAIGN_WEBHOOK_STEP, target: url, idempotencyKey: `claim-1:${CAMPAIGN_WEBHOOK_STEP}`, state: 'queued' })

  const connector = new WebhookConnector({
    secret: 's3cret',
    loadCall: async () => {
      t.fail('a campaign step reads no call')
      return null
    },
  })
  t.same(await connector.deliver(rows[0], AbortSignal.timeout(5000)), { kind: 'delivered' })
  t.equal(received.length, 1)
  t.ok(received[0].signed, 'signed like the call webhook')
  t.equal(received[0].key, `claim-1:${CAMPAIGN_WEBHOOK_STEP}`)
  t.same(received[0].body, { ...rows[0].payload, idempotencyKey: `claim-1:${CAMPAIGN_WEBHOOK_STEP}` })
  t.match(received[0].body, { event: 'campaign.contact', state: 'exhausted', attempts: 3, contact: { phone: '+79001234567' } })
})
