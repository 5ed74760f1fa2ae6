// The Bitrix24 local application's install event over HTTP, through the server's HTTP layer with
// API_TOKEN set (the portal sends no bearer token): the tokens are stored and used, a forged event
// (another portal, a token the portal refuses, another application_token) gets 403 and is logged, the bearer token still guards /api.
import type { AddressInfo } from 'node:net'
import pino from 'pino'
import t from 'tap'
import { Bitrix24Client } from '../../crm/bitrix24/bitrix24-client.ts'
import { Bitrix24OAuth } from '../../crm/bitrix24/bitrix24-oauth.ts'
import { CLIENT_ID, CLIENT_SECRET } from '../../crm/bitrix24/fake-portal.ts'
import type { CallManager } from '../call/call-manager.ts'
import { loadConfig } from '../config.ts'
import { Metrics } from '../metrics.ts'
import { createApiGuard } from './api-guard.ts'
import { createBitrix24InstallRoute } from './bitrix24-install-route.ts'
import { createHttpServer } from './http-server.ts'
import { startedPortal, tempStore } from '../../test/helpers/crm-fixture.ts'

t.test('POST /crm/bitrix24/install stores the tokens of the configured portal only', async (t) => {
  const { store } = await tempStore(t, 'b24-install-')
  const portal = await startedPortal(t)
  const lines: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) })
  const oauth = new Bitrix24OAuth({
    db: store.driver,
    portal: portal.origin,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    oauthUrl: portal.oauthUrl,
    logger,
  })
  const api = loadConfig({ API_TOKEN: 'api-secret' }).api
  const server = createHttpServer({
    store,
    metrics: new Metrics(),
    calls: {} as CallManager,
    logger,
    ready: async () => true,
    storage: async () => ({ ok: true, checks: {} }) as never,
    degradedStatus: 503,
    guard: createApiGuard({ api, logger }),
    bitrix24Install: createBitrix24InstallRoute({ oauth, portal: portal.origin, logger }),
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise((r) => server.close(r)))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const post = (form: Record<string, string>) =>
    fetch(`${base}/crm/bitrix24/install`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) })
  const stored = async () => (await store.driver.query<Record<string, unknown>>(`SELECT * FROM crm_oauth_tokens WHERE portal = $1`, [portal.origin])).rows[0]

  t.equal((await fetch(`${base}/api/calls`)).status, 401, 'the API still wants its bearer token')
  t.equal((await fetch(`${base}/crm/bitrix24/install`)).status, 405, 'the handler is a POST')

  const foreign = portal.install()
  let r = await post({ ...foreign, 'auth[domain]': 'evil.bitrix24.ru' })
  t.equal(r.status, 403, 'another portal: 403')
  t.equal(await stored(), undefined, 'nothing stored')
  t.ok(
    lines.some((l) => l.level === 40 && /not the configured portal/.test(String(l.msg)) && l.domain === 'evil.bitrix24.ru'),
    'logged',
  )
  t.equal((await post({ ...foreign, event: 'ONAPPUNINSTALL' })).status, 400, 'another event: not handled')

  r = await post({ ...foreign, 'auth[access_token]': 'made-up', 'auth[application_token]': 'app-token-X' })
  t.equal(r.status, 403, 'an access token the portal does not take (a forged first install): 403')
  t.equal(await stored(), undefined, 'nothing stored')
  t.ok(
    lines.some((l) => l.level === 40 && /does not take its access token/.test(String(l.msg))),
    'logged',
  )

  const first = portal.install('app-token-A')
  r = await post(first)
  t.equal(r.status, 200)
  t.same(await r.json(), { installed: true })
  t.match(await stored(), {
    access_token: first['auth[access_token]'],
    refresh_token: first['auth[refresh_token]'],
    application_token: 'app-token-A',
    member_id: 'fake-member',
  })

  // the stored tokens are what the outbox's client uses: a request goes through without a refresh
  const client = new Bitrix24Client({ auth: { oauth }, ratePerS: 50 })
  t.same(await client.call('crm.lead.list', { filter: { ID: 0 } }), [])
  t.equal(portal.refreshes, 0, 'no refresh needed: the install brought a live token')

  const forged = portal.install('app-token-B')
  r = await post(forged)
  t.equal(r.status, 403, 'another application_token after the install: 403')
  t.equal((await stored())!.access_token, first['auth[access_token]'], 'the stored tokens stay')
  t.ok(
    lines.some((l) => l.level === 40 && /application_token differs/.test(String(l.msg))),
    'logged',
  )

  portal.expireTokens() // the old access token is dead: a request with a cached one would need a refresh
  const again = portal.install('app-token-A')
  t.equal((await post(again)).status, 200, 'the same application again (reinstalled tokens): taken')
  t.equal((await stored())!.access_token, again['auth[access_token]'])
  t.same(await client.call('crm.lead.list', { filter: { ID: 0 } }), [], 'the new token is used at once')
  t.equal(portal.refreshes, 0)

  t.notOk(
    lines.some((l) => JSON.stringify(l).includes(again['auth[refresh_token]']) || JSON.stringify(l).includes('app-token-')),
    'neither tokens nor the application token are logged',
  )
})
