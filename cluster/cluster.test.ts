// The cluster classes against the real Redis (TEST_REDIS_URL), each test under its own key prefix.
import pino from 'pino'
import client from 'prom-client'
import { Redis } from 'ioredis'
import net from 'node:net'
import t, { type Test } from 'tap'
import { testTrunk } from '../test/helpers/trunk.ts'
import { DEAD_REDIS_URL, testRedis } from '../test/helpers/redis.ts'
import { CallSlots } from './call-slots.ts'
import { Cluster, type ClusterOptions } from './cluster.ts'
import { OutboundGuard } from '../sip/trunks/outbound-guard.ts'
import type { TrunkConfig } from '../sip/trunks/trunk.ts'
import { InstanceRegistry } from './instance-registry.ts'
import { ClusterKeys } from './keys.ts'
import { LiveCallDirectory } from './live-call-directory.ts'
import { SharedBans } from './shared-bans.ts'
import type { LiveCallSummary } from './types.ts'

const log = pino({ level: 'silent' })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function conn(t: Test, url: string): Redis {
  const r = new Redis(url, { maxRetriesPerRequest: 0 })
  r.on('error', () => {})
  t.teardown(() => r.disconnect())
  return r
}

/** A Cluster for tests: no bans applied, no live calls, unless the test says otherwise. */
function cluster(url: string, keyPrefix: string, instanceId: string, over: Partial<ClusterOptions> = {}): Cluster {
  return new Cluster({
    url,
    keyPrefix,
    instanceId,
    leaseMs: 2000,
    heartbeatMs: 500,
    limits: { maxCalls: 1, maxCallsPerSource: 0 },
    isTrusted: () => false,
    applyBan: () => {},
    status: () => ({ sip: 'x', http: 'y', liveCalls: 0, draining: false }),
    liveCalls: () => [],
    logger: log,
    registry: new client.Registry(),
    ...over,
  })
}

function liveCall(id: string, instance: string, startedAt: string): LiveCallSummary {
  return {
    id,
    sipCallId: `sip-${id}`,
    direction: 'inbound',
    fromUri: 'sip:a@x',
    toUri: 'sip:b@y',
    callerId: 'a',
    codec: 'PCMU',
    startedAt,
    answeredAt: null,
    endedAt: null,
    result: null,
    endReason: null,
    recordingPath: null,
    recordingError: null,
    turnCount: 0,
    leadOutcome: null,
    live: true,
    instance,
  }
}

t.test('CallSlots: the limits hold across instances, a slot is freed at release or with its lease', async (t) => {
  const r = await testRedis(t)
  if (!r) return
  const keys = new ClusterKeys(r.prefix)
  const limits = { maxCalls: 3, maxCallsPerSource: 1 }
  const a = new CallSlots(conn(t, r.url), keys, 'a', limits, 400)
  const b = new CallSlots(conn(t, r.url), keys, 'b', limits, 400)
  t.equal(await a.admit('c1', '10.0.0.1'), 'ok', 'first call from 10.0.0.1 on a')
  t.equal(await b.admit('c2', '10.0.0.1'), 'source', 'a second from the same source on b: over the per-source limit')
  t.equal(await b.admit('c2', ''), 'ok', 'a trusted source has no per-source limit')
  t.equal(await b.admit('c2', ''), 'ok', 'the same call again is counted once')
  t.equal(await b.admit('c3', '10.0.0.2'), 'ok')
  t.equal(await a.total(), 3)
  t.equal(await a.admit('c4', '10.0.0.3'), 'total', 'three calls across both: over the total')
  await a.release('c1')
  t.equal(await a.total(), 2, 'released')
  t.equal(await a.admit('c4', '10.0.0.1'), 'ok', 'the freed slot and the source are free again')
  await a.release('c4')
  // b dies: it no longer renews its lease; its two slots go with it
  await sleep(250)
  await a.renew()
  t.equal(await a.admit('c5', '10.0.0.2'), 'source', 'b still holds 10.0.0.2 within its lease')
  await sleep(300)
  t.equal(await a.admit('c5', '10.0.0.2'), 'ok', "b's lease expired: its slots are counted no more")
  t.equal(await a.total(), 1)
  // Redis lost the slots (a restart): resync writes them again
  await r.client.del(keys.slots('a'), keys.slotSources('a'))
  await a.resync()
  t.equal(await a.total(), 1, 'resync restores the held slots')
  t.equal(await b.admit('c6', '10.0.0.2'), 'source', 'and their sources')
})

