import t from 'tap'
import { Bitrix24Client } from './bitrix24-client.ts'
import { CallerLookup } from './caller-lookup.ts'
import { startedPortal } from '../../test/helpers/crm-fixture.ts'

t.test('caller lookup during a call', async (t) => {
  const portal = await startedPortal(t)
  portal.leads.push({
    ID: 1,
    ASSIGNED_BY_ID: 1,
    NAME: 'Анна',
    LAST_NAME: 'Смирнова',
    COMPANY_TITLE: 'Ромашка',
    STATUS_ID: 'IN_PROCESS',
    PHONE: [{ VALUE: '+79004440001' }],
  })

  await t.test('a known caller: their lead, name and company in one request', async (t) => {
    const lookup = new CallerLookup(new Bitrix24Client({ auth: { webhookUrl: portal.url } }))
    const from = portal.calls.length
    t.same(await lookup.lookup('+7 900 444-00-01'), { leadId: '1', name: 'Анна Смирнова', company: 'Ромашка', status: 'IN_PROCESS' })
    t.equal(portal.calls.length - from, 1, 'one batch request')
    t.equal(await lookup.lookup('+79004449999'), undefined, 'an unknown caller')
    t.equal(await lookup.lookup('anonymous'), undefined, 'no number: no request')
    t.equal(portal.calls.length - from, 2)
  })

  await t.test('a contact with an open deal: name, the deal, its need and budget, in the same one request', async (t) => {
    portal.contacts.push({ ID: 5, NAME: 'Борис', LAST_NAME: 'Козлов', PHONE: [{ VALUE: '+79004440002' }] })
    // a deal without a contact (what an empty reference would list) and a closed one are not his
    portal.deals.push({ ID: 1, TITLE: 'Чужая', STAGE_SEMANTIC_ID: 'P', OPPORTUNITY: 1 })
    portal.deals.push({ ID: 2, CONTACT_ID: 5, TITLE: 'Старая', STAGE_SEMANTIC_ID: 'S', OPPORTUNITY: 5 })
    portal.deals.push({ ID: 3, CONTACT_ID: 5, TITLE: 'CRM на 20 мест', STAGE_SEMANTIC_ID: 'P', OPPORTUNITY: 700000, COMMENTS: 'Need: CRM для отдела продаж' })
    const lookup = new CallerLookup(new Bitrix24Client({ auth: { webhookUrl: portal.url } }))
    const from = portal.calls.length
    t.same(await lookup.lookup('+79004440002'), {
      contactId: '5',
      name: 'Борис Козлов',
      deal: { id: '3', title: 'CRM на 20 мест', opportunity: 700000 },
      need: 'CRM для отдела продаж',
      budget: 700000,
    })
    t.equal(portal.calls.length - from, 1, 'one batch request')
    portal.deals.splice(2, 1)
    t.same(await lookup.lookup('+79004440002'), { contactId: '5', name: 'Борис Козлов' }, 'no open deal: the contact alone')
    portal.contacts.length = 0
    portal.deals.length = 0
  })

  await t.test('a CRM that does not answer: unknown caller at the deadline, nothing thrown', async (t) => {
    const lookup = new CallerLookup(new Bitrix24Client({ auth: { webhookUrl: portal.url } }), 200)
    portal.faults.batch = ['stall']
    t.equal(await lookup.lookup('+79004440001'), undefined)
    portal.faults.batch = [{ status: 503, error: 'QUERY_LIMIT_EXCEEDED', description: 'Too many requests' }]
    t.equal(await lookup.lookup('+79004440001'), undefined, 'a refusal too')
  })

  await t.test('the lookup does not queue behind the outbox: it goes ahead of paced requests, counted in the bucket', async (t) => {
    const client = new Bitrix24Client({ auth: { webhookUrl: portal.url }, ratePerS: 2 })
    const lookup = new CallerLookup(client, 1000)
    const from = portal.calls.length
    const backlog = Promise.all(Array.from({ length: 4 }, () => client.call('crm.lead.list', {})))
    await new Promise((r) => setTimeout(r, 50))
    t.match(await lookup.lookup('+79004440001'), { leadId: '1' }, 'answered while the backlog waits its pace')
    await backlog
    const order = portal.calls.slice(from).map((c) => c.method)
    t.equal(order.indexOf('batch'), 1, 'sent after the first paced request, before the other three')
    // the lookup took a slot: a paced request right after it waits one interval
    const fresh = new Bitrix24Client({ auth: { webhookUrl: portal.url }, ratePerS: 2 })
    const next = portal.calls.length
    await new CallerLookup(fresh, 1000).lookup('+79004440001')
    await fresh.call('crm.lead.list', {})
    const [a, b] = portal.calls.slice(next).map((c) => c.at)
    t.ok(b - a >= 400, `the next paced request waited its slot (${b - a} ms)`)
  })
})
