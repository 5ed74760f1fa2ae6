import { randomUUID, timingSafeEqual } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import t, { type Test } from 'tap'
import v8 from 'node:v8'
import vm from 'node:vm'
import type { CallStore } from '../call-store.ts'
import { withDefaultUser } from '../drivers/pg.ts'
import { openStore, type OpenStoreOptions } from '../open-store.ts'
import { OutboxWorker, type OutboxWorkerOptions } from './outbox-worker.ts'
import { OutboxStore, type OutboxRow } from './outbox-store.ts'
import { signWebhook, WEBHOOK_STEP, WebhookConnector, type WebhookLeadPayload } from './webhook.ts'

v8.setFlagsFromString('--expose-gc')
/** A full collection now (the test process runs without --expose-gc). */
const collectGarbage = vm.runInNewContext('gc') as () => void

const SERVER_URL = process.env.TEST_DATABASE_URL ?? 'postgres://127.0.0.1:5432/test'
const SECRET = 'test-secret'

/**
 * A CRM that receives the webhook over a real socket: checks the signature, and applies each
 * Idempotency-Key once (a repeat gets 200 and is not applied again), as the README asks receivers to.
 */
class Receiver {
  readonly requests: Array<{ key: string; body: WebhookLeadPayload }> = []
  readonly applied = new Map<string, WebhookLeadPayload>()
  badSignatures = 0
  /** ok; 'lose-ack': apply, then drop the connection (the sender never sees the 2xx); or a status to answer */
  mode: 'ok' | 'lose-ack' | number = 'ok'
  private server = http.createServer((req, res) => void this.handle(req, res))
  port = 0

