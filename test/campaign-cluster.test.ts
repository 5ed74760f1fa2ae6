// One campaign, two instances on one Postgres and one Redis, SIPp as the called phones: the
// campaign's concurrency holds across both (counted from SIPp's trace), both instances dial, and
// nobody is called twice. Then one instance is killed (SIGKILL) with calls up and started again on
// its data directory: the contacts it left dialing are settled from their call records, the
// campaign finishes, and still nobody is called twice.
import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { freeUdpPort } from './helpers/free-port.ts'
import { testSchema } from './helpers/pg-schema.ts'
import { testRedis } from './helpers/redis.ts'
import { startServerProcess, type ServerHandle } from './helpers/server-process.ts'
import { runSipp } from './helpers/sipp.ts'
import { answeringCallee } from './helpers/sipp-callee.ts'
import { waitFor } from './helpers/storage-call.ts'
import { firstInvites, peakConcurrency, readSippTrace } from './helpers/sipp-trace.ts'

// This file's share of ports: RTP 41200-41399, SIPp media 42300 and up.
const TOKEN = 'campaign-cluster-token'
const ALWAYS = { days: [1, 2, 3, 4, 5, 6, 7], from: '00:00', to: '24:00', holidays: [] }

async function api(server: ServerHandle, method: string, p: string, body?: object): Promise<any> {
  const r = await fetch(`http://127.0.0.1:${server.httpPort}${p}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body && { 'content-type': 'application/json' }) },
    ...(body && { body: JSON.stringify(body) }),
  })
  return r.json()
}

t.test('two instances, one campaign: the concurrency holds across both; a killed instance loses no contact and calls nobody twice', async (t) => {
  const db = await testSchema(t)
  const redis = await testRedis(t)
  if (!db || !redis) return
  const dir = mkdtempSync(path.join(os.tmpdir(), 'voice-campaign-cluster-'))
  const callee = await freeUdpPort()
  const config = path.join(dir, 'config.json')
  writeFileSync(config, JSON.stringify({ trunks: [{ name: 'carrier', host: `127.0.0.1:${callee}`, register: false, cps: 10, allowPrefixes: ['+7999'] }] }))
  const env = (name: string, rtp: number) => ({
    DATA_DIR: path.join(dir, name),
    DATABASE_URL: db.url(),
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: redis.prefix,
    INSTANCE_ID: name,
    CONFIG_FILE: config,
    API_TOKEN: TOKEN,
    MEDIA_WORKERS: '1',
    RTP_PORT_MIN: String(rtp),
    RTP_PORT_MAX: String(rtp + 99),
    OUTBOUND_MAX_CALLS_PER_HOUR: '1000',
  })
  // b takes at most 2 calls (SIP_MAX_CALLS), so the campaign's 4 are only reached with a dialling
  // too: which instance claims a freed slot first is otherwise a race of two 250 ms timers
  const a = await startServerProcess(env('a', 41200))
  const bEnv = { ...env('b', 41300), SIP_MAX_CALLS: '2' }
  let b = await startServerProcess(bEnv)
  t.teardown(() => Promise.all([a.stop(), b.stop()]))

  const FIRST = 12
  const SECOND = 8
  const MAX = 4
  const trace = path.join(dir, 'callee.trace')
  // each call lasts 3 s (the callee hangs up), long enough for calls to be up when an instance dies
  const scenario = answeringCallee(dir, 200, 3000)
  const sipp = runSipp(
    scenario,
    `127.0.0.1:${a.sipPort}`,
    ['-p', String(callee), '-m', String(FIRST + SECOND), '-mp', '42300', '-rtp_echo', '-trace_msg', '-message_file', trace],
    240_000,
  )
  await new Promise((r) => setTimeout(r, 500))
  const campaign = async (name: string, prefix: string, n: number) => {
    const contacts = Array.from({ length: n }, (_, i) => ({ phone: `${prefix}${String(i).padStart(4, '0')}` }))
    const created = await api(a, 'POST', '/api/campaigns', { name, maxConcurrent: MAX, callingWindow: ALWAYS, callerId: '74950000000', contacts })
    t.equal(created.added, n, JSON.stringify(created).slice(0, 300))
    t.equal((await api(b, 'POST', `/api/campaigns/${created.id}/start`)).state, 'running', 'started on the other instance: one database')
    return created.id as string
  }
  const finished = (id: string) =>
    waitFor(
      `campaign ${id} to finish`,
      async () => {
        const c = await api(a, 'GET', `/api/campaigns/${id}`)
        return c.state === 'finished' ? c : undefined
      },
      120_000,
    )
  const invitesTo = (prefix: string) => firstInvites(readSippTrace(trace)).filter((m) => m.user?.startsWith(prefix))

  // 1. both instances dial one campaign: its concurrency holds across them, on the wire
  const first = await finished(await campaign('cluster', '+7999555', FIRST))
  t.equal(first.contacts.done, FIRST, `every contact done: ${JSON.stringify(first.contacts)}`)
  const calls1 = new Set(invitesTo('+7999555').map((m) => m.callId))
  const msgs1 = readSippTrace(trace).filter((m) => calls1.has(m.callId))
  const peak = peakConcurrency(msgs1)
  t.equal(calls1.size, FIRST, 'every contact called once')
  t.ok(peak <= MAX, `at most ${MAX} calls up at once across both instances, on the wire: peak ${peak}`)
  const senders = new Set(firstInvites(msgs1).map((m) => m.via))
  t.equal(senders.size, 2, `both instances placed calls: ${[...senders].join(', ')}`)

  // 2. b is killed with calls up and started again on its data directory
  const second = await campaign('cluster, crash', '+7999666', SECOND)
  // killed with two of its calls answered and up, none ringing: a call that is ringing when its
  // instance dies was never answered, a no-answer the policy retries later, past this test's end
  const bReady = async () => {
    const calls: any[] = (await api(b, 'GET', '/api/calls?limit=20')).calls ?? []
    const answered = calls.filter((c) => c.live && c.outbound?.sipResult === 'answered').length
    const ringing = calls.filter((c) => c.outbound?.sipResult === 'calling' || c.outbound?.sipResult === 'ringing').length
    return answered >= 2 && ringing === 0 ? true : undefined
  }
  await waitFor('two answered campaign calls up on b, none ringing', bReady, 60_000)
  await b.kill('SIGKILL')
  const killedAt = Date.now()
  b = await startServerProcess(bEnv)
  t.comment(`b killed and back in ${((Date.now() - killedAt) / 1000).toFixed(1)} s`)
  const done = await finished(second)
  t.equal(done.contacts.done, SECOND, `no contact lost: every one done (the killed calls were answered): ${JSON.stringify(done.contacts)}`)
  const numbers = invitesTo('+7999666').map((m) => m.user)
  t.equal(numbers.length, SECOND, 'every contact was called')
  t.equal(new Set(numbers).size, SECOND, 'and nobody twice')
  const result = await sipp
  t.comment(
    `figures: ${FIRST} calls, peak ${peak} concurrent (limit ${MAX}) from two instances; after the kill ${SECOND} calls, none repeated; SIPp ${result.successful} successful, ${result.failed} failed (the killed calls' BYEs went unanswered)`,
  )
})
