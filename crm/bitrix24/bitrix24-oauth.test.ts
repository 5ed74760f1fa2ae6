import { randomUUID } from 'node:crypto'
import { tmpdir } from 'node:os'
import pg from 'pg'
import pino from 'pino'
import t, { type Test } from 'tap'
import { withDefaultUser } from '../drivers/pg.ts'
import { openStore, type OpenStoreOptions } from '../open-store.ts'
import type { SqlDriver } from '../sql-driver.ts'
import { Bitrix24Client } from './bitrix24-client.ts'
import { Bitrix24OAuth } from './bitrix24-oauth.ts'
import { CLIENT_ID, CLIENT_SECRET } from './fake-portal.ts'
import { startedPortal, tempStore } from '../../test/helpers/crm-fixture.ts'

const SERVER_URL = process.env.TEST_DATABASE_URL ?? 'postgres://127.0.0.1:5432/test'

/** The OAuth cases on one database; `second` is another instance's connection (the same one on PGlite). */
async function suite(t: Test, first: SqlDriver, second: SqlDriver): Promise<void> {
  const portal = await startedPortal(t)
  const logs: string[] = []
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) })
  const oauth = (db: SqlDriver) =>
    new Bitrix24OAuth({ db, portal: portal.origin, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, oauthUrl: portal.oauthUrl, logger })
  const client = (o: Bitrix24OAuth) => new Bitrix24Client({ auth: { oauth: o }, ratePerS: 100 })
  const stored = async () =>
    (await first.query<{ access_token: string; refresh_token: string }>('SELECT access_token, refresh_token FROM crm_oauth_tokens')).rows

  await t.test('without tokens a request fails with a message that names the setting', async (t) => {
    await t.rejects(client(oauth(first)).call('crm.lead.list', {}), { code: 'NO_TOKENS', message: /BITRIX24_REFRESH_TOKEN/ })
  })

  await t.test('bootstrap: the first refresh token is stored once, then the first request refreshes', async (t) => {
    const a = oauth(first)
    t.equal(await a.bootstrap('rt-0'), true)
    t.equal(await a.bootstrap('rt-other'), false, 'the stored pair wins over the setting')
    t.same(await client(a).call('crm.lead.list', {}), [])
    t.equal(portal.refreshes, 1)
    t.same(await stored(), [{ access_token: 'at-1', refresh_token: 'rt-1' }], 'the rotated pair is in the database')
  })

  await t.test('expired_token: concurrent requests share one refresh and are each sent once more', async (t) => {
    const c = client(oauth(first))
    await c.call('crm.lead.list', {})
    portal.expireTokens()
    const before = { refreshes: portal.refreshes, calls: portal.calls.length }
    const answers = await Promise.all(Array.from({ length: 8 }, () => c.call('crm.lead.list', {})))
    t.equal(answers.length, 8)
    t.equal(portal.refreshes - before.refreshes, 1, 'one refresh')
    t.equal(portal.calls.length - before.calls, 8, 'each request done once (the refused ones did nothing)')
  })

  await t.test('two instances on one database: one refresh, the other reads the new pair', async (t) => {
    const a = client(oauth(first))
    const b = client(oauth(second))
    await Promise.all([a.call('crm.lead.list', {}), b.call('crm.lead.list', {})])
    portal.expireTokens()
    const before = portal.refreshes
    await Promise.all([a.call('crm.lead.list', {}), b.call('crm.lead.list', {}), a.call('crm.lead.list', {}), b.call('crm.lead.list', {})])
    t.equal(portal.refreshes - before, 1, 'the refresh token was spent once')
    const [row] = await stored()
    t.equal(row.refresh_token, portal.refreshToken, 'the database holds the live refresh token')
  })

  await t.test('a refused refresh (invalid_grant) is an error with the portal message, and no secret', async (t) => {
    await first.query(`UPDATE crm_oauth_tokens SET access_token = 'gone', refresh_token = 'spent'`)
    const err = await client(oauth(first))
      .call('crm.lead.list', {})
      .catch((e: Error) => e)
    t.match(err, { status: 400, code: 'invalid_grant', method: 'oauth/token' })
    t.notMatch((err as Error).message, /app-secret|spent/)
    await first.query(`UPDATE crm_oauth_tokens SET refresh_token = $1`, [portal.refreshToken])
  })

  await t.test('no secret or token in the logs', async (t) => {
    t.ok(logs.some((l) => l.includes('access token refreshed')))
    for (const l of logs) t.notMatch(l, /app-secret|\bat-\d|\brt-\d/, 'log line without secrets')
  })
}

t.test('PGlite', async (t) => {
  const { store } = await tempStore(t, 'crm-b24-oauth-')
  await suite(t, store.driver, store.driver)
})

t.test('Postgres server', async (t) => {
  const probe = new pg.Client({ connectionString: withDefaultUser(SERVER_URL), connectionTimeoutMillis: 3000 })
  try {
    await probe.connect()
  } catch (err) {
    if (process.env.CI === 'true') t.fail(`Postgres at ${SERVER_URL} not reachable: CI=true requires the server variant`)
    else t.pass('server variant skipped', { skip: `${SERVER_URL} not reachable (${(err as Error).message})` })
    return
  }
  const schema = `crm_b24_oauth_test_${randomUUID().replaceAll('-', '')}`
  t.teardown(async () => {
    await probe.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await probe.end()
  })
  const options: OpenStoreOptions = { databaseUrl: SERVER_URL, databaseSchema: schema, dataDir: tmpdir() }
  const one = await openStore(options)
  t.teardown(() => one.close())
  const two = await openStore(options)
  t.teardown(() => two.close())
  await suite(t, one.driver, two.driver)
})