  async start(port = 0): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve))
    this.port = (this.server.address() as AddressInfo).port
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise((resolve) => this.server.close(resolve))
    this.server = http.createServer((req, res) => void this.handle(req, res))
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/voice`
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let raw = ''
    for await (const chunk of req) raw += chunk
    const ts = String(req.headers['x-voice-timestamp'])
    const expected = Buffer.from(signWebhook(SECRET, ts, raw))
    const got = Buffer.from(String(req.headers['x-voice-signature']))
    if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
      this.badSignatures++
      res.writeHead(401).end('bad signature')
      return
    }
    const key = String(req.headers['idempotency-key'])
    const body = JSON.parse(raw) as WebhookLeadPayload
    this.requests.push({ key, body })
    if (typeof this.mode === 'number') {
      res.writeHead(this.mode, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `refused with ${this.mode}` }))
      return
    }
    if (!this.applied.has(key)) this.applied.set(key, body)
    if (this.mode === 'lose-ack') {
      req.socket.destroy()
      return
    }
    res.writeHead(200).end('{}')
  }
}

function newCall() {
  return {
    id: randomUUID(),
    sipCallId: `${randomUUID()}@10.0.0.1`,
    direction: 'inbound' as const,
    fromUri: 'sip:+79001234567@trunk.example',
    toUri: 'sip:sales@pbx.example',
    callerId: '+79001234567',
    startedAt: new Date(Date.now() - 60_000),
  }
}

/** A call that ran its course: record, turns, lead, then the final record with its CRM step. */
async function finishedCall(store: CallStore, target: string): Promise<string> {
  const c = newCall()
  await store.createCall(c)
  await store.appendTurns(c.id, [
    { who: 'bot', startMs: 0, endMs: 1500, text: 'Здравствуйте! Как вас зовут?' },
    { who: 'caller', startMs: 1700, endMs: 2600, text: 'Иван' },
  ])
  await store.saveLead(c.id, { callerId: c.callerId, phoneDigits: '79001234567', clips: {}, slots: { name: 'Иван', budget: 50000 }, outcome: 'qualified' })
  await store.finishCall(
    c.id,
    { answeredAt: new Date(Date.now() - 55_000), endedAt: new Date(), result: 'completed', recordingPath: `/data/calls/${c.id}/call.wav` },
    [{ step: WEBHOOK_STEP, target }],
  )
  return c.id
}

async function until(t: Test, what: string, check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 20))
  }
  t.fail(`timed out waiting for ${what}`)
}

async function suite(t: Test, options: OpenStoreOptions, server: boolean): Promise<void> {
  const store = await openStore(options)
  t.teardown(() => store.close())
  const outbox = new OutboxStore(store.driver)
  const receiver = new Receiver()
  await receiver.start()
  t.teardown(() => receiver.stop())
  const rowOf = async (callId: string): Promise<OutboxRow> => (await outbox.list({ callId }))[0]
  const workers: OutboxWorker[] = []
  t.teardown(() => Promise.all(workers.map((w) => w.stop())))
  // each case starts with no worker of an earlier case still running
  const stopAll = async () => {
    for (const w of workers) await w.stop()
  }
  const worker = (o: Partial<OutboxWorkerOptions> = {}): OutboxWorker => {
    const w = new OutboxWorker({
      db: store.driver,
      workerId: o.workerId ?? `w-${randomUUID()}`,
      connectors: { [WEBHOOK_STEP]: new WebhookConnector({ secret: SECRET, loadCall: (id) => store.getCall(id) }) },
      baseDelayMs: 20,
      maxDelayMs: 100,
      pollMs: 20,
      attemptTimeoutMs: 2000,
      ...o,
    })
    workers.push(w)
    return w
  }

  await t.test('the step is written with the final record, in one transaction', async (t) => {
    const id = await finishedCall(store, receiver.url)
    const row = await rowOf(id)
    t.match(row, { step: WEBHOOK_STEP, target: receiver.url, state: 'queued', attempts: 0, idempotencyKey: `${id}:${WEBHOOK_STEP}` })
    t.equal((await store.getCall(id))?.result, 'completed')

    // a finish replayed (journal) enqueues nothing twice
    await store.finishCall(id, { result: 'completed' }, [{ step: WEBHOOK_STEP, target: receiver.url }])
    t.equal((await outbox.list({ callId: id })).length, 1)

    // no call: the step is not left behind
    const ghost = randomUUID()
    await t.rejects(store.finishCall(ghost, { endedAt: new Date() }, [{ step: WEBHOOK_STEP, target: receiver.url }]), /no call with id/)
    t.same(await outbox.list({ callId: ghost }), [])

    // the step cannot be written: the call's end is rolled back with it
    const c = newCall()
    await store.createCall(c)
    await t.rejects(store.finishCall(c.id, { endedAt: new Date(), result: 'completed' }, [{ step: null as unknown as string, target: 'x' }]))
    const call = await store.getCall(c.id)
    t.equal(call?.endedAt, null, 'ended_at rolled back')
    t.equal(call?.result, null, 'result rolled back')
    t.same(await outbox.list({ callId: c.id }), [])
  })

  await t.test('delivered over a socket, signed, with the lead schema', async (t) => {
    await stopAll()
    receiver.mode = 'ok'
    const id = await finishedCall(store, receiver.url)
    const w = worker()
    await w.start()
    await until(t, 'delivery', async () => (await rowOf(id)).state === 'delivered')
    await w.stop()
    t.equal(receiver.badSignatures, 0, 'signature checks out')
    const got = receiver.applied.get(`${id}:${WEBHOOK_STEP}`)
    t.match(got, {
      schema: 'voice.lead.v1',
      event: 'call.finished',
      callId: id,
      callerNumber: '+79001234567',
      result: 'completed',
      lead: { outcome: 'qualified', phone: '79001234567', fields: { name: 'Иван', budget: 50000 } },
      transcript: [
        { seq: 1, who: 'bot', text: 'Здравствуйте! Как вас зовут?' },
        { seq: 2, who: 'caller', text: 'Иван' },
      ],
      recording: { path: `/data/calls/${id}/call.wav` },
    })
    t.ok(got && got.durationSeconds! > 50)
    t.match(await rowOf(id), { state: 'delivered', attempts: 1, lastError: null })
  })

  await t.test('receiver down, then an ack lost, then up: delivered once', async (t) => {
    await stopAll()
    const port = receiver.port
    await receiver.stop()
    const before = receiver.requests.length
    const id = await finishedCall(store, receiver.url)
    const key = `${id}:${WEBHOOK_STEP}`
    const w = worker()
    await w.start()
    await until(t, 'a few refused attempts', async () => (await rowOf(id)).attempts >= 3)
    t.match((await rowOf(id)).lastError, /POST failed: ECONNREFUSED/)
    receiver.mode = 'lose-ack'
    await receiver.start(port)
    await until(t, 'the receiver applied it', async () => receiver.applied.has(key))
    receiver.mode = 'ok'
    await until(t, 'delivery', async () => (await rowOf(id)).state === 'delivered')
    await w.stop()
    const mine = receiver.requests.slice(before).filter((r) => r.key === key)
    t.ok(mine.length >= 2, `the receiver saw the key again after the lost ack (${mine.length} requests)`)
    t.equal(new Set(receiver.requests.map((r) => r.key)).size, receiver.applied.size, 'one applied lead per distinct key')
    t.equal([...receiver.applied.keys()].filter((k) => k === key).length, 1)
  })

  await t.test('a 400 is dead with the body; retry API puts it back; then delivered', async (t) => {
    await stopAll()
    receiver.mode = 400
    const id = await finishedCall(store, receiver.url)
    const w = worker()
    await w.start()
    await until(t, 'dead letter', async () => (await rowOf(id)).state === 'dead')
    const dead = await rowOf(id)
    t.equal(dead.attempts, 1, 'no retry of a 400')
    t.match(dead.lastError, /HTTP 400: \{"error":"refused with 400"\}/)
    t.ok((await outbox.list({ state: 'dead' })).some((r) => r.id === dead.id))
    receiver.mode = 'ok'
    await w.stop()
    const back = await outbox.retry(dead.id)
    t.match(back, { state: 'queued', attempts: 0 })
    t.equal(await outbox.retry(dead.id), null, 'only a dead row can be retried')
    await worker().start()
    await until(t, 'delivery after retry', async () => (await rowOf(id)).state === 'delivered')
    t.match(await rowOf(id), { lastError: null, attempts: 1 })
  })

  await t.test('5xx until the attempts run out: dead with the last error', async (t) => {
    await stopAll()
    receiver.mode = 503
    const id = await finishedCall(store, receiver.url)
    const w = worker({ maxAttempts: 3 })
    await w.start()
    await until(t, 'dead letter', async () => (await rowOf(id)).state === 'dead')
    await w.stop()
    t.match(await rowOf(id), { attempts: 3, lastError: /HTTP 503/ })
    receiver.mode = 'ok'
  })

  await t.test('restart mid-queue loses nothing; a crashed worker rows come back', async (t) => {
    receiver.mode = 'ok'
    await stopAll()
    const ids: string[] = []
    for (let i = 0; i < 6; i++) ids.push(await finishedCall(store, receiver.url))
    // worker A claims three and "crashes" (never reports)
    const claimed = await outbox.claim('crashed-A', 3, 60_000)
    t.equal(claimed.length, 3)
    // worker B, a stranger, takes only the unclaimed rows (the lease holds)
    const b = worker({ workerId: 'B' })
    await b.runOnce()
    await b.runOnce()
    const states = await Promise.all(ids.map(async (id) => (await rowOf(id)).state))
    t.equal(states.filter((s) => s === 'delivering').length, 3, "A's rows wait for A's lease")
    // A comes back under the same id: its rows are queued again at once and delivered
    const a = worker({ workerId: 'crashed-A' })
    await a.start()
    await until(t, 'all delivered', async () => (await Promise.all(ids.map(rowOf))).every((r) => r.state === 'delivered'))
    for (const id of ids) t.equal([...receiver.applied.keys()].filter((k) => k === `${id}:${WEBHOOK_STEP}`).length, 1)
    await a.stop()

    // a lease that runs out hands the row to another worker
    const late = await finishedCall(store, receiver.url)
    await outbox.claim('crashed-C', 10, 50)
    await new Promise((r) => setTimeout(r, 100))
    await worker({ workerId: 'D' }).runOnce()
    t.equal((await rowOf(late)).state, 'delivered')
  })

  if (server) {
    await t.test('two workers on one Postgres never deliver the same row', async (t) => {
      receiver.mode = 'ok'
      await stopAll()
      const before = receiver.requests.length
      const ids: string[] = []
      for (let i = 0; i < 40; i++) ids.push(await finishedCall(store, receiver.url))
      // a second store: its own pool, like another instance
      const other = await openStore(options)
      t.teardown(() => other.close())
      const w1 = worker({ workerId: 'one', batch: 3 })
      const w2 = new OutboxWorker({
        db: other.driver,
        workerId: 'two',
        batch: 3,
        pollMs: 5,
        connectors: { [WEBHOOK_STEP]: new WebhookConnector({ secret: SECRET, loadCall: (id) => other.getCall(id) }) },
      })
      workers.push(w2)
      await Promise.all([w1.start(), w2.start()])
      await until(t, 'all delivered', async () => (await Promise.all(ids.map(rowOf))).every((r) => r.state === 'delivered'))
      const sent = receiver.requests.slice(before).map((r) => r.key)
      t.equal(sent.length, 40, 'one request per row')
      t.equal(new Set(sent).size, 40, 'no row sent twice')
    })
  }

  await t.test('a connector that never answers and ignores the signal: the attempt still ends at its timeout', async (t) => {
    await stopAll()
    const id = await finishedCall(store, receiver.url)
    let calls = 0
    const stuckOnce = {
      deliver: () => (++calls === 1 ? new Promise<never>(() => {}) : Promise.resolve({ kind: 'delivered' as const })),
    }
    const w = worker({ connectors: { [WEBHOOK_STEP]: stuckOnce }, attemptTimeoutMs: 300 })
    await w.start()
    // garbage collections while the attempt waits: a timeout signal held only weakly (AbortSignal.any
    // over AbortSignal.timeout on Node 20) is collected and never fires, and the row stays delivering
    const stop = Date.now() + 2000
    while (calls === 0 && Date.now() < stop) await new Promise((r) => setTimeout(r, 10))
    for (let i = 0; i < 5; i++) {
      collectGarbage()
      await new Promise((r) => setTimeout(r, 20))
    }
    await until(t, 'delivered', async () => (await rowOf(id)).state === 'delivered', 10_000)
    await w.stop()
    t.match(await rowOf(id), { state: 'delivered', attempts: 2 }, 'the stuck first attempt timed out; the second delivered')
  })

  await t.test('stats for the metrics', async (t) => {
    const s = await outbox.stats()
    t.ok(s.rows.delivered > 0)
    t.ok(s.rows.dead >= 1)
    t.type(s.oldestAgeSeconds, 'number')
  })
}

t.test('embedded PGlite', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'crm-outbox-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  await suite(t, { dataDir }, false)

  await t.test('rows survive a process restart (reopened database)', async (t) => {
    const receiver = new Receiver()
    await receiver.start()
    t.teardown(() => receiver.stop())
    let store = await openStore({ dataDir })
    const ids = [await finishedCall(store, receiver.url), await finishedCall(store, receiver.url)]
    await store.close()
    store = await openStore({ dataDir })
    t.teardown(() => store.close())
    const w = new OutboxWorker({
      db: store.driver,
      workerId: 'after-restart',
      pollMs: 20,
      connectors: { [WEBHOOK_STEP]: new WebhookConnector({ secret: SECRET, loadCall: (id) => store.getCall(id) }) },
    })
    await w.start()
    t.teardown(() => w.stop())
    await until(t, 'delivered', async () => receiver.applied.size === 2)
    t.same([...receiver.applied.keys()].sort(), ids.map((id) => `${id}:${WEBHOOK_STEP}`).sort())
  })
})

t.test('Postgres server', async (t) => {
  const probe = new pg.Client({ connectionString: withDefaultUser(SERVER_URL), connectionTimeoutMillis: 3000 })
  try {
    await probe.connect()
  } catch (err) {
    if (err instanceof pg.DatabaseError) throw err
    const line = `Postgres server at ${SERVER_URL} not reachable (${(err as Error).message})`
    if (process.env.CI === 'true') t.fail(`${line}: CI=true requires the server variant`)
    else {
      console.error(`# ${line}: server variant skipped, embedded variant still runs`)
      t.pass('server variant skipped', { skip: `${SERVER_URL} not reachable` })
    }
    return
  }
  const schema = `crm_outbox_test_${randomUUID().replaceAll('-', '')}`
  t.teardown(async () => {
    await probe.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await probe.end()
  })
  await suite(t, { databaseUrl: SERVER_URL, databaseSchema: schema, dataDir: tmpdir() }, true)
})
