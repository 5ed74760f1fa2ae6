import t from 'tap'
import { startedPortal } from '../../test/helpers/crm-fixture.ts'
import { Bitrix24Client } from './bitrix24-client.ts'
import { leadsForCampaign, parseLeadFilter } from './lead-source.ts'

t.test('a campaign from the portal leads a filter matches', async (t) => {
  const portal = await startedPortal(t)
  // 130 leads: every third is IN_PROCESS, every 10th has no phone, lead 7 repeats lead 4's number in another form
  for (let i = 1; i <= 130; i++) {
    portal.leads.push({
      ID: i,
      TITLE: `Lead ${i}`,
      NAME: `Name${i}`,
      LAST_NAME: i % 2 ? `Last${i}` : '',
      COMPANY_TITLE: i % 5 ? `Co ${i}` : null,
      STATUS_ID: i % 3 ? 'NEW' : 'IN_PROCESS',
      SOURCE_ID: 'WEB',
      ASSIGNED_BY_ID: i <= 65 ? 1 : 2,
      DATE_CREATE: new Date(Date.UTC(2026, 0, 1) + i * 3600_000).toISOString(),
      PHONE: i % 10 === 0 ? [] : [{ VALUE: i === 7 ? '8 (900) 000-00-04' : `+7900000${String(i).padStart(4, '0')}`, VALUE_TYPE: 'WORK' }],
    })
  }
  portal.leads.push({ ID: 131, TITLE: 'Bad', STATUS_ID: 'NEW', PHONE: [{ VALUE: 'call me' }] })
  const client = new Bitrix24Client({ auth: { webhookUrl: portal.url }, ratePerS: 50 })

  await t.test('every page is read, the numbers normalised, the lead id kept', async (t) => {
    const from = portal.calls.length
    const r = await leadsForCampaign(client, { statusId: ['NEW'] })
    const news = portal.leads.filter((l) => l.STATUS_ID === 'NEW')
    t.equal(r.total, news.length)
    t.equal(r.truncated, false)
    // no phone: i % 10 === 0 and NEW; the bad number; lead 7 is a duplicate of lead 4
    const noPhone = news.filter((l) => (l.PHONE as unknown[]).length === 0).length
    t.equal(r.errors.length, noPhone + 1)
    t.same(r.errors.at(-1), { leadId: '131', error: 'no valid phone number (call me)' })
    t.equal(r.duplicates, 1)
    t.equal(r.contacts.length, news.length - noPhone - 1 - 1)
    t.same(r.contacts[0], { phone: '+79000000001', name: 'Name1 Last1', fields: { leadId: '1', company: 'Co 1', title: 'Lead 1' } })
    t.same(
      r.contacts.find((c) => c.fields.leadId === '5'),
      { phone: '+79000000005', name: 'Name5 Last5', fields: { leadId: '5', title: 'Lead 5' } },
    )
    t.notOk(
      r.contacts.some((c) => c.fields.leadId === '7'),
      'the later lead with a number already seen is left out',
    )
    t.same(
      portal.calls.slice(from).map((c) => c.method),
      ['crm.lead.list', 'batch'],
      'the first page, then the other pages in one batch',
    )
  })

  await t.test('the cap stops the read and says so', async (t) => {
    const r = await leadsForCampaign(client, {}, { cap: 60 })
    t.equal(r.total, 131)
    t.equal(r.truncated, true)
    t.equal(r.contacts.length + r.errors.length + r.duplicates, 60)
    t.equal(r.contacts.at(-1)!.fields.leadId, '59', 'oldest first: lead 60 has no phone')
  })

  await t.test('status, source, responsible and creation time filter together', async (t) => {
    const r = await leadsForCampaign(client, { statusId: ['IN_PROCESS'], sourceId: ['WEB'], assignedById: [2], createdFrom: '2026-01-04T00:00:00Z' })
    // IN_PROCESS (i % 3 === 0), responsible 2 (i > 65), created from hour 72 on (i >= 72), with a phone
    const want = Array.from({ length: 130 }, (_, k) => k + 1).filter((i) => i % 3 === 0 && i > 65 && i >= 72 && i % 10 !== 0)
    t.same(
      r.contacts.map((c) => Number(c.fields.leadId)),
      want,
    )
  })
})

t.test('the API filter is checked', async (t) => {
  t.same(parseLeadFilter({ statusId: 'NEW', assignedById: [3, 4], createdFrom: '2026-01-01' }), {
    statusId: ['NEW'],
    assignedById: [3, 4],
    createdFrom: '2026-01-01',
  })
  t.throws(() => parseLeadFilter([]), /must be an object/)
  t.throws(() => parseLeadFilter({ status: 'NEW' }), /filter.status is not a lead filter/)
  t.throws(() => parseLeadFilter({ assignedById: ['x'] }), /assignedById must be/)
  t.throws(() => parseLeadFilter({ statusId: [] }), /statusId must be/)
  t.throws(() => parseLeadFilter({ createdFrom: 'yesterday' }), /createdFrom must be/)
})