t.test('InstanceRegistry: records under a lease; a dead instance drops out, a leaving one at once', async (t) => {
  const r = await testRedis(t)
  if (!r) return
  const keys = new ClusterKeys(r.prefix)
  const reg = new InstanceRegistry(conn(t, r.url), keys, 400)
  const rec = (id: string, n: number) => ({
    id,
    sip: '127.0.0.1:5060',
    http: '127.0.0.1:8080',
    liveCalls: n,
    draining: id === 'b',
    startedAt: 'x',
    updatedAt: new Date().toISOString(),
  })
  await reg.beat(rec('a', 2))
  await reg.beat(rec('b', 0))
  await reg.beat(rec('c', 0))
  t.match(await reg.list(), [{ id: 'a', liveCalls: 2, draining: false }, { id: 'b', draining: true }, { id: 'c' }])
  await reg.leave('c')
  t.same(await reg.ids(), ['a', 'b'], 'c left')
  for (let i = 0; i < 3; i++) {
    await sleep(200)
    await reg.beat(rec('a', 1))
  }
  t.same(await reg.ids(), ['a'], 'b stopped beating: gone after its lease')
  t.same(await r.client.smembers(keys.instances), ['a'], 'and pruned from the index')
})

t.test('LiveCallDirectory: every instance publishes its live calls; the list is newest first', async (t) => {
  const r = await testRedis(t)
  if (!r) return
  const keys = new ClusterKeys(r.prefix)
  const dir = new LiveCallDirectory(conn(t, r.url), keys, 400)
  await dir.publish('a', [liveCall('1', 'a', '2026-01-01T10:00:00.000Z'), liveCall('3', 'a', '2026-01-01T12:00:00.000Z')])
  await dir.publish('b', [liveCall('2', 'b', '2026-01-01T11:00:00.000Z')])
  t.same(
    (await dir.list(['a', 'b'])).map((c) => `${c.id}@${c.instance}`),
    ['3@a', '2@b', '1@a'],
  )
  await dir.publish('a', [liveCall('3', 'a', '2026-01-01T12:00:00.000Z')])
  t.same(
    (await dir.list(['a', 'b'])).map((c) => c.id),
    ['3', '2'],
    'a call that ended is gone',
  )
  await dir.publish('a', [])
  t.same(
    (await dir.list(['a', 'b'])).map((c) => c.id),
    ['2'],
  )
  await sleep(500)
  t.same(await dir.list(['a', 'b']), [], 'not renewed: expired with the lease')
})

t.test('SharedBans: a ban made on one instance reaches the others, and one that starts later', async (t) => {
  const r = await testRedis(t)
  if (!r) return
  const keys = new ClusterKeys(r.prefix)
  const got: Record<string, Array<[string, number]>> = { a: [], b: [], c: [] }
  const bans = (id: string) => new SharedBans(conn(t, r.url), conn(t, r.url), keys, id, (s, ms) => got[id].push([s, ms]), log)
  const a = bans('a')
  const b = bans('b')
  await a.start()
  await b.start()
  await a.share('192.0.2.7', 5000)
  await sleep(200)
  t.same(got.a, [], 'not applied again where it was made')
  t.equal(got.b.length, 1)
  t.match(got.b[0], ['192.0.2.7', 5000])
  const c = bans('c')
  await c.start()
  t.equal(got.c.length, 1, 'an instance that starts later loads the bans in force')
  t.equal(got.c[0][0], '192.0.2.7')
  t.ok(got.c[0][1] > 4000 && got.c[0][1] <= 5000, `for the time left (${got.c[0][1]} ms)`)
  // the heartbeat's read: nothing twice, and what pub/sub lost (a ban written while b was not
  // subscribed: here, written without the announcement) is taken there
  t.equal(await b.load(), 0, 'a ban announced and then read is taken once')
  t.equal(got.b.length, 1)
  t.equal(await a.load(), 0, "and an instance's own ban is not taken from Redis")
  await r.client.set(keys.ban('192.0.2.8'), 'c', 'PX', 5000)
  t.equal(await b.load(), 1, 'a ban whose announcement was lost is taken at the next read')
  t.match(got.b[1], ['192.0.2.8', Number])
  await a.share('192.0.2.7', 20_000)
  await sleep(200)
  t.match(got.b[2], ['192.0.2.7', 20_000], 'a longer ban of the same source is a new one')
})

