// Outbound calls through a trunk and the toll-fraud rules at the UA, against raw UDP sockets:
// a 401 answered with credentials (checked here with an independent MD5), the outbound proxy as
// the next hop with a loose Route, From and P-Asserted-Identity of the trunk; a refused password
// not tried twice; and a REFER from a caller, answered 405 without anything being dialled.
import { createHash } from 'node:crypto'
import pino from 'pino'
import t, { type Test } from 'tap'
import { testTrunk } from '../../test/helpers/trunk.ts'
import { OutboundGuard } from '../trunks/outbound-guard.ts'
import type { TrunkConfig } from '../trunks/trunk.ts'
import { DialError, type DialRoute, type InboundCall } from './call-control.ts'
import { EmbeddedCallControl } from './embedded-call-control.ts'
import { header, peer, reply } from '../../test/helpers/raw-sip-peer.ts'

const T1 = 40
const logger = pino({ level: 'silent' })
const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n'
const md5 = (s: string) => createHash('md5').update(s).digest('hex')

const trunk = (over: Partial<TrunkConfig> = {}): TrunkConfig =>
  // the trunk's host does not resolve: everything must go to the outbound proxy
  testTrunk({ username: 'login74950001122', password: 'right', ...over })

async function ua(t: Test, guard?: OutboundGuard): Promise<EmbeddedCallControl> {
  const u = new EmbeddedCallControl({ host: '127.0.0.1', port: 0, publicHost: '127.0.0.1', logger, timers: { T1, T2: 4 * T1, T4: 5 * T1 }, outbound: guard })
  await u.start()
  t.teardown(() => u.stop())
  return u
}

const CHALLENGE = 'WWW-Authenticate: Digest realm="carrier.ru", nonce="abc123", qop="auth", algorithm=MD5'

t.test('401 answered through the outbound proxy: same Call-ID, next CSeq, the trunk identity, credentials on the ACK', async (t) => {
  const proxy = await peer()
  t.teardown(() => proxy.close())
  const guard = new OutboundGuard({ trunks: [trunk({ outboundProxy: `127.0.0.1:${proxy.port}` })], allowPrefixes: ['8'], maxCallsPerHour: 10, logger })
  const u = await ua(t, guard)
  const dialling = u.dial('sip:89990001122@carrier.ru', { sdp: SDP, fromUser: '79161234567' })

  const first = await proxy.next(/^INVITE /)
  t.match(first, /^INVITE sip:89990001122@carrier\.ru SIP\/2\.0/)
  t.match(header(first, 'Route'), new RegExp(`<sip:127\\.0\\.0\\.1:${proxy.port};lr>`), 'the outbound proxy as a loose route')
  t.match(header(first, 'From'), /^<sip:74950001122@carrier\.ru>;tag=/, "the trunk's caller id, not the caller's number")
  t.equal(header(first, 'P-Asserted-Identity'), '<sip:74950001122@carrier.ru>')
  t.equal(header(first, 'Authorization'), '')
  proxy.send(reply(first, '401 Unauthorized', [CHALLENGE]), u.address.port)
  t.match(await proxy.next(/^ACK /), /CSeq: 1 ACK/, 'the 401 is ACKed by the transaction')

  const second = await proxy.next(/^INVITE /)
  t.equal(header(second, 'Call-ID'), header(first, 'Call-ID'), 'same Call-ID')
  t.equal(header(second, 'CSeq'), '2 INVITE', 'next CSeq')
  t.equal(header(second, 'From'), header(first, 'From'), 'same From tag')
  t.not(/branch=([^;\s]+)/.exec(header(second, 'Via'))![1], /branch=([^;\s]+)/.exec(header(first, 'Via'))![1], 'a new transaction')
  const auth = header(second, 'Authorization')
  const p: Record<string, string> = {}
  for (const m of auth.matchAll(/(\w+)="?([^",]*)"?/g)) p[m[1]] = m[2]
  t.equal(p.username, 'login74950001122')
  t.equal(p.uri, 'sip:89990001122@carrier.ru')
  const expected = md5(`${md5(`login74950001122:carrier.ru:right`)}:abc123:${p.nc}:${p.cnonce}:auth:${md5('INVITE:sip:89990001122@carrier.ru')}`)
  t.equal(p.response, expected, 'the digest is right')
  proxy.send(reply(second, '200 OK', [`Contact: <sip:seller@127.0.0.1:${proxy.port}>`], SDP), u.address.port)
  const leg = await dialling
  const ack = await proxy.next(/^ACK /)
  t.match(ack, /CSeq: 2 ACK/)
  t.equal(header(ack, 'Authorization'), auth, "the ACK of the 2xx carries the INVITE's credentials")
  t.equal(guard.liveCalls('carrier'), 1)
  const hangup = leg.hangup()
  const bye = await proxy.next(/^BYE /)
  proxy.send(reply(bye, '200 OK'), u.address.port)
  await hangup
  t.equal(guard.liveCalls('carrier'), 0, 'the channel is given back')
})

