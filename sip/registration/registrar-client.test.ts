// The REGISTER state machine against a raw UDP registrar scripted by the test, through the real
// embedded UA (transactions, retransmissions) with short timers: T1 = 40 ms, so a registrar that
// never answers times out in 64*T1 = 2.56 s. The test follows the order of events, never the clock.
import { createHash } from 'node:crypto'
import dgram from 'node:dgram'
import pino from 'pino'
import t, { type Test } from 'tap'
import { testTrunk } from '../../test/helpers/trunk.ts'
import { EmbeddedCallControl } from '../ua/embedded-call-control.ts'
import type { TrunkConfig } from '../trunks/trunk.ts'
import { RegistrarClient, type RegistrationResult, type RegistrationStatus } from './registrar-client.ts'

const T1 = 40
const md5 = (s: string) => createHash('md5').update(s).digest('hex')

type Reply = (rq: string) => string | null

interface Registrar {
  port: number
  requests: string[]
  /** One reply per REGISTER, in order; the last one repeats. null: no answer at all. */
  script: Reply[]
  close(): void
}

function header(rq: string, name: string): string {
  return new RegExp(`^${name}:\\s*(.*)$`, 'mi').exec(rq)?.[1].trim() ?? ''
}

async function registrar(script: Reply[]): Promise<Registrar> {
  const s = dgram.createSocket('udp4')
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r))
  const requests: string[] = []
  let i = 0
  // A retransmission (same branch) is not a new REGISTER: it gets the reply the first one got.
  const replies = new Map<string, string | null>()
  s.on('message', (m, from) => {
    const rq = m.toString('latin1')
    if (!rq.startsWith('REGISTER ')) return
    const branch = /branch=([^;\s]+)/.exec(header(rq, 'Via'))?.[1] ?? ''
    if (!replies.has(branch)) {
      requests.push(rq)
      const reply = script[Math.min(i++, script.length - 1)](rq)
      replies.set(branch, reply)
    }
    const reply = replies.get(branch)
    if (reply) s.send(Buffer.from(reply, 'latin1'), from.port, from.address)
  })
  return { port: s.address().port, requests, script, close: () => s.close() }
}

function response(rq: string, status: string, extra: string[] = []): string {
  return [
    `SIP/2.0 ${status}`,
    `Via: ${header(rq, 'Via')}`,
    `From: ${header(rq, 'From')}`,
    `To: ${header(rq, 'To')};tag=reg`,
    `Call-ID: ${header(rq, 'Call-ID')}`,
    `CSeq: ${header(rq, 'CSeq')}`,
    ...extra,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n')
}

const challenge =
  (nonce: string, stale = false) =>
  (rq: string) =>
    response(rq, '401 Unauthorized', [
      `WWW-Authenticate: Digest realm="carrier.test", nonce="${nonce}", qop="auth", algorithm=MD5${stale ? ', stale=true' : ''}`,
    ])

/** 200 only when the Authorization is right for `password` (checked here independently of sip/auth). */
const okIfAuthorized = (password: string, expires: number) => (rq: string) => {
  const auth = header(rq, 'Authorization')
  const p: Record<string, string> = {}
  for (const m of auth.matchAll(/(\w+)="?([^",]*)"?/g)) p[m[1]] = m[2]
  const ha1 = md5(`${p.username}:${p.realm}:${password}`)
  const ha2 = md5(`REGISTER:${p.uri}`)
  const expected = md5(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:auth:${ha2}`)
  if (p.response !== expected) return response(rq, '403 Forbidden')
  const contact = /<([^>]+)>/.exec(header(rq, 'Contact'))?.[1]
  return response(rq, '200 OK', [`Contact: <${contact}>;expires=${expires}`, 'Contact: <sip:other@192.0.2.1:5060>;expires=3600'])
}

const trunk = (port: number, over: Partial<TrunkConfig> = {}): TrunkConfig =>
  testTrunk({ host: '127.0.0.1', port, domain: 'carrier.test', username: '74950001122', password: 'right', register: true, ...over })

async function ua(t: Test) {
  const u = new EmbeddedCallControl({
    host: '127.0.0.1',
    port: 0,
    publicHost: '127.0.0.1',
    logger: pino({ level: 'silent' }),
    timers: { T1, T2: 4 * T1, T4: 5 * T1 },
  })
  await u.start()
  t.teardown(() => u.stop())
  return u
}

function waitFor(client: RegistrarClient, pred: (s: RegistrationStatus) => boolean, what: string, ms = 20000): Promise<RegistrationStatus> {
  return new Promise((resolve, reject) => {
    if (pred(client.status())) return resolve(client.status())
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; status ${JSON.stringify(client.status())}`)), ms)
    const on = (s: RegistrationStatus) => {
      if (!pred(s)) return
      clearTimeout(timer)
      client.off('state', on)
      resolve(s)
    }
    client.on('state', on)
  })
}