t.test('Cluster: two instances share live calls, slots and bans', async (t) => {
  const r = await testRedis(t)
  if (!r) return
  const live: Record<string, LiveCallSummary[]> = { a: [], b: [] }
  const banned: string[] = []
  const make = (id: string) =>
    cluster(r.url, r.prefix, id, {
      applyBan: (s) => banned.push(`${id}:${s}`),
      status: () => ({ sip: 'x', http: 'y', liveCalls: live[id].length, draining: false }),
      liveCalls: () => live[id],
    })
  const a = make('a')
  const b = make('b')
  await a.start()
  await b.start()
  t.teardown(() => Promise.all([a.stop(), b.stop()]))
  t.equal(await a.admit('c1', '10.0.0.1'), 'ok')
  t.equal(await b.admit('c2', '10.0.0.2'), 'total', 'SIP_MAX_CALLS=1 across both')
  live.a.push(liveCall('c1', 'a', new Date().toISOString()))
  a.callsChanged()
  await sleep(100)
  t.same(
    (await b.liveCalls())?.map((c) => `${c.id}@${c.instance}`),
    ['c1@a'],
    "b lists a's call",
  )
  t.same(
    (await b.instances())?.map((i) => i.id),
    ['a', 'b'],
  )
  a.release('c1')
  live.a = []
  a.callsChanged()
  await sleep(100)
  t.equal(await b.admit('c2', '10.0.0.2'), 'ok', 'the slot is free again')
  t.same(await a.liveCalls(), [])
  a.banned('198.51.100.9', 60_000)
  await sleep(200)
  t.same(banned, ['b:198.51.100.9'], 'the ban reached b')
  await b.stop()
  t.same(
    (await a.instances())?.map((i) => i.id),
    ['a'],
    'b left at its stop',
  )
})

