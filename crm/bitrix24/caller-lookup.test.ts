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