t.test('challenge, register, refresh with a stale nonce, failure, backoff, timeout, recovery', async (t) => {
  const reg = await registrar([
    challenge('n1'),
    okIfAuthorized('right', 2), // granted 2 s: a refresh comes at 60 %, 1.2 s
    challenge('n2', true), // the refresh reused n1: stale, answer n2 without giving up
    okIfAuthorized('right', 2),
    (rq) => response(rq, '503 Service Unavailable'),
    () => null, // registrar gone: the transaction times out
    challenge('n3'),
    okIfAuthorized('right', 300),
  ])
  t.teardown(() => reg.close())
  const u = await ua(t)
  const results: RegistrationResult[] = []
  const states: string[] = []
  const client = new RegistrarClient({
    trunk: trunk(reg.port),
    ua: u,
    logger: pino({ level: 'silent' }),
    backoffMinMs: 100,
    backoffMaxMs: 1000,
    onResult: (r) => results.push(r),
  })
  client.on('state', (s) => {
    if (states[states.length - 1] !== s.state) states.push(s.state)
  })
  client.start()
  t.teardown(() => client.stop(100))

  const first = await waitFor(client, (s) => s.state === 'registered', 'the first registration')
  t.equal(first.expiresS, 2, 'the expiry granted to our Contact, not the other binding')
  await waitFor(client, (s) => s.state === 'registered' && reg.requests.length >= 4, 'the refresh')
  const refresh = reg.requests[2]
  t.match(header(refresh, 'Authorization'), /nonce="n1".*nc=00000002/, 'the refresh carries credentials for the known nonce, nc counted on')
  t.match(header(reg.requests[3], 'Authorization'), /nonce="n2".*nc=00000001/, 'stale=true: answered with the new nonce')

  const failed = await waitFor(client, (s) => s.state === 'failed', 'the 503')
  t.equal(failed.lastStatus, 503)
  t.equal(failed.failures, 1)
  const timedOut = await waitFor(client, (s) => s.state === 'failed' && s.failures === 2, 'the timeout')
  t.equal(timedOut.lastError, 'no response from the registrar')
  const back = await waitFor(client, (s) => s.state === 'registered' && s.expiresS === 300, 'the recovery')
  t.equal(back.failures, 0)

  t.same(results, ['ok', 'ok', 'rejected', 'timeout', 'ok'])
  t.same(states, [
    'unregistered',
    'registering',
    'registered',
    'registering',
    'registered',
    'registering',
    'failed',
    'registering',
    'failed',
    'registering',
    'registered',
  ])
  const callIds = new Set(reg.requests.map((r) => header(r, 'Call-ID')))
  t.equal(callIds.size, 1, 'one Call-ID for every REGISTER')
  const cseqs = reg.requests.map((r) => Number(header(r, 'CSeq').split(' ')[0]))
  t.same(
    cseqs,
    [...cseqs].sort((a, b) => a - b),
    'CSeq rises',
  )
  t.equal(new Set(cseqs).size, cseqs.length)
  t.match(reg.requests[0], /^REGISTER sip:carrier\.test SIP\/2\.0/)
  t.equal(header(reg.requests[0], 'To'), '<sip:74950001122@carrier.test>')
  t.equal(header(reg.requests[0], 'Expires'), '300')
})

t.test('a wrong password: one answer to the challenge, then backoff, never a loop of challenges', async (t) => {
  const reg = await registrar([challenge('n1'), okIfAuthorized('right', 60)])
  // okIfAuthorized answers 403 to the wrong digest; make it a 401 again as carriers do
  reg.script[1] = (rq) => (okIfAuthorized('right', 60)(rq)!.startsWith('SIP/2.0 200') ? okIfAuthorized('right', 60)(rq) : challenge('n1')(rq))
  reg.script[2] = challenge('n1')
  t.teardown(() => reg.close())
  const u = await ua(t)
  const results: RegistrationResult[] = []
  const client = new RegistrarClient({
    trunk: trunk(reg.port, { password: 'wrong' }),
    ua: u,
    logger: pino({ level: 'silent' }),
    backoffMinMs: 100,
    backoffMaxMs: 200,
    onResult: (r) => results.push(r),
  })
  client.start()
  t.teardown(() => client.stop(100))
  const s = await waitFor(client, (s) => s.failures >= 2, 'two failed attempts')
  t.equal(s.state, 'failed')
  t.equal(s.lastError, 'the registrar refused our credentials')
  t.same(results.slice(0, 2), ['auth_failed', 'auth_failed'])
  // each attempt: REGISTER, 401, REGISTER with credentials, 401: give up until the backoff
  t.ok(reg.requests.length >= 4 && reg.requests.length <= 2 * (s.failures + 1), `requests ${reg.requests.length} for ${s.failures} attempts`)
})

t.test('a challenge from another realm than the configured one is not answered', async (t) => {
  const reg = await registrar([challenge('n1')])
  t.teardown(() => reg.close())
  const u = await ua(t)
  const client = new RegistrarClient({ trunk: trunk(reg.port, { realm: 'my-carrier.ru' }), ua: u, logger: pino({ level: 'silent' }), backoffMinMs: 60_000 })
  client.start()
  t.teardown(() => client.stop(100))
  const s = await waitFor(client, (s) => s.state === 'failed', 'the failure')
  t.match(s.lastError, /another realm/)
  t.equal(reg.requests.length, 1, 'the password never went to carrier.test')
})

t.test('stop removes the binding with Expires: 0', async (t) => {
  const reg = await registrar([challenge('n1'), okIfAuthorized('right', 300)])
  t.teardown(() => reg.close())
  const u = await ua(t)
  const client = new RegistrarClient({ trunk: trunk(reg.port), ua: u, logger: pino({ level: 'silent' }) })
  client.start()
  await waitFor(client, (s) => s.state === 'registered', 'registration')
  await client.stop()
  const last = reg.requests[reg.requests.length - 1]
  t.equal(header(last, 'Expires'), '0')
  t.match(header(last, 'Authorization'), /nonce="n1"/)
  t.equal(client.status().state, 'unregistered')
})
