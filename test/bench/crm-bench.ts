/**
 * Bitrix24 delivery figures against the local test portal (crm/bitrix24/fake-portal.ts), through
 * the real outbox worker and connector in application mode, on an embedded database:
 *   latency: calls finishing one every LATENCY_GAP_MS, delivered at the portal's rate; the time from
 *            the call's end to its row's delivered_at, p50 and p99;
 *   drain:   DRAIN_CALLS calls queued while the CRM was away, then the worker started; the time
 *            until the last is delivered, and the requests it took.
 * Run: node --import tsx test/bench/crm-bench.ts   (BITRIX24_RATE_PER_S, default 2)
 */
import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { CallStore } from '../../crm/call-store.ts'
import { openStore } from '../../crm/open-store.ts'
import { OutboxWorker } from '../../crm/outbox/outbox-worker.ts'
import { BATCH_MAX, Bitrix24Client } from '../../crm/bitrix24/bitrix24-client.ts'
import { BITRIX24_STEP, Bitrix24Connector } from '../../crm/bitrix24/bitrix24-connector.ts'
import { Bitrix24OAuth } from '../../crm/bitrix24/bitrix24-oauth.ts'
import { CLIENT_ID, CLIENT_SECRET, FakePortal } from '../../crm/bitrix24/fake-portal.ts'

const RATE = Number(process.env.BITRIX24_RATE_PER_S ?? 2)
const LATENCY_CALLS = Number(process.env.LATENCY_CALLS ?? 60)
const LATENCY_GAP_MS = Number(process.env.LATENCY_GAP_MS ?? 500)
const DRAIN_CALLS = Number(process.env.DRAIN_CALLS ?? 1000)

async function finish(store: CallStore, target: string, i: number): Promise<string> {
  const id = randomUUID()
  const phone = `+7901${String(i).padStart(7, '0')}`
  await store.createCall({
    id,
    sipCallId: `${id}@b`,
    direction: 'inbound',
    fromUri: `sip:${phone}@t`,
    toUri: 'sip:s@p',
    callerId: phone,
    startedAt: new Date(),
  })
  await store.appendTurns(id, [{ who: 'caller', startMs: 0, endMs: 900, text: `Name ${i}` }])
  await store.saveLead(id, { callerId: phone, clips: {}, slots: { name: `Name ${i}` }, outcome: 'qualified' })
  await store.finishCall(id, { answeredAt: new Date(), endedAt: new Date(), result: 'completed' }, [{ step: BITRIX24_STEP, target }])
  return id
}

async function setup(name: string) {
  const dataDir = await mkdtemp(join(tmpdir(), `crm-bench-${name}-`))
  const store = await openStore({ dataDir })
  const portal = new FakePortal()
  await portal.start()
  const oauth = new Bitrix24OAuth({ db: store.driver, portal: portal.origin, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, oauthUrl: portal.oauthUrl })
  await oauth.bootstrap(portal.refreshToken)
  // as media-server/server.ts sets it up: 50 rows per claim, the default poll of 1 s
  const worker = new OutboxWorker({
    db: store.driver,
    workerId: `bench-${name}`,
    batch: BATCH_MAX,
    connectors: {
      [BITRIX24_STEP]: new Bitrix24Connector({ client: new Bitrix24Client({ auth: { oauth }, ratePerS: RATE }), loadCall: (id) => store.getCall(id) }),
    },
  })
  const undelivered = async () => Number((await store.driver.query<{ n: string }>(`SELECT count(*) AS n FROM crm_outbox WHERE state <> 'delivered'`)).rows[0].n)
  const close = async () => {
    await worker.stop()
    await portal.stop()
    await store.close()
    await rm(dataDir, { recursive: true, force: true })
  }
  return { store, portal, worker, undelivered, close }
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]

async function latency(): Promise<void> {
  const b = await setup('latency')
  await b.worker.start()
  for (let i = 0; i < LATENCY_CALLS; i++) {
    await finish(b.store, b.portal.origin, i)
    await new Promise((r) => setTimeout(r, LATENCY_GAP_MS))
  }
  while ((await b.undelivered()) > 0) await new Promise((r) => setTimeout(r, 100))
  const { rows } = await b.store.driver.query<{ ms: number }>(
    `SELECT extract(epoch FROM o.delivered_at - c.ended_at)::float8 * 1000 AS ms FROM crm_outbox o JOIN calls c ON c.id = o.call_id`,
  )
  const ms = rows.map((r) => Number(r.ms))
  console.log(
    JSON.stringify({
      figure: 'latency',
      calls: ms.length,
      gapMs: LATENCY_GAP_MS,
      ratePerS: RATE,
      requests: b.portal.calls.length,
      p50Ms: Math.round(pct(ms, 50)),
      p99Ms: Math.round(pct(ms, 99)),
      maxMs: Math.round(Math.max(...ms)),
    }),
  )
  await b.close()
}

async function drain(): Promise<void> {
  const b = await setup('drain')
  for (let i = 0; i < DRAIN_CALLS; i += 50)
    await Promise.all(Array.from({ length: Math.min(50, DRAIN_CALLS - i) }, (_, k) => finish(b.store, b.portal.origin, i + k)))
  const start = Date.now()
  await b.worker.start()
  while ((await b.undelivered()) > 0) await new Promise((r) => setTimeout(r, 100))
  const s = (Date.now() - start) / 1000
  const leads = b.portal.leads.length
  console.log(
    JSON.stringify({
      figure: 'drain',
      calls: DRAIN_CALLS,
      ratePerS: RATE,
      requests: b.portal.calls.length,
      seconds: Number(s.toFixed(1)),
      leads,
      comments: b.portal.comments.length,
    }),
  )
  await b.close()
}

await latency()
await drain()
