// Many instances on one Redis (REDIS_URL), real server processes and SIPp: the API of one lists
// the live calls of the other, SIP_MAX_CALLS holds across them, a killed instance drops out after
// its lease, and with Redis down an instance works alone as without REDIS_URL.
import { spawn } from 'node:child_process'
import t from 'tap'
import { probe } from './helpers/sip-probe.ts'
import { DEAD_REDIS_URL, testRedis } from './helpers/redis.ts'
import { startServerProcess, type ServerHandle } from './helpers/server-process.ts'
import { requireTool } from './helpers/system-tools.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** SIPp's built-in UAC: INVITE, ACK on 200, holds the call `holdMs`, then BYE. Resolves with its exit code. */
function sippCall(port: number, holdMs: number): Promise<number | null> {
  requireTool('sipp', 'sip-tester')
  const child = spawn('sipp', ['-sn', 'uac', '-i', '127.0.0.1', '-m', '1', '-d', String(holdMs), '-timeout', '60s', '-timeout_error', `127.0.0.1:${port}`], {
    stdio: 'ignore',
  })
  return new Promise((resolve) => child.on('exit', resolve))
}

async function until<T>(what: string, ms: number, f: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await f()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(200)
  }
}

const liveCalls = async (s: ServerHandle) => ((await s.api('/api/calls')).body.calls as any[]).filter((c) => c.live)

t.test('two instances on one Redis', async (t) => {
  const r = await testRedis(t)
  if (!r) return
  const common = { REDIS_URL: r.url, REDIS_KEY_PREFIX: r.prefix, CLUSTER_LEASE_S: '3', CLUSTER_HEARTBEAT_MS: '1000', SIP_MAX_CALLS: '1', MEDIA_WORKERS: '1' }
  const [a, b] = await Promise.all([
    startServerProcess({ ...common, INSTANCE_ID: 'a', RTP_PORT_MIN: '37000', RTP_PORT_MAX: '37099' }),
    startServerProcess({ ...common, INSTANCE_ID: 'b', RTP_PORT_MIN: '37100', RTP_PORT_MAX: '37199', ANSWER_DELAY_MS: '60000' }),
  ])
  t.teardown(() => Promise.all([a.stop(), b.stop()]))

  const cluster = (await a.api('/api/cluster')).body
  t.match(cluster, { enabled: true, instance: 'a', redis: 'up' })
  t.same(
    cluster.instances.map((i: any) => i.id),
    ['a', 'b'],
    'both instances are registered',
  )
  t.match(cluster.instances[1], { sip: `127.0.0.1:${b.sipPort}`, http: `127.0.0.1:${b.httpPort}`, draining: false })

  await t.test("A's API lists a live call placed on B; SIP_MAX_CALLS=1 holds across both", async (t) => {
    // a call on B that rings for a minute (ANSWER_DELAY_MS): live all the while
    const ringing = probe({ from: '127.0.0.1', port: b.sipPort, method: 'INVITE', waitMs: 1500, callId: 'ringing-on-b' })
    const onA = await until('the call on B in the API of A', 5000, async () => (await liveCalls(a)).find((c) => c.sipCallId === 'ringing-on-b'))
    t.match(onA, { live: true, instance: 'b', direction: 'inbound', endedAt: null })
    t.match(
      await a.api(`/api/calls/${onA.id}`),
      { status: 200, body: { id: onA.id, live: true, instance: 'b' } },
      "and answers for it by id (its rows are in B's database)",
    )
    t.equal(await ringing, undefined, 'the call on B is still ringing')
    t.same(
      (await liveCalls(b)).map((c: any) => c.instance),
      ['b'],
      'B lists it too, as its own',
    )

    // the one cluster-wide slot is B's: a call to A, whose local gate has room, gets 503
    const refused = await probe({ from: '127.0.0.1', port: a.sipPort, method: 'INVITE', waitMs: 3000 })
    t.match(refused, /^SIP\/2\.0 503 [^]*text="Too Many Calls"/, 'a concurrent call to A: 503')
    t.match(refused, /\r\nRetry-After: \d+\r\n/, 'with Retry-After')
  })

  await t.test('B killed: it drops out after its lease, its slot with it; then SIPp calls A', async (t) => {
    await b.kill('SIGKILL')
    t.ok(
      (await liveCalls(a)).some((c) => c.instance === 'b'),
      "B's call is listed until the lease ends",
    )
    const t0 = Date.now()
    await until("B's call gone from A's list", 8000, async () => !(await liveCalls(a)).some((c) => c.instance === 'b'))
    t.comment(`gone ${Date.now() - t0} ms after the kill (lease 3 s)`)
    t.same(
      (await a.api('/api/cluster')).body.instances.map((i: any) => i.id),
      ['a'],
      'A is alone',
    )

    // the slot B held went with its lease: SIPp's call to A is answered and held while another is refused
    const call = sippCall(a.sipPort, 4000)
    const onA = await until('the SIPp call live on A', 10_000, async () => (await liveCalls(a)).find((c) => c.instance === 'a'))
    t.match(onA, { live: true, instance: 'a' })
    t.equal(await call, 0, 'SIPp: the call to A was answered and ended with BYE')
  })
})

