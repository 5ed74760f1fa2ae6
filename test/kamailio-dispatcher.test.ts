// Many instances behind Kamailio (deploy/kamailio/kamailio.cfg, run as shipped, with defines on
// the command line): two servers, Kamailio dispatching SIPp's calls to them.
// 1. Round robin: both instances take calls, every call answered and hung up through the proxy
//    (ACK and BYE along the Record-Route).
// 2. Drain: an instance told to drain answers OPTIONS with 503; Kamailio's probe takes it out
//    and every new call goes to the other.
// 3. Failover: an instance killed without a word; the calls Kamailio still sends it time out
//    there and go to the next instance: every call answered.
// 4. The cluster: two instances on one Postgres and one Redis, 200 SIPp calls through Kamailio
//    spread over both; while they run, either instance's API lists the live calls of both; one
//    instance drained in the middle of the run: no call fails, and its calls finish.
import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { testSchema } from './helpers/pg-schema.ts'
import { testRedis } from './helpers/redis.ts'
import { startKamailio } from './helpers/kamailio.ts'
import { freeUdpPort } from './helpers/free-port.ts'
import { renderScenario } from './helpers/scenario-file.ts'
import { startServerProcess, type ServerHandle } from './helpers/server-process.ts'
import { runSipp } from './helpers/sipp.ts'

const PROBE_S = 1
const INVITE_TIMEOUT_MS = 1000

const instance = (sipPort?: number, rtp = 37000, env: Record<string, string> = {}) =>
  startServerProcess({
    ...(sipPort && { SIP_PORT: String(sipPort) }),
    RTP_PORT_MIN: String(rtp),
    RTP_PORT_MAX: String(rtp + 199),
    MEDIA_WORKERS: '1',
    ...env,
  })

/** Kamailio as shipped, dispatching to `servers` (a short INVITE timeout unless `inviteTimeoutMs` says otherwise). */
async function dispatcher(t: Test, dir: string, servers: ServerHandle[], inviteTimeoutMs = INVITE_TIMEOUT_MS) {
  const list = path.join(dir, 'dispatcher.list')
  writeFileSync(list, servers.map((s) => `1 sip:127.0.0.1:${s.sipPort}\n`).join(''))
  const port = await freeUdpPort()
  const kamailio = await startKamailio(
    dir,
    port,
    {},
    { cfg: 'deploy/kamailio/kamailio.cfg', defines: { DISPATCHER_LIST: list, PROBE_S, INVITE_TIMEOUT_MS: inviteTimeoutMs } },
  )
  t.teardown(() => kamailio.stop())
  return { port, kamailio }
}

/** Calls each instance has taken so far (its own database). */
async function taken(s: ServerHandle): Promise<number> {
  return (await s.api<{ calls: unknown[] }>('/api/calls?limit=500')).body.calls.length
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms))

t.test('kamailio dispatches to the instances, takes a draining one out, fails over from a dead one', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kamailio-ds-'))
  let a = await instance(undefined, 37000)
  const b = await instance(undefined, 37200)
  t.teardown(async () => {
    await a.stop()
    await b.stop()
  })
  const { port, kamailio } = await dispatcher(t, dir, [a, b])
  const scenario = renderScenario('uac-via-proxy.xml', dir, { HOLD_MS: 1500 })
  const calls = async (n: number) =>
    runSipp(scenario, `127.0.0.1:${port}`, ['-m', String(n), '-l', String(n), '-r', '4', '-mp', String(await freeUdpPort())], 120_000)

  await wait(2500 * PROBE_S) // the first probes: both instances up
  const round = await calls(8)
  if (round.successful !== 8) t.comment(kamailio.log().slice(-3000), round.stdout.slice(-1500), round.stderr.slice(-800))
  t.equal(round.successful, 8, `round robin: every call answered through the proxy (${round.failed} failed)`)
  const [a1, b1] = [await taken(a), await taken(b)]
  t.ok(a1 >= 3 && b1 >= 3, `both instances took calls (${a1} and ${b1})`)

  const drained = await fetch(`http://127.0.0.1:${a.httpPort}/api/drain`, { method: 'POST' })
  t.equal(drained.status, 202, 'instance A drains')
  await wait(3000 * PROBE_S) // its OPTIONS now answer 503: the next probe takes it out
  const afterDrain = await calls(6)
  t.equal(afterDrain.successful, 6, 'every call answered while A drains')
  t.equal(await taken(b), b1 + 6, 'all of them on B')
  t.match(kamailio.log(), /failed over|to instance/, 'Kamailio logged its choices')

  // A comes back (a new process on the same SIP port); B dies without a word.
  await a.stop()
  a = await instance(a.sipPort, 37400)
  await wait(3000 * PROBE_S) // A' is probed up again
  await b.kill('SIGKILL')
  const afterCrash = await calls(6)
  t.equal(afterCrash.successful, 6, `every call answered after B died (${afterCrash.failed} failed)`)
  t.equal(await taken(a), 6, "all of them on A'")
  t.match(kamailio.log(), /did not answer: marked down/, 'the calls sent to the dead instance timed out and failed over')
})

