import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { openStore } from '../../crm/open-store.ts'
import { OutboxStore } from '../../crm/outbox/outbox-store.ts'
import { Metrics } from '../metrics.ts'
import { createCrmRoutes } from './crm-routes.ts'

t.test('outbox API and metrics', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'crm-routes-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const store = await openStore({ dataDir })
  t.teardown(() => store.close())
  const outbox = new OutboxStore(store.driver)
  const metrics = new Metrics()
  const hooks = metrics.watchOutbox(outbox)
  let kicked = 0
  const routes = createCrmRoutes(outbox, { kick: () => kicked++ })
  const server = http.createServer((req, res) => {
    void routes(req, res, new URL(req.url ?? '/', 'http://localhost')).then((handled) => {
      if (!handled) res.writeHead(404).end()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise((r) => server.close(r)))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  const id = randomUUID()
  await store.createCall({ id, sipCallId: 'x@y', direction: 'inbound', fromUri: 'sip:a@b', toUri: 'sip:c@d', callerId: '+7900', startedAt: new Date() })
  await store.finishCall(id, { endedAt: new Date(), result: 'completed' }, [{ step: 'webhook.lead', target: 'http://127.0.0.1:9/x' }])
  const [claimed] = await outbox.claim('w', 1, 60_000)
  await outbox.dead(claimed.id, 'w', 'HTTP 400: bad lead')
  hooks.failed?.('webhook.lead', true)

  let r = await fetch(`${base}/api/crm/outbox?state=dead`)
  t.equal(r.status, 200)
  const { rows } = (await r.json()) as { rows: Array<{ id: string; callId: string; lastError: string }> }
  t.match(rows, [{ id: claimed.id, callId: id, lastError: 'HTTP 400: bad lead' }])
  t.equal((await fetch(`${base}/api/crm/outbox?state=nope`)).status, 400)
  t.equal((await fetch(`${base}/api/crm/outbox/${claimed.id}`)).status, 200)
  t.equal((await fetch(`${base}/api/crm/outbox/abc`)).status, 404)
  t.equal((await fetch(`${base}/api/crm/outbox/${claimed.id}/retry`)).status, 405, 'retry is a POST')

  const text = await metrics.registry.metrics()
  t.match(text, /voice_crm_outbox_rows\{state="dead"\} 1/)
  t.match(text, /voice_crm_outbox_rows\{state="queued"\} 0/)
  t.match(text, /voice_crm_failed_total\{step="webhook.lead",final="true"\} 1/)
  t.match(text, /voice_crm_outbox_oldest_age_seconds 0/)

  r = await fetch(`${base}/api/crm/outbox/${claimed.id}/retry`, { method: 'POST' })
  t.equal(r.status, 200)
  t.match(await r.json(), { row: { state: 'queued', attempts: 0 } })
  t.equal(kicked, 1, 'the worker is woken')
  t.equal((await fetch(`${base}/api/crm/outbox/${claimed.id}/retry`, { method: 'POST' })).status, 409, 'a queued row cannot be retried')
  t.equal((await fetch(`${base}/api/crm/outbox/999999/retry`, { method: 'POST' })).status, 404)
  await new Promise((r) => setTimeout(r, 150))
  t.match(await metrics.registry.metrics(), /voice_crm_outbox_rows\{state="queued"\} 1/)
})