t.test('a refused password is not tried twice: the dial fails with the 401', async (t) => {
  const proxy = await peer()
  t.teardown(() => proxy.close())
  const guard = new OutboundGuard({
    trunks: [trunk({ outboundProxy: `127.0.0.1:${proxy.port}`, password: 'wrong' })],
    allowPrefixes: ['8'],
    maxCallsPerHour: 10,
    logger,
  })
  const u = await ua(t, guard)
  const dialling = u.dial('sip:89990001122@carrier.ru', { sdp: SDP }).then(
    () => null,
    (e) => e,
  )
  proxy.send(reply(await proxy.next(/^INVITE /), '401 Unauthorized', [CHALLENGE]), u.address.port)
  proxy.send(reply(await proxy.next(/^INVITE .*[\s\S]*Authorization:/), '401 Unauthorized', [CHALLENGE]), u.address.port)
  const err = await dialling
  t.ok(err instanceof DialError && err.status === 401, `${err}`)
  t.equal(proxy.received.filter((m) => m.startsWith('INVITE ')).length, 2, 'two INVITEs, not a loop')
  t.equal(guard.liveCalls('carrier'), 0)
})

t.test('a trunk with srtp: required: the offer is made for it (RTP/SAVP), and a plain one never leaves', async (t) => {
  const proxy = await peer()
  t.teardown(() => proxy.close())
  const guard = new OutboundGuard({
    trunks: [trunk({ outboundProxy: `127.0.0.1:${proxy.port}`, srtp: 'required' })],
    allowPrefixes: ['8'],
    maxCallsPerHour: 10,
    logger,
  })
  const u = await ua(t, guard)
  const err = await u.dial('sip:89990001122@carrier.ru', { sdp: SDP }).then(
    () => null,
    (e) => e,
  )
  t.ok(err instanceof DialError && err.status === 'refused' && /requires SRTP and the offer is plain RTP/.test(err.message), `${err}`)
  t.equal(proxy.received.length, 0, 'no INVITE left')
  t.equal(guard.liveCalls('carrier'), 0, 'the channel is given back')

  const routes: DialRoute[] = []
  const secure = SDP.replace('RTP/AVP 0', 'RTP/SAVP 0') + 'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n'
  const dialling = u.dial('sip:89990001122@carrier.ru', {
    sdp: (route) => {
      routes.push(route)
      return route.srtp === 'required' ? secure : SDP
    },
  })
  const invite = await proxy.next(/^INVITE /)
  t.same(routes, [{ trunk: 'carrier', srtp: 'required' }], 'the offer maker is told the trunk and its SRTP')
  t.match(invite, /^m=audio 40000 RTP\/SAVP 0$/m, 'the INVITE offers RTP/SAVP')
  t.match(invite, /^a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:/m)
  proxy.send(reply(invite, '486 Busy Here'), u.address.port)
  t.match(await dialling.catch((e) => e), { status: 486 })
})

t.test('a REFER from the caller is answered 405 and the server dials nothing', async (t) => {
  const target = await peer() // where the REFER wants us to call: it must hear nothing
  const caller = await peer()
  t.teardown(() => [target, caller].forEach((p) => p.close()))
  // The guard would even allow the number: the REFER is refused as a method, not by prefix.
  const guard = new OutboundGuard({ trunks: [], allowPrefixes: ['8'], maxCallsPerHour: 10, logger })
  const u = await ua(t, guard)
  const calls: InboundCall[] = []
  u.on('call', (c) => {
    calls.push(c)
    void c.answer(SDP)
  })
  const base = (method: string, cseq: number, toTag = '', branch = `z9hG4bK${method}${cseq}`) => [
    `${method} sip:sales@127.0.0.1:${u.address.port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=${branch};rport`,
    'From: <sip:79990000000@127.0.0.1>;tag=caller',
    `To: <sip:sales@127.0.0.1>${toTag && `;tag=${toTag}`}`,
    'Call-ID: refer-test',
    `CSeq: ${cseq} ${method}`,
    `Contact: <sip:79990000000@127.0.0.1:${caller.port}>`,
    'Max-Forwards: 70',
  ]
  caller.send([...base('INVITE', 1), 'Content-Type: application/sdp', `Content-Length: ${SDP.length}`, '', SDP].join('\r\n'), u.address.port)
  const ok = await caller.next(/^SIP\/2\.0 200 /)
  const toTag = /tag=([^;\s]+)/.exec(header(ok, 'To'))![1]
  caller.send([...base('ACK', 1, toTag), 'Content-Length: 0', '', ''].join('\r\n'), u.address.port)
  caller.send([...base('REFER', 2, toTag), `Refer-To: <sip:89990001122@127.0.0.1:${target.port}>`, 'Content-Length: 0', '', ''].join('\r\n'), u.address.port)
  const res = await caller.next(/CSeq: 2 REFER/)
  t.match(res, /^SIP\/2\.0 405 /)
  t.notMatch(header(res, 'Allow'), /REFER/, 'REFER is not among the methods we allow')
  // Out of a dialog too.
  caller.send(
    [...base('REFER', 1, '', 'z9hG4bKrefer-out'), `Refer-To: <sip:89990001122@127.0.0.1:${target.port}>`, 'Content-Length: 0', '', ''].join('\r\n'),
    u.address.port,
  )
  t.match(await caller.next(/CSeq: 1 REFER/), /^SIP\/2\.0 405 /)
  // The call is still there (BYE gets 200, not 481), and in all that time nothing reached the target.
  caller.send([...base('BYE', 3, toTag), 'Content-Length: 0', '', ''].join('\r\n'), u.address.port)
  t.match(await caller.next(/CSeq: 3 BYE/), /^SIP\/2\.0 200 /)
  await new Promise((r) => setTimeout(r, 64 * T1))
  t.same(target.received, [], 'no INVITE to the Refer-To target')
  t.equal(calls.length, 1)
})
