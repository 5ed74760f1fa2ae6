import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import t from 'tap'
import { openDurableStore } from '../../crm/open-store.ts'
import { OutboxStore } from '../../crm/outbox/outbox-store.ts'
import { closeCrashedCalls } from './crash-recovery.ts'

t.test('a call left open by a crash is closed with its CRM step enqueued', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'crash-recovery-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const store = await openDurableStore({ dataDir })
  t.teardown(() => store.close())
  const id = randomUUID()
  await store.createCall({ id, sipCallId: `${id}@x`, direction: 'inbound', fromUri: 'sip:a@b', toUri: 'sip:c@d', callerId: '+7900', startedAt: new Date() })
  await store.saveLead(id, { callerId: '+7900', clips: {}, slots: { name: 'Иван' }, outcome: 'qualified' })
  store.outboxSteps = [{ step: 'webhook.lead', target: 'http://crm.example/hook' }]
  t.equal(await closeCrashedCalls(store, dataDir, pino({ level: 'silent' })), 1)
  t.match(await store.getCall(id), { result: 'failed', endReason: 'crash' })
  t.match(await new OutboxStore(store.driver).list({ callId: id }), [{ step: 'webhook.lead', state: 'queued', idempotencyKey: `${id}:webhook.lead` }])
})