t.test('SIP_MAX_CALLS=1 across instances: a SIPp call to A is answered, a concurrent call to B gets 503', async (t) => {
  const r = await testRedis(t)
  if (!r) return
  const common = { REDIS_URL: r.url, REDIS_KEY_PREFIX: r.prefix, SIP_MAX_CALLS: '1', MEDIA_WORKERS: '1' }
  const [a, b] = await Promise.all([
    startServerProcess({ ...common, INSTANCE_ID: 'a', RTP_PORT_MIN: '37200', RTP_PORT_MAX: '37299' }),
    startServerProcess({ ...common, INSTANCE_ID: 'b', RTP_PORT_MIN: '37300', RTP_PORT_MAX: '37399' }),
  ])
  t.teardown(() => Promise.all([a.stop(), b.stop()]))
  const call = sippCall(a.sipPort, 5000)
  await until('the SIPp call live on A', 10_000, async () => (await liveCalls(b)).find((c) => c.instance === 'a'))
  const refused = await probe({ from: '127.0.0.1', port: b.sipPort, method: 'INVITE', waitMs: 3000 })
  t.match(refused, /^SIP\/2\.0 503 [^]*text="Too Many Calls"/, 'B refuses: the one slot is taken on A')
  t.equal(await call, 0, 'SIPp: the call to A was answered and ended with BYE')
  await until('the slot released', 5000, async () => (await liveCalls(b)).length === 0)
  const metrics = await (await fetch(`http://127.0.0.1:${b.httpPort}/metrics`)).text()
  t.match(metrics, /voice_cluster_admissions_total\{verdict="total"\} 1/, 'counted')
  t.match(metrics, /voice_cluster_redis_up 1/)
})

t.test('Redis down: the instance works alone, as without REDIS_URL', async (t) => {
  const s = await startServerProcess({
    REDIS_URL: DEAD_REDIS_URL,
    INSTANCE_ID: 'alone',
    SIP_MAX_CALLS: '1',
    ANSWER_DELAY_MS: '60000',
    RTP_PORT_MIN: '37400',
    RTP_PORT_MAX: '37499',
    MEDIA_WORKERS: '1',
  })
  t.teardown(() => s.stop())
  t.ok(
    s.logs.some((l) => l.includes('redis not reachable at start')),
    'the log says Redis is not reachable',
  )
  t.match(await s.api('/api/cluster'), { status: 503, body: { enabled: true, redis: 'down' } })
  const t0 = Date.now()
  const ringing = probe({ from: '127.0.0.1', port: s.sipPort, method: 'INVITE', waitMs: 1500, callId: 'alone-1' })
  const c = await until('the call listed', 5000, async () => (await liveCalls(s)).find((c) => c.sipCallId === 'alone-1'))
  t.ok(Date.now() - t0 < 2000, 'admitted without waiting for Redis')
  t.match(c, { live: true, instance: 'alone' })
  t.equal(await ringing, undefined, 'ringing')
  const refused = await probe({ from: '127.0.0.1', port: s.sipPort, method: 'INVITE', waitMs: 3000 })
  t.match(refused, /^SIP\/2\.0 503/, 'the local SIP_MAX_CALLS still holds')
  const metrics = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text()
  t.match(metrics, /voice_cluster_redis_up 0/)
  t.match(metrics, /voice_cluster_admissions_total\{verdict="fallback"\} 1/)
})

t.test('a source banned by the rate limit of one instance is banned on the other', async (t) => {
  const r = await testRedis(t)
  if (!r) return
  const common = {
    REDIS_URL: r.url,
    REDIS_KEY_PREFIX: r.prefix,
    SIP_INBOUND: 'open',
    SIP_TRUSTED_CIDRS: '127.0.0.1/32',
    SIP_RATE_MAX: '5',
    SIP_RATE_WINDOW_S: '10',
    SIP_BAN_S: '60',
    MEDIA_WORKERS: '1',
  }
  const [a, b] = await Promise.all([
    startServerProcess({ ...common, INSTANCE_ID: 'a', RTP_PORT_MIN: '37500', RTP_PORT_MAX: '37599' }),
    startServerProcess({ ...common, INSTANCE_ID: 'b', RTP_PORT_MIN: '37600', RTP_PORT_MAX: '37699' }),
  ])
  t.teardown(() => Promise.all([a.stop(), b.stop()]))
  t.match(await probe({ from: '127.0.0.9', port: b.sipPort, waitMs: 1000 }), /^SIP\/2\.0 200/, 'B answers 127.0.0.9 before any ban')
  const answers: Array<string | undefined> = []
  for (let i = 0; i < 7; i++) answers.push(await probe({ from: '127.0.0.9', port: a.sipPort, waitMs: 1000 }))
  t.equal(answers.filter(Boolean).length, 5, 'A answers SIP_RATE_MAX requests, then bans the source')
  // announced on the channel (cluster/cluster.test.ts times that), else read at B's next heartbeat (3 s)
  await sleep(300)
  let atB = await probe({ from: '127.0.0.9', port: b.sipPort, waitMs: 1000 })
  if (atB) {
    await sleep(3000)
    atB = await probe({ from: '127.0.0.9', port: b.sipPort, waitMs: 1000 })
  }
  t.equal(atB, undefined, 'B drops the source A banned')
  t.match(await probe({ from: '127.0.0.10', port: b.sipPort, waitMs: 1000 }), /^SIP\/2\.0 200/, 'another source still gets its answer')
  const m = await (await fetch(`http://127.0.0.1:${b.httpPort}/metrics`)).text()
  t.match(m, /voice_cluster_bans_total\{direction="received"\} 1/)
  t.ok((await r.client.pttl(`${r.prefix}ban:127.0.0.9`)) > 55_000, 'the ban is in Redis for SIP_BAN_S')
  // an instance that starts now loads it
  const c = await startServerProcess({ ...common, INSTANCE_ID: 'c', RTP_PORT_MIN: '37700', RTP_PORT_MAX: '37799' })
  t.teardown(() => c.stop())
  t.equal(await probe({ from: '127.0.0.9', port: c.sipPort, waitMs: 1000 }), undefined, 'an instance started later drops it too')
})
