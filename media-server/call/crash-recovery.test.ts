import { randomUUID } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import t from 'tap'
import { openDurableStore } from '../../crm/open-store.ts'
import { OutboxStore } from '../../crm/outbox/outbox-store.ts'
import { encodeWav, readWav } from '../../codecs/wav.ts'
import { bridgeRecordingOf, closeCrashedCalls, recordingPathOf } from './crash-recovery.ts'

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

t.test("a crash during a transfer FreeSWITCH bridged: FreeSWITCH's recording of it is joined on", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'crash-recovery-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const store = await openDurableStore({ dataDir })
  t.teardown(() => store.close())
  const id = randomUUID()
  await store.createCall({ id, sipCallId: `${id}@x`, direction: 'inbound', fromUri: 'sip:a@b', toUri: 'sip:c@d', callerId: '+7900', startedAt: new Date() })
  const recording = recordingPathOf(dataDir, id)
  await mkdir(join(dataDir, 'calls', id), { recursive: true })
  await writeFile(recording, encodeWav(new Int16Array(16000 * 2).fill(1), 16000, 2)) // 1 s before the hand-over
  await writeFile(bridgeRecordingOf(recording), encodeWav(new Int16Array(16000 * 2 * 3).fill(2), 16000, 2)) // 3 s bridged
  const bridgedAt = (await stat(bridgeRecordingOf(recording))).mtime
  await closeCrashedCalls(store, dataDir, pino({ level: 'silent' }))
  const wav = readWav(await readFile(recording))
  t.equal(wav.samples.length, 16000 * 2 * 4, 'the call and its bridged part, in one file')
  t.equal(wav.samples.at(-1), 2)
  await t.rejects(stat(bridgeRecordingOf(recording)), { code: 'ENOENT' }, "FreeSWITCH's file is gone")
  const call = await store.getCall(id)
  t.match(call, { result: 'failed', endReason: 'crash', recordingError: /\(4\.0 s\)/ })
  t.equal(new Date(call!.endedAt!).getTime(), bridgedAt.getTime(), 'ended when the bridged part was last written')
})
