import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { pino } from 'pino'
import t, { type Test } from 'tap'
import type { CallStore } from './call-store.ts'
import { openPgDriver, withDefaultUser } from './drivers/pg.ts'
import { openPgliteDriver } from './drivers/pglite.ts'
import { loadMigrations, migrate } from './migrate.ts'
import { openStore, type OpenStoreOptions } from './open-store.ts'
import type { SqlDriver } from './sql-driver.ts'

const SERVER_URL = process.env.TEST_DATABASE_URL ?? 'postgres://127.0.0.1:5432/test'

interface Variant {
  options: OpenStoreOptions
  /** The same database without the store, for driver-level checks (only while no store is open). */
  openDriver: () => Promise<SqlDriver>
}

/** Opens the store and returns it with the migration versions it applied. */
async function openCounting(options: OpenStoreOptions): Promise<{ store: CallStore; applied: number[] }> {
  const applied: number[] = []
  const logger = pino(
    { level: 'info' },
    {
      write(line: string) {
        const entry = JSON.parse(line) as { msg: string; version?: number }
        if (entry.msg === 'applied database migration' && entry.version !== undefined) applied.push(entry.version)
      },
    },
  )
  return { store: await openStore({ ...options, logger }), applied }
}

function newCall(startedAt: Date) {
  return {
    id: randomUUID(),
    sipCallId: `${randomUUID()}@10.0.0.1`,
    direction: 'inbound' as const,
    fromUri: 'sip:+79001234567@trunk.example',
    toUri: 'sip:sales@pbx.example',
    callerId: '+79001234567',
    startedAt,
  }
}

