import t from 'tap'
import { startedPortal, tempStore } from '../../test/helpers/crm-fixture.ts'
import { enqueueCampaignOutcome, type CampaignContactView } from '../outbox/campaign-outcome.ts'
import { enqueueSteps, OutboxStore, type OutboxRow } from '../outbox/outbox-store.ts'
import type { DeliveryOutcome } from '../outbox/outbox-worker.ts'
import { Bitrix24CampaignConnector } from './bitrix24-campaign.ts'
import { Bitrix24Client } from './bitrix24-client.ts'
import { BITRIX24_STEP } from './bitrix24-connector.ts'

const campaign = { id: 'spring', name: 'Spring offer' }
let seq = 0
const contact = (o: Partial<CampaignContactView>): CampaignContactView => ({
  id: String(++seq),
  phone: '+79001110001',
  fields: {},
  state: 'exhausted',
  attempts: 3,
  lastCallId: `call-${seq}`,
  lastResult: 'no-answer',
  lastStatus: 480,
  lastRule: 'exhausted',
  outcome: null,
  ...o,
})

t.test('campaign contact outcomes in Bitrix24', async (t) => {
  const { store } = await tempStore(t, 'crm-b24-campaign-')
  const outbox = new OutboxStore(store.driver)
  const portal = await startedPortal(t)
  const client = new Bitrix24Client({ auth: { webhookUrl: portal.url }, ratePerS: 50 })
  const connector = new Bitrix24CampaignConnector({ client, db: store.driver, dncStatusId: 'JUNK' })
  portal.leads.push({ ID: 1, TITLE: 'Иван', STATUS_ID: 'NEW', PHONE: [{ VALUE: '+79001110001' }] })
  portal.leads.push({ ID: 2, TITLE: 'From the list', STATUS_ID: 'NEW', PHONE: [] })
  portal.contacts.push({ ID: 5, NAME: 'Пётр', PHONE: [{ VALUE: '+79001110005' }] })

  /** The contact's step as the settle enqueues it, and its row as the worker hands it over (attempt `attempt`). */
  const settle = async (c: CampaignContactView): Promise<OutboxRow> => {
    const claim = `claim-${c.id}`
    await store.driver.transaction((tx) => enqueueCampaignOutcome(tx, claim, campaign, c, { bitrix24Portal: portal.origin }, new Date()))
    return (await outbox.list({ callId: claim }))[0]
  }
  const deliver = (row: OutboxRow, attempt = 1): Promise<DeliveryOutcome> => connector.deliver({ ...row, attempts: attempt }, AbortSignal.timeout(5000))
  const commentsOn = (kind: string, id: number) => portal.comments.filter((c) => c.ENTITY_TYPE === kind && c.ENTITY_ID === id)

  await t.test('never reached: a comment on the lead with the number; its status left alone', async (t) => {
    const row = await settle(contact({}))
    t.same(await deliver(row), { kind: 'delivered' })
    t.equal(commentsOn('lead', 1).length, 1)
    t.match(commentsOn('lead', 1)[0].COMMENT, /Campaign "Spring offer": no answer after 3 attempts/)
    t.equal(portal.leads[0].STATUS_ID, 'NEW')
  })

  await t.test('do-not-call on a contact fed from a lead: that lead, found without a lookup, gets the junk status', async (t) => {
    const lookups = portal.count('crm.duplicate.findbycomm')
    const row = await settle(
      contact({
        phone: '+79009999999',
        fields: { leadId: '2' },
        state: 'do-not-call',
        outcome: 'do-not-call',
        lastResult: 'answered',
        lastRule: 'do-not-call',
      }),
    )
    t.same(await deliver(row), { kind: 'delivered' })
    t.equal(portal.count('crm.duplicate.findbycomm'), lookups)
    t.match(commentsOn('lead', 2)[0]?.COMMENT, /asked not to be called/)
    t.equal(portal.leads[1].STATUS_ID, 'JUNK')
  })

  await t.test('a wrong number with no status configured for it: a comment only', async (t) => {
    const before = commentsOn('lead', 1).length
    const row = await settle(contact({ state: 'done', outcome: 'wrong-number', lastResult: 'answered', lastStatus: 200 }))
    t.same(await deliver(row), { kind: 'delivered' })
    t.equal(commentsOn('lead', 1).length, before + 1)
    t.match(commentsOn('lead', 1).at(-1)!.COMMENT, /reached, outcome: wrong-number/)
    t.equal(portal.leads[0].STATUS_ID, 'NEW')
  })

  await t.test('a number known as a contact: the comment goes on the contact', async (t) => {
    const row = await settle(contact({ phone: '+79001110005', state: 'failed', lastResult: 'rejected', lastStatus: 404, lastRule: 'invalid-number' }))
    t.same(await deliver(row), { kind: 'delivered' })
    t.match(commentsOn('contact', 5)[0]?.COMMENT, /not callable \(rejected 404\)/)
  })

  await t.test('a number the portal does not know: nothing written', async (t) => {
    const before = portal.comments.length
    t.same(await deliver(await settle(contact({ phone: '+79007777777' }))), { kind: 'delivered' })
    t.equal(portal.comments.length, before)
    t.equal(portal.leads.length, 2, 'no lead for a cold number')
  })

  await t.test("waits for the last call's own Bitrix24 step", async (t) => {
    const c = contact({ state: 'done', outcome: 'not-interested', lastResult: 'answered' })
    await store.driver.transaction((tx) => enqueueSteps(tx, c.lastCallId!, [{ step: BITRIX24_STEP, target: portal.origin }]))
    const row = await settle(c)
    const before = portal.comments.length
    t.match(await deliver(row), { kind: 'retry', error: /waiting for call/ })
    t.equal(portal.comments.length, before)
    await store.driver.query(`UPDATE crm_outbox SET state = 'delivered' WHERE call_id = $1`, [c.lastCallId])
    t.same(await deliver(row, 2), { kind: 'delivered' })
    t.equal(portal.comments.length, before + 1)
  })

  await t.test('a retry after a lost answer finds its comment: no twin', async (t) => {
    const row = await settle(contact({}))
    const before = commentsOn('lead', 1).length
    portal.faults['crm.timeline.comment.add'] = ['lose']
    t.equal((await deliver(row)).kind, 'retry')
    t.equal(commentsOn('lead', 1).length, before + 1, 'the lost attempt did add it')
    t.same(await deliver(row, 2), { kind: 'delivered' })
    t.equal(commentsOn('lead', 1).length, before + 1)
    // a retry whose earlier attempt did not get as far adds it
    const other = await settle(contact({}))
    t.same(await deliver(other, 2), { kind: 'delivered' })
    t.equal(commentsOn('lead', 1).length, before + 2)
  })

  await t.test('several contacts in one delivery, each its own outcome', async (t) => {
    const rows = [await settle(contact({})), await settle(contact({ phone: '+79001110005' })), await settle(contact({ fields: { leadId: '999' } }))]
    const out = await connector.deliverMany(
      rows.map((r) => ({ ...r, attempts: 1 })),
      AbortSignal.timeout(5000),
    )
    t.same(out.slice(0, 2), [{ kind: 'delivered' }, { kind: 'delivered' }])
    t.match(out[2], { kind: 'dead', error: /Entity not found/ }, 'a lead id the portal does not have is refused for good')
  })
})
