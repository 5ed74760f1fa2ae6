import pino from 'pino'
import t from 'tap'
import type { Remote, SipRequest } from '../message/types.ts'
import { TrustList } from './cidr.ts'
import { DigestServer } from './digest-server.ts'
import { InboundGate, type InboundMode } from './inbound-gate.ts'
import { scannerMatcher } from './scanners.ts'

const rq = (method: string, callId: string, ua?: string): SipRequest => ({
  method,
  uri: 'sip:sales@192.0.2.1',
  version: '2.0',
  content: '',
  headers: {
    via: [],
    from: { uri: 'sip:a@b', params: { tag: 'f' } },
    to: { uri: 'sip:sales@192.0.2.1', params: {} },
    'call-id': callId,
    cseq: { seq: 1, method },
    ...(ua ? { 'user-agent': ua } : {}),
  } as any,
})
const from = (address: string): Remote => ({ protocol: 'UDP', address, port: 5060 })

function gate(mode: InboundMode, users = new Map<string, string>(), limits = { maxCallsPerSource: 2, maxCalls: 3 }, mediaHasRoom?: () => boolean) {
  const trust = new TrustList()
  trust.setSource('config', ['10.0.0.0/8'])
  const counts: Record<string, number> = {}
  const bump = (k: string) => (counts[k] = (counts[k] ?? 0) + 1)
  const g = new InboundGate({
    mode,
    trust,
    digest: new DigestServer({ realm: 'r', users }),
    isScanner: scannerMatcher(),
    rate: { windowMs: 60_000, max: 5, banMs: 60_000 },
    ...limits,
    retryAfterS: 7,
    mediaHasRoom,
    logger: pino({ level: 'silent' }),
    stats: { scannerDropped: () => bump('scanner'), rateLimited: (a) => bump(a), authFailure: (r) => bump(`auth:${r}`), refused: (r) => bump(r) },
  })
  return { g, counts }
}

t.test('modes: trusted-only refuses, auth challenges, open lets through', async (t) => {
  t.match(gate('trusted-only').g.authorize(rq('INVITE', '1'), from('192.0.2.9')), { status: 403 })
  t.equal(gate('trusted-only').g.authorize(rq('INVITE', '1'), from('10.1.2.3')), null, 'a trusted address')
  t.match(gate('auth').g.authorize(rq('INVITE', '1'), from('192.0.2.9')), { status: 403 }, 'auth without any account: 403, not a challenge nobody can meet')
  const challenged = gate('auth', new Map([['a', 'b']])).g.authorize(rq('OPTIONS', '1'), from('192.0.2.9'))
  t.match(challenged, { status: 401 })
  t.equal(challenged?.challenge?.length, 2)
  t.equal(gate('open').g.authorize(rq('INVITE', '1'), from('192.0.2.9')), null)
})

t.test('screen: scanners dropped even from trusted addresses; untrusted floods banned, trusted not', async (t) => {
  const { g, counts } = gate('open')
  t.equal(g.screen(rq('OPTIONS', '1', 'friendly-scanner'), from('10.0.0.1')), false)
  t.equal(counts.scanner, 1)
  const results = Array.from({ length: 8 }, (_, i) => g.screen(rq('OPTIONS', String(i)), from('192.0.2.9')))
  t.same(results, [true, true, true, true, true, false, false, false], 'five per window, then dropped')
  t.equal(counts.banned, 1, 'one ban')
  t.equal(counts.dropped, 2, 'then its requests dropped')
  t.equal(g.bannedSources, 1)
  t.ok(Array.from({ length: 50 }, () => g.screen(rq('OPTIONS', 'x'), from('10.0.0.1'))).every(Boolean), 'a trusted peer is not rate limited')
})

t.test('call limits: per untrusted source and in total, released when the dialog ends', async (t) => {
  const { g, counts } = gate('open')
  t.equal(g.admitCall(rq('INVITE', 'a1'), from('192.0.2.9')), null)
  t.equal(g.admitCall(rq('INVITE', 'a2'), from('192.0.2.9')), null)
  t.equal(g.admitCall(rq('INVITE', 'a2'), from('192.0.2.9')), null, 'the same call again is not a new one')
  const third = g.admitCall(rq('INVITE', 'a3'), from('192.0.2.9'))
  t.match(third, { status: 503, headers: { 'Retry-After': '7' } }, "the source's third call: 503 with Retry-After")
  t.equal(g.admitCall(rq('INVITE', 't1'), from('10.0.0.1')), null, 'a trusted peer has no per-source limit')
  t.match(g.admitCall(rq('INVITE', 't2'), from('10.0.0.1')), { status: 503 }, 'but the total applies')
  t.same([counts.call_limit_source, counts.call_limit_total], [1, 1])
  g.callEnded('a1', 'f')
  g.callEnded('a1', 'f')
  t.equal(g.activeCalls, 2, 'released once')
  t.equal(g.admitCall(rq('INVITE', 'a4'), from('192.0.2.9')), null, 'room again for that source')
})

t.test('drain: OPTIONS and new INVITEs get 503 with Retry-After, other requests do not', async (t) => {
  const { g } = gate('open')
  g.draining = true
  t.match(g.authorize(rq('OPTIONS', '1'), from('10.0.0.1')), { status: 503, headers: { 'Retry-After': '7' } })
  t.match(g.authorize(rq('INVITE', '1'), from('10.0.0.1')), { status: 503 })
  t.equal(g.authorize(rq('INFO', '1'), from('10.0.0.1')), null)
})

t.test('at capacity: OPTIONS gets 503 (a dispatcher takes the instance out), and 200 again once there is room', async (t) => {
  let ports = 1
  const { g, counts } = gate('open', new Map(), { maxCallsPerSource: 0, maxCalls: 2 }, () => ports > 0)
  t.equal(g.authorize(rq('OPTIONS', 'o1'), from('10.0.0.1')), null, 'room: OPTIONS passes (the UA answers 200)')
  g.admitCall(rq('INVITE', 'c1'), from('10.0.0.1'))
  g.admitCall(rq('INVITE', 'c2'), from('10.0.0.1'))
  t.match(g.authorize(rq('OPTIONS', 'o2'), from('10.0.0.1')), { status: 503, reason: 'At Capacity', headers: { 'Retry-After': '7' } }, 'SIP_MAX_CALLS reached')
  t.equal(g.authorize(rq('INFO', 'i1'), from('10.0.0.1')), null, 'other requests are not refused for it')
  g.callEnded('c2', 'f')
  t.equal(g.authorize(rq('OPTIONS', 'o3'), from('10.0.0.1')), null, 'a call ended: room again')
  ports = 0
  t.match(g.authorize(rq('OPTIONS', 'o4'), from('10.0.0.1')), { status: 503 }, 'no RTP port free')
  t.equal(counts.at_capacity, 2)
})