async function storeSuite(t: Test, variant: Variant): Promise<void> {
  let store!: CallStore
  const persisted = newCall(new Date('2024-05-01T10:00:00.123Z'))

  await t.test('migrations apply once and data survives a reopen', async (t) => {
    const first = await openCounting(variant.options)
    const all = (await loadMigrations()).map((m) => m.version)
    t.same(first.applied, all, 'a fresh database gets every migration, in order')
    await first.store.createCall(persisted)
    await first.store.close()

    const second = await openCounting(variant.options)
    t.same(second.applied, [], 'reopening applies nothing')
    store = second.store
    t.equal((await store.getCall(persisted.id))?.startedAt, persisted.startedAt.toISOString())
    t.equal(await store.ping(), true)
  })

  await t.test('call lifecycle', async (t) => {
    const BARGE_IN = { firstRtpMs: 12, bargeIn: { onsetMs: 1900, heldMs: 1985, confirmedMs: 2030 } }
    const c = newCall(new Date('2024-05-02T09:30:00.000Z'))
    await store.createCall({ ...c, codec: 'PCMA' })
    await store.updateCall(c.id, { answeredAt: new Date('2024-05-02T09:30:01.500Z'), codec: 'PCMU' })
    await store.addTurn(c.id, { who: 'bot', startMs: 0, endMs: 2400, text: 'Здравствуйте!', step: 'greet', interrupted: true, timing: BARGE_IN })
    await store.addTurn(c.id, { who: 'caller', startMs: 2600, endMs: 4100, clipPath: 'rec/a/1.wav', step: 'name', timing: { speechEndMs: 4100, eouMs: 4802 } })
    await store.addDtmf(c.id, { digit: '5', atMs: 5000, source: 'rfc4733' })
    await store.saveLead(c.id, {
      callerId: c.callerId,
      phoneDigits: '79001234567',
      clips: { name: 'rec/a/1.wav', need: 'rec/a/2.wav' },
      slots: { company: null },
      outcome: 'callback',
    })
    const rtpStats = { packetsIn: 812, packetsOut: 790, lost: 3, jitterMs: 4.5 }
    await store.updateCall(c.id, {
      endedAt: new Date('2024-05-02T09:31:10.000Z'),
      result: 'completed',
      endReason: 'caller-bye',
      recordingPath: 'rec/a/call.wav',
      rtpStats,
      amd: { result: 'human', reason: 'short-greeting-then-silence', decisionMs: 1312 },
    })

    const got = await store.getCall(c.id)
    t.ok(got)
    if (!got) return
    const { createdAt: leadCreated, updatedAt: leadUpdated, ...lead } = got.lead ?? { createdAt: '', updatedAt: '' }
    t.same(
      { ...got, turns: got.turns.map(({ createdAt, ...turn }) => turn), lead },
      {
        id: c.id,
        sipCallId: c.sipCallId,
        direction: 'inbound',
        fromUri: c.fromUri,
        toUri: c.toUri,
        callerId: c.callerId,
        codec: 'PCMU',
        startedAt: '2024-05-02T09:30:00.000Z',
        answeredAt: '2024-05-02T09:30:01.500Z',
        endedAt: '2024-05-02T09:31:10.000Z',
        result: 'completed',
        endReason: 'caller-bye',
        recordingPath: 'rec/a/call.wav',
        recordingError: null,
        turnCount: 2,
        leadOutcome: 'callback',
        rtpStats,
        amd: { result: 'human', reason: 'short-greeting-then-silence', decisionMs: 1312 },
        turns: [
          { seq: 1, who: 'bot', startMs: 0, endMs: 2400, text: 'Здравствуйте!', clipPath: null, step: 'greet', timing: BARGE_IN, interrupted: true },
          {
            seq: 2,
            who: 'caller',
            startMs: 2600,
            endMs: 4100,
            text: null,
            clipPath: 'rec/a/1.wav',
            step: 'name',
            timing: { speechEndMs: 4100, eouMs: 4802 },
            interrupted: false,
          },
        ],
        dtmf: [{ digit: '5', atMs: 5000, source: 'rfc4733' }],
        lead: {
          callerId: c.callerId,
          nameClip: 'rec/a/1.wav',
          needClip: 'rec/a/2.wav',
          phoneDigits: '79001234567',
          phoneClip: null,
          clips: { name: 'rec/a/1.wav', need: 'rec/a/2.wav' },
          slots: { company: null },
          outcome: 'callback',
          summary: null,
        },
      },
    )
    t.ok(!Number.isNaN(Date.parse(leadCreated)) && !Number.isNaN(Date.parse(leadUpdated)), 'lead timestamps are ISO')
    t.match(got.turns[0].createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  })

  await t.test('turns get increasing seq per call, also when added concurrently', async (t) => {
    const a = newCall(new Date('2024-05-03T08:00:00.000Z'))
    const b = newCall(new Date('2024-05-03T08:00:05.000Z'))
    await store.createCall(a)
    await store.createCall(b)
    const seqs = await Promise.all(
      Array.from({ length: 8 }, (_, i) => store.addTurn(a.id, { who: i % 2 ? 'caller' : 'bot', startMs: i * 1000, endMs: i * 1000 + 500 })),
    )
    t.same(
      [...seqs].sort((x, y) => x - y),
      [1, 2, 3, 4, 5, 6, 7, 8],
      'eight distinct seqs',
    )
    t.equal(await store.addTurn(b.id, { who: 'bot', startMs: 0, endMs: 10 }), 1, 'another call starts at 1')
    const got = await store.getCall(a.id)
    t.same(
      got?.turns.map((x) => x.seq),
      [1, 2, 3, 4, 5, 6, 7, 8],
      'turns come back in seq order',
    )
    t.equal(got?.turnCount, 8)
    await t.rejects(store.addTurn(randomUUID(), { who: 'bot', startMs: 0, endMs: 1 }), /no call with id/)
  })

  await t.test("a whole call's turns and digits written in one statement each", async (t) => {
    const c = newCall(new Date('2024-05-03T09:00:00.000Z'))
    await store.createCall(c)
    await store.addTurn(c.id, { who: 'bot', startMs: 0, endMs: 100 })
    await store.appendTurns(c.id, [
      { who: 'bot', startMs: 100, endMs: 2000, text: 'Как вас зовут?', step: 'greeting', interrupted: true },
      { who: 'caller', startMs: 2500, endMs: 3100, clipPath: '/x/name.wav', step: 'name', timing: { speechEndMs: 3100, eouMs: 3805 } },
    ])
    await store.appendTurns(c.id, [])
    await store.appendDtmf(c.id, [
      { digit: '7', atMs: 4000, source: 'rfc4733' },
      { digit: '#', atMs: 4500, source: 'info' },
    ])
    const got = await store.getCall(c.id)
    t.same(
      got?.turns.map((x) => [x.seq, x.who, x.step]),
      [
        [1, 'bot', null],
        [2, 'bot', 'greeting'],
        [3, 'caller', 'name'],
      ],
    )
    t.equal(got?.turns[2].clipPath, '/x/name.wav')
    t.same(
      got?.turns.map((x) => x.interrupted),
      [false, true, false],
    )
    t.same(got?.turns[2].timing, { speechEndMs: 3100, eouMs: 3805 })
    t.equal(got?.turnCount, 3)
    t.same(
      got?.dtmf.map((d) => d.digit),
      ['7', '#'],
    )
    await t.rejects(store.appendTurns(randomUUID(), [{ who: 'bot', startMs: 0, endMs: 1 }]), /no call with id/)
  })

  await t.test('DTMF comes back in time order; bad digits are refused without losing the connection', async (t) => {
    const c = newCall(new Date('2024-05-04T12:00:00.000Z'))
    await store.createCall(c)
    await store.addDtmf(c.id, { digit: '#', atMs: 9000, source: 'info' })
    await store.addDtmf(c.id, { digit: '1', atMs: 3000, source: 'rfc4733' })
    await store.addDtmf(c.id, { digit: '*', atMs: 6000, source: 'inband' })
    await t.rejects(store.addDtmf(c.id, { digit: 'X', atMs: 7000, source: 'rfc4733' }), {
      message: /violates check constraint/,
      code: '23514',
    })
    await t.rejects(store.addDtmf(randomUUID(), { digit: '1', atMs: 0, source: 'rfc4733' }), {
      message: /violates foreign key constraint/,
      code: '23503',
    })
    t.same((await store.getCall(c.id))?.dtmf, [
      { digit: '1', atMs: 3000, source: 'rfc4733' },
      { digit: '*', atMs: 6000, source: 'inband' },
      { digit: '#', atMs: 9000, source: 'info' },
    ])
  })

  await t.test('saveLead upserts one lead per call', async (t) => {
    const c = newCall(new Date('2024-05-05T12:00:00.000Z'))
    await store.createCall(c)
    await store.saveLead(c.id, { callerId: c.callerId, clips: { name: 'n1.wav' }, outcome: 'incomplete' })
    const before = (await store.getCall(c.id))?.lead
    await store.saveLead(c.id, {
      callerId: c.callerId,
      phoneDigits: '74950000000',
      clips: { name: 'n2.wav', phone: 'p2.wav' },
      slots: { budget: 100000 },
      outcome: 'qualified',
    })
    const after = (await store.getCall(c.id))?.lead
    t.match(after, {
      nameClip: 'n2.wav',
      needClip: null,
      phoneClip: 'p2.wav',
      phoneDigits: '74950000000',
      clips: { name: 'n2.wav', phone: 'p2.wav' },
      slots: { budget: 100000 },
      outcome: 'qualified',
    })
    t.equal(after?.createdAt, before?.createdAt, 'created_at is kept')
    t.ok(Date.parse(after?.updatedAt ?? '') >= Date.parse(before?.updatedAt ?? ''), 'updated_at moves forward')
    t.same(before?.slots, {}, 'slots default to an empty object')
  })

  await t.test('setLeadSummary adds the summary to an existing lead only', async (t) => {
    const c = newCall(new Date('2024-05-06T12:00:00.000Z'))
    await store.createCall(c)
    t.equal(await store.setLeadSummary(c.id, 'too early'), false, 'no lead yet: nothing written')
    await store.saveLead(c.id, { callerId: c.callerId, clips: {}, outcome: 'qualified' })
    t.equal((await store.getCall(c.id))?.lead?.summary, null, 'none until written')
    t.equal(await store.setLeadSummary(c.id, 'Needs CRM for 5 sellers; callback Monday.'), true)
    t.equal((await store.getCall(c.id))?.lead?.summary, 'Needs CRM for 5 sellers; callback Monday.')
    await store.saveLead(c.id, { callerId: c.callerId, clips: {}, outcome: 'transferred' })
    t.equal((await store.getCall(c.id))?.lead?.summary, 'Needs CRM for 5 sellers; callback Monday.', 'a later saveLead keeps it')
  })

  await t.test('listCalls is newest first and pages', async (t) => {
    // Far-future start times make these the newest calls in the table.
    const calls = [3, 1, 2].map((i) => newCall(new Date(Date.UTC(2100, 0, 1, 0, 0, i))))
    for (const c of calls) await store.createCall(c)
    const [third, first, second] = calls.map((c) => c.id)
    const page1 = await store.listCalls({ limit: 2 })
    t.same(
      page1.map((c) => c.id),
      [third, second],
    )
    const page2 = await store.listCalls({ limit: 2, offset: 2 })
    t.equal(page2[0].id, first)
    t.equal(page1[0].startedAt, '2100-01-01T00:00:03.000Z')
    t.notOk('rtpStats' in page1[0], 'summaries leave out RTP statistics')
    const all = await store.listCalls()
    const starts = all.map((c) => Date.parse(c.startedAt))
    t.same(
      starts,
      [...starts].sort((x, y) => y - x),
      'default page is ordered too',
    )
    await t.rejects(store.listCalls({ limit: 0 }), RangeError)
    await t.rejects(store.listCalls({ offset: -1 }), RangeError)
  })

  await t.test('unknown ids', async (t) => {
    t.equal(await store.getCall(randomUUID()), null)
    await t.rejects(store.updateCall(randomUUID(), { result: 'failed' }), /no call with id/)
  })

  await store.close()

  await t.test('driver: a bad query is a clear error and the next query still works', async (t) => {
    const driver = await variant.openDriver()
    t.teardown(() => driver.close())
    await t.rejects(driver.query('SELECT * FROM no_such_table'), {
      message: 'relation "no_such_table" does not exist',
      code: '42P01',
    })
    t.same((await driver.query('SELECT 1 + 1 AS two')).rows, [{ two: 2 }])

    const id = randomUUID()
    await t.rejects(
      driver.transaction(async (tx) => {
        await tx.query(
          `INSERT INTO calls (id, sip_call_id, direction, from_uri, to_uri, caller_id, started_at)
           VALUES ($1, 'x', 'inbound', 'a', 'b', 'c', now())`,
          [id],
        )
        throw new Error('abort on purpose')
      }),
      /abort on purpose/,
    )
    t.same((await driver.query('SELECT id FROM calls WHERE id = $1', [id])).rows, [], 'transaction rolled back')

    await t.rejects(migrate(driver, [{ version: 999, name: 'broken', sql: 'CREATE TABLE broken (' }]), /migration 999_broken failed: syntax error/)
    const { rows } = await driver.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')
    t.notOk(
      rows.some((r) => r.version === 999),
      'a failed migration is not recorded',
    )
  })
}

t.test('embedded PGlite (worker thread)', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'crm-store-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  await storeSuite(t, { options: { dataDir }, openDriver: () => openPgliteDriver({ dataDir }) })
})

t.test('Postgres server', async (t) => {
  const probe = new pg.Client({ connectionString: withDefaultUser(SERVER_URL), connectionTimeoutMillis: 3000 })
  try {
    await probe.connect()
  } catch (err) {
    // A server that answers with an error (bad credentials, missing database) is a real failure.
    if (err instanceof pg.DatabaseError) throw err
    const line = `Postgres server at ${SERVER_URL} not reachable (${(err as Error).message})`
    if (process.env.CI === 'true') {
      t.fail(`${line}: CI=true requires the server variant`)
    } else {
      console.error(`# ${line}: server variant skipped, embedded variant still runs`)
      t.pass('server variant skipped', { skip: `${SERVER_URL} not reachable` })
    }
    return
  }
  const schema = `crm_test_${randomUUID().replaceAll('-', '')}`
  t.teardown(async () => {
    await probe.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await probe.end()
  })
  // dataDir is required but unused when databaseUrl is set.
  const options = { databaseUrl: SERVER_URL, databaseSchema: schema, dataDir: tmpdir() }
  await storeSuite(t, { options, openDriver: () => openPgDriver({ connectionString: SERVER_URL, schema }) })
})
