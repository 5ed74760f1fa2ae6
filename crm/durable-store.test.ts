import { randomUUID } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import type { CallStore } from './call-store.ts'
import { DurableCallStore, isConnectionError } from './durable-store.ts'
import { Journal } from './journal.ts'
import { openStore } from './open-store.ts'
import type { SqlDriver, SqlExecutor } from './sql-driver.ts'

// The database is the real embedded Postgres (PGlite); only its reachability is faked, at the
// driver boundary, with the error pg gives for a refused connection.
class Faulty implements SqlDriver {
  down = false
  /** The next transaction commits, then its acknowledgement is "lost" (ECONNRESET). */
  loseNextAck = false
  /** Transactions wait for this before they start (a replay held open). */
  gate: Promise<void> | undefined

  constructor(private readonly real: SqlDriver) {}

  private refused(): Error {
    return Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })
  }
  async query<T>(sql: string, params?: unknown[]) {
    if (this.down) throw this.refused()
    return this.real.query<T>(sql, params)
  }
  async exec(sql: string) {
    if (this.down) throw this.refused()
    return this.real.exec(sql)
  }
  async transaction<R>(fn: (tx: SqlExecutor) => Promise<R>): Promise<R> {
    await this.gate
    if (this.down) throw this.refused()
    const r = await this.real.transaction(fn)
    if (this.loseNextAck) {
      this.loseNextAck = false
      throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })
    }
    return r
  }
  close() {
    return this.real.close()
  }
}

interface Rig {
  db: Faulty
  plain: CallStore
  dir: string
  open(): Promise<DurableCallStore>
}

// One embedded database for the whole file (opening PGlite costs seconds); each test has its own
// journal folder and its own call ids.
let shared: Promise<{ plain: CallStore; dir: string }> | undefined
t.teardown(async () => {
  if (!shared) return
  const { plain, dir } = await shared
  await plain.close()
  await rm(dir, { recursive: true, force: true })
})