t.test('Cluster: two instances share the outbound limits (a trunk’s channels and cps, the hourly cap)', async (t) => {
  const r = await testRedis(t)
  if (!r) return
  const a = cluster(r.url, r.prefix, 'a')
  const b = cluster(r.url, r.prefix, 'b')
  await Promise.all([a.start(), b.start()])
  t.teardown(() => Promise.all([a.stop(), b.stop()]))
  const trunk = (over: Partial<TrunkConfig>): TrunkConfig => testTrunk({ host: '192.0.2.50', allowPrefixes: ['8'], ...over })
  const guards = (t: TrunkConfig, maxCallsPerHour: number) =>
    [a, b].map((c) => {
      const g = new OutboundGuard({ trunks: [t], allowPrefixes: [], maxCallsPerHour, logger: log })
      g.useShared(c)
      return g
    })
  const dial = (g: OutboundGuard) => g.decide('sip:89990001122@carrier.ru')

  const [ga, gb] = guards(trunk({ name: 'two-channels', channels: 1 }), 100)
  const first = await dial(ga)
  t.ok(first.ok, 'a takes the one channel')
  const second = await dial(gb)
  t.match(second, { ok: false, reason: 'channels', message: /busy across the cluster/ }, 'b finds it taken, though b itself has no call')
  if (first.ok) first.release()
  await sleep(50)
  t.ok((await dial(gb)).ok, 'released on a: free for b')

  const [ca, cb] = guards(trunk({ name: 'one-cps', cps: 1 }), 100)
  t.ok((await dial(ca)).ok)
  t.match(await dial(cb), { ok: false, reason: 'cps' }, 'one new call per second across both')
  await sleep(1100)
  t.ok((await dial(cb)).ok, 'the next second')

  await r.client.del(`${r.prefix}dial-hour`)
  const [ha, hb] = guards(trunk({ name: 'hourly' }), 2)
  t.ok((await dial(ha)).ok)
  t.ok((await dial(hb)).ok)
  t.match(await dial(ha), { ok: false, reason: 'hourly_cap', message: /the cluster's outbound calls/ }, 'the cap counts both instances')
  t.equal(await r.client.zcard(`${r.prefix}dial-hour`), 2, 'a refused call is counted nowhere')
})

t.test('Cluster with Redis down: never throws, admission falls back within ~100 ms', async (t) => {
  const c = cluster(DEAD_REDIS_URL, 'never:', 'lonely', { limits: { maxCalls: 1, maxCallsPerSource: 1 } })
  await c.start(200)
  t.teardown(() => c.stop())
  t.equal(c.redisUp, false)
  const t0 = performance.now()
  t.equal(await c.admit('x', '10.0.0.1'), 'fallback')
  t.ok(performance.now() - t0 < 150, 'at once')
  t.equal(await c.dial('d', { name: 'carrier', channels: 1, cps: 1 }, 10), 'fallback', 'an outbound call too: the local counts decide')
  c.dialEnded('d', { name: 'carrier', channels: 1, cps: 1 })
  t.equal(await c.liveCalls(), null)
  t.equal(await c.instances(), null)
  c.banned('10.0.0.1', 1000)
  c.callsChanged()
  c.release('x')
})

/** A TCP path to Redis the test can stall (bytes swallowed, connection open) or cut. */
async function stallableProxy(t: Test, target: URL): Promise<{ url: string; stall(on: boolean): void; cut(): void }> {
  let stalled = false
  let refuse = false
  const sockets = new Set<net.Socket>()
  const server = net.createServer((c) => {
    if (refuse) return void c.destroy()
    const u = net.connect(Number(target.port || 6379), target.hostname)
    for (const s of [c, u]) {
      sockets.add(s)
      s.on('error', () => {})
      s.on('close', () => sockets.delete(s))
    }
    c.on('data', (d) => !stalled && u.write(d))
    u.on('data', (d) => !stalled && c.write(d))
    c.on('close', () => u.destroy())
    u.on('close', () => c.destroy())
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    server.close()
  })
  return {
    url: `redis://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    stall: (on) => (stalled = on),
    cut: () => {
      refuse = true
      for (const s of sockets) s.destroy()
      setTimeout(() => (refuse = false), 1500)
    },
  }
}

t.test('Cluster: a stalled Redis costs a call 100 ms at most; a lost one comes back with the slots', async (t) => {
  const r = await testRedis(t)
  if (!r) return
  const proxy = await stallableProxy(t, new URL(r.url))
  const c = cluster(proxy.url, r.prefix, 'a', { leaseMs: 5000, heartbeatMs: 300 })
  await c.start()
  t.teardown(() => c.stop())
  const keys = new ClusterKeys(r.prefix)
  t.equal(await c.admit('c1', '10.0.0.1'), 'ok')
  proxy.stall(true)
  let t0 = performance.now()
  t.equal(await c.admit('c2', '10.0.0.2'), 'fallback', 'Redis stalled: the local limits decide')
  const waited = performance.now() - t0
  t.ok(waited >= 90 && waited < 200, `after ${waited.toFixed(0)} ms`)
  t.equal(await c.liveCalls(), null, 'the API lists its own calls')
  proxy.stall(false)
  c.release('c2')
  // Redis loses everything (a restart) and the connection drops: back, the instance writes its slot again
  proxy.cut()
  await r.client.del(keys.slots('a'), keys.slotSources('a'), `${r.prefix}slot-holders`)
  t0 = performance.now()
  t.equal(await c.admit('c3', '10.0.0.3'), 'fallback', 'connection down: at once')
  t.ok(performance.now() - t0 < 50)
  const deadline = Date.now() + 8000
  while (!(c.redisUp && (await r.client.hlen(keys.slots('a'))) === 2) && Date.now() < deadline) await sleep(100)
  t.ok(c.redisUp, 'reconnected')
  t.same(
    (await r.client.hkeys(keys.slots('a'))).sort(),
    ['c1', 'c3'],
    'the slots of the live calls are written again, c3 admitted while Redis was away among them (c2 was released)',
  )
  t.equal(await c.admit('c4', '10.0.0.4'), 'total', 'and counted')
})