t.test('the cluster behind kamailio: 200 calls over two instances on one Postgres and Redis, one drained mid-run', async (t) => {
  const db = await testSchema(t)
  const redis = await testRedis(t)
  if (!db || !redis) return
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kamailio-cluster-'))
  const shared = { DATABASE_URL: db.url(), REDIS_URL: redis.url, REDIS_KEY_PREFIX: redis.prefix, CLUSTER_HEARTBEAT_MS: '500', DRAIN_TIMEOUT_S: '60' }
  const a = await instance(undefined, 37600, { ...shared, INSTANCE_ID: 'a' })
  const b = await instance(undefined, 37800, { ...shared, INSTANCE_ID: 'b' })
  t.teardown(async () => {
    await a.stop()
    await b.stop()
  })
  // the shipped INVITE timeout (2 s): this run is about spreading and draining, not failover speed, and
  // a late 100 Trying would have Kamailio take an answered call elsewhere
  const { port, kamailio } = await dispatcher(t, dir, [a, b], 2000)
  await wait(2500 * PROBE_S)
  const scenario = renderScenario('uac-via-proxy.xml', dir, { HOLD_MS: 4000 })
  const run = runSipp(scenario, `127.0.0.1:${port}`, ['-m', '200', '-l', '200', '-r', '20', '-mp', String(await freeUdpPort())], 180_000)

  await wait(4000) // ~60 calls up
  const live = (await b.api<{ calls: { live?: boolean; instance?: string }[] }>('/api/calls?limit=500')).body.calls.filter((c) => c.live)
  const byInstance = new Set(live.map((c) => c.instance))
  t.ok(byInstance.has('a') && byInstance.has('b'), `B's API lists the live calls of both instances (${live.length}: ${[...byInstance].join(', ')})`)

  const drained = await fetch(`http://127.0.0.1:${a.httpPort}/api/drain`, { method: 'POST' })
  t.equal(drained.status, 202, 'A drains in the middle of the run')
  const result = await run
  if (result.successful !== 200) {
    // A exits once drained: its metrics may be gone, which must not hide the rest
    const lag = (s: ServerHandle) =>
      fetch(`http://127.0.0.1:${s.httpPort}/metrics`)
        .then((r) => r.text())
        .then(
          (m) => m.match(/^nodejs_eventloop_lag_max_seconds .*/m)?.[0],
          (err: unknown) => `no metrics from port ${s.httpPort}: ${String(err)}`,
        )
    t.comment(
      kamailio
        .log()
        .match(/.*(did not answer|failed over|no instance).*/g)
        ?.join('\n'),
      result.stderr.slice(-2000),
      await lag(a),
      await lag(b),
    )
  }
  t.equal(result.successful, 200, `every one of the 200 calls answered and ended (${result.failed} failed)`)

  // the rows carry each instance's own id (made in its DATA_DIR), not INSTANCE_ID; a call's end is
  // written just after its BYE, so the last ones may take a moment
  const tally = () =>
    db.query<{ n: string; open: string }>('SELECT count(*) AS n, count(*) FILTER (WHERE ended_at IS NULL) AS open FROM calls GROUP BY instance_id')
  let rows = await tally()
  for (let i = 0; i < 50 && rows.some((r) => Number(r.open) > 0); i++) {
    await wait(100)
    rows = await tally()
  }
  if (rows.some((r) => Number(r.open) > 0))
    t.comment(await db.query('SELECT id, sip_call_id, instance_id, started_at, answered_at FROM calls WHERE ended_at IS NULL'))
  const counts = rows.map((r) => Number(r.n))
  t.ok(counts.length === 2 && counts.every((n) => n > 0), `both instances took calls (${counts.join(' and ')})`)
  t.equal(counts[0] + counts[1], 200, 'one record per call in the shared database')
  t.same(
    rows.map((r) => Number(r.open)),
    [0, 0],
    'every record ended',
  )
})