async function rig(t: Test): Promise<Rig> {
  shared ??= mkdtemp(join(tmpdir(), 'durable-')).then(async (dir) => ({ dir, plain: await openStore({ dataDir: dir }) }))
  const { plain } = await shared
  const dir = await mkdtemp(join(tmpdir(), 'durable-journal-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const db = new Faulty(plain.driver)
  return {
    db,
    plain,
    dir,
    // the retry timer never fires within a test: replays are started by the test
    open: async () => new DurableCallStore(db, { journal: await Journal.open(join(dir, 'journal')), instanceId: 'test', retryMinMs: 3_600_000 }),
  }
}

const call = (id = randomUUID()) => ({
  id,
  sipCallId: `${id}@sipp`,
  direction: 'inbound' as const,
  fromUri: 'sip:79161234567@127.0.0.1',
  toUri: 'sip:sales@127.0.0.1',
  callerId: '79161234567',
  startedAt: new Date('2026-01-02T10:00:00.000Z'),
})

t.test('a call made while the database is down is journalled and written once it is back', async (t) => {
  const { db, plain, open } = await rig(t)
  const store = await open()
  db.down = true
  const c = call()
  await store.createCall(c)
  await store.appendTurns(c.id, [
    { who: 'bot', startMs: 0, endMs: 1000, step: 'greeting' },
    { who: 'caller', startMs: 1200, endMs: 2000, clipPath: '/x.wav' },
  ])
  await store.appendDtmf(c.id, [{ digit: '5', atMs: 1500, source: 'rfc4733' }])
  await store.saveLead(c.id, { callerId: c.callerId, clips: { name: '/x.wav' }, outcome: 'lead' })
  await store.updateCall(c.id, { answeredAt: new Date('2026-01-02T10:00:01.000Z'), endedAt: new Date('2026-01-02T10:01:00.000Z'), result: 'completed' })
  t.equal(store.pending, 5, 'every write waits in the journal')
  t.equal(await store.ping(), false)
  await t.rejects(store.getCall(c.id), /ECONNREFUSED/, 'reads are not journalled')
  await store.replay()
  t.equal(store.pending, 5, 'a replay while still down applies nothing')

  db.down = false
  t.equal(await store.ping(), true, 'a ping that succeeds starts the replay')
  await store.replay()
  t.equal(store.pending, 0)
  const got = await plain.getCall(c.id)
  t.equal(got?.startedAt, '2026-01-02T10:00:00.000Z', 'dates come back as dates')
  t.equal(got?.endedAt, '2026-01-02T10:01:00.000Z')
  t.equal(got?.result, 'completed')
  t.same(
    got?.turns.map((x) => [x.seq, x.step]),
    [
      [1, 'greeting'],
      [2, null],
    ],
  )
  t.same(
    got?.dtmf.map((d) => d.digit),
    ['5'],
  )
  t.equal(got?.lead?.outcome, 'lead')
  const { rows } = await plain.driver.query<{ instance_id: string }>('SELECT instance_id FROM calls WHERE id = $1', [c.id])
  t.equal(rows[0].instance_id, 'test', 'the row carries its instance')
  const applied = await plain.driver.query('SELECT * FROM journal_applied')
  t.equal(applied.rows.length, 0, 'the drained generation is rotated and its markers deleted')

  // Back to direct writes.
  await store.updateCall(c.id, { endReason: 'remote-bye' })
  t.equal(store.pending, 0)
  t.equal((await plain.getCall(c.id))?.endReason, 'remote-bye')
})

t.test('exactly once across a crash in the middle of a replay', async (t) => {
  const { db, plain, open } = await rig(t)
  const first = await open()
  db.down = true
  const c = call()
  await first.createCall(c)
  await first.appendTurns(c.id, [{ who: 'bot', startMs: 0, endMs: 10 }])
  await first.appendTurns(c.id, [{ who: 'caller', startMs: 20, endMs: 30 }])
  await first.updateCall(c.id, { result: 'completed', endedAt: new Date() })
  db.down = false
  // The second entry commits but its acknowledgement is lost; the process "dies" right there.
  let n = 0
  const realTx = db.transaction.bind(db)
  db.transaction = (fn) => {
    if (++n === 2) db.loseNextAck = true
    return realTx(fn)
  }
  await first.replay()
  t.equal(first.pending, 3, 'the replay stopped after the entry whose answer was lost')
  db.transaction = realTx

  // A new process on the same DATA_DIR: the journal file still holds all four entries.
  const second = await open()
  t.equal(second.pending, 4, 'nothing was acknowledged on disk')
  await second.replay()
  t.equal(second.pending, 0)
  const got = await plain.getCall(c.id)
  t.same(
    got?.turns.map((x) => [x.seq, x.who]),
    [
      [1, 'bot'],
      [2, 'caller'],
    ],
    'no turn applied twice',
  )
  t.equal(got?.result, 'completed')
})

t.test('writes made while a replay runs queue behind it', async (t) => {
  const { db, plain, open } = await rig(t)
  const store = await open()
  db.down = true
  const c = call()
  await store.createCall(c)
  db.down = false
  let release!: () => void
  db.gate = new Promise((r) => (release = r))
  const replay = store.replay()
  // The call ends during the replay: going straight to the database, this would fail (no row
  // yet) or land before the createCall.
  await store.updateCall(c.id, { result: 'completed', endedAt: new Date() })
  t.equal(store.pending, 2, 'the write was journalled behind the replay')
  release()
  db.gate = undefined
  await replay
  if (store.pending) await store.replay() // it may have joined after the replay read the journal
  t.equal(store.pending, 0)
  t.equal((await plain.getCall(c.id))?.result, 'completed')
})

t.test('what the database refuses is not journalled: it is kept aside and reported', async (t) => {
  const { db, plain, dir, open } = await rig(t)
  const store = await open()
  const c = call()
  await store.createCall(c)
  await t.rejects(store.addDtmf(c.id, { digit: 'X', atMs: 1, source: 'rfc4733' }), { code: '23514' })
  t.equal(store.pending, 0, 'a constraint violation never waits in the journal')

  // Journalled while down, refused once replayed: set aside, the entries after it still go in.
  db.down = true
  await store.updateCall(randomUUID(), { result: 'completed' })
  await store.updateCall(c.id, { result: 'completed' })
  db.down = false
  await store.replay()
  t.equal(store.pending, 0)
  t.equal((await plain.getCall(c.id))?.result, 'completed')
  const rejected = (await readFile(join(dir, 'journal', 'rejected.ndjson'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
  t.same(
    rejected.map((r) => r.op),
    ['addDtmf', 'updateCall'],
  )
  t.match(rejected[1].reason, /no call with id/)
})

t.test('connection errors are told apart from refusals', async (t) => {
  t.ok(isConnectionError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })))
  t.ok(isConnectionError(new Error('Connection terminated unexpectedly')))
  t.ok(isConnectionError(new Error('timeout exceeded when trying to connect')))
  t.ok(isConnectionError(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })))
  t.ok(isConnectionError(Object.assign(new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })]), {})))
  t.notOk(isConnectionError(Object.assign(new Error('duplicate key'), { code: '23505' })))
  t.notOk(isConnectionError(new Error('updateCall: no call with id x')))
  t.notOk(isConnectionError(undefined))
})

t.test('finishCall while the database is down: the CRM step is journalled with the record and replayed once', async (t) => {
  const { db, plain, open } = await rig(t)
  const store = await open()
  store.outboxSteps = [{ step: 'webhook.lead', target: 'http://crm.example/hook' }]
  const c = call()
  await store.createCall(c)
  db.down = true
  await store.finishCall(c.id, { endedAt: new Date('2026-01-02T10:01:00.000Z'), result: 'completed' })
  t.equal(store.pending, 1, 'record and step are one journal entry')
  // the steps in force when the call finished go with it, not those at replay time
  store.outboxSteps = []
  db.down = false
  db.loseNextAck = true // the replay commits but its acknowledgement is lost: replayed again
  await store.replay()
  await store.replay()
  t.equal(store.pending, 0)
  t.equal((await plain.getCall(c.id))?.endedAt, '2026-01-02T10:01:00.000Z', 'dates revived')
  const { rows } = await plain.driver.query<{ step: string; target: string; state: string }>('SELECT step, target, state FROM crm_outbox WHERE call_id = $1', [
    c.id,
  ])
  t.same(rows, [{ step: 'webhook.lead', target: 'http://crm.example/hook', state: 'queued' }], 'one row')
})
