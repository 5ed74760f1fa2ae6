// The outbound leg's dialog against a raw UDP callee: reliable provisionals PRACKed once each
// (RFC 3262), session timers offered, raised after a 422 and refreshed by us or watched
// (RFC 4028), and the callee's re-INVITEs and UPDATEs answered while the audio stays put.
import pino from 'pino'
import t, { type Test } from 'tap'
import { header, peer, reply, type Peer } from '../../test/helpers/raw-sip-peer.ts'
import type { OutboundCall } from './call-control.ts'
import { EmbeddedCallControl } from './embedded-call-control.ts'

const T1 = 40
const logger = pino({ level: 'silent' })
const sdp = (port: number, version = 1, direction = 'sendrecv') =>
  `v=0\r\no=- 1 ${version} IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=${direction}\r\n`
const OURS = sdp(40000)
const THEIRS = sdp(42000)

async function setUp(t: Test, sessionTimer = { expiresS: 1800, minSeS: 90 }): Promise<{ callee: Peer; dial: () => Promise<OutboundCall> }> {
  const u = new EmbeddedCallControl({ host: '127.0.0.1', port: 0, publicHost: '127.0.0.1', logger, timers: { T1, T2: 4 * T1, T4: 5 * T1 }, sessionTimer })
  await u.start()
  const callee = await peer(u.address.port)
  t.teardown(async () => {
    await u.stop()
    callee.close()
  })
  return { callee, dial: () => u.dial(`sip:seller@127.0.0.1:${callee.port}`, { sdp: OURS }) }
}

const contact = (p: Peer) => `Contact: <sip:seller@127.0.0.1:${p.port}>`
const cseq = (m: string) => Number(header(m, 'CSeq').split(' ')[0])

t.test('a reliable 183 is PRACKed once; timers offered; the 2xx names us refresher and we refresh with UPDATE', async (t) => {
  const { callee, dial } = await setUp(t, { expiresS: 2, minSeS: 1 })
  const dialling = dial()
  const invite = await callee.next(/^INVITE /)
  t.match(header(invite, 'Supported'), /100rel/)
  t.match(header(invite, 'Supported'), /timer/)
  t.equal(header(invite, 'Session-Expires'), '2')
  t.equal(header(invite, 'Min-SE'), '1')

  const ringing = reply(invite, '183 Session Progress', [contact(callee), 'Require: 100rel', 'RSeq: 7'])
  callee.send(ringing)
  const prack = await callee.next(/^PRACK /)
  t.equal(header(prack, 'RAck'), `7 ${cseq(invite)} INVITE`)
  t.ok(cseq(prack) > cseq(invite), "the PRACK's CSeq goes on from the INVITE's")
  t.match(prack, new RegExp(`^PRACK sip:seller@127\\.0\\.0\\.1:${callee.port} `), 'sent to the early dialog’s remote target')
  callee.send(reply(prack, '200 OK'))
  callee.send(ringing) // a retransmission: no second PRACK
  callee.send(reply(invite, '200 OK', [contact(callee), 'Allow: INVITE, ACK, BYE, UPDATE', 'Require: timer', 'Session-Expires: 2;refresher=uac'], THEIRS))
  const leg = await dialling
  await callee.next(/^ACK /)
  t.equal(callee.count(/^PRACK /), 1, 'one PRACK per RSeq')

  const update = await callee.next(/^UPDATE /, 3000)
  t.match(header(update, 'Session-Expires'), /^2;refresher=uac/, 'we refresh at half the interval')
  t.ok(cseq(update) > cseq(prack))
  t.equal(update.split('\r\n\r\n')[1], '', 'a refresh without a body')
  callee.send(reply(update, '200 OK', ['Session-Expires: 2;refresher=uac']))
  const bye = leg.hangup()
  const b = await callee.next(/^BYE /)
  t.ok(cseq(b) > cseq(update))
  callee.send(reply(b, '200 OK'))
  await bye
})

t.test('422: the INVITE again with the Min-SE asked for', async (t) => {
  const { callee, dial } = await setUp(t)
  const dialling = dial()
  const first = await callee.next(/^INVITE /)
  t.equal(header(first, 'Session-Expires'), '1800')
  callee.send(reply(first, '422 Session Interval Too Small', ['Min-SE: 3600']))
  await callee.next(/^ACK /)
  const second = await callee.next(/^INVITE /)
  t.equal(header(second, 'Session-Expires'), '3600')
  t.equal(cseq(second), cseq(first) + 1)
  t.equal(header(second, 'Call-ID'), header(first, 'Call-ID'))
  callee.send(reply(second, '200 OK', [contact(callee)], THEIRS))
  const leg = await dialling
  const bye = leg.hangup()
  callee.send(reply(await callee.next(/^BYE /), '200 OK'))
  await bye
})

t.test("the callee's re-INVITEs: hold answered recvonly with a new version, a moved address refused, a refresh UPDATE answered", async (t) => {
  const { callee, dial } = await setUp(t)
  const dialling = dial()
  const invite = await callee.next(/^INVITE /)
  const toTag = 'callee1'
  const ok = reply(invite, '200 OK', [contact(callee), 'Allow: INVITE, ACK, BYE'], THEIRS).replace(/^(To: .*?;tag=)uas1/m, `$1${toTag}`)
  callee.send(ok)
  await dialling
  await callee.next(/^ACK /)
  const from = header(invite, 'From')
  const to = header(invite, 'To')
  const inDialog = (method: string, seq: number, body = '') =>
    [
      `${method} ${header(invite, 'Contact').replace(/^<|>.*$/g, '')} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${callee.port};branch=z9hG4bK-${method}-${seq}`,
      `From: ${to};tag=${toTag}`,
      `To: ${from}`,
      `Call-ID: ${header(invite, 'Call-ID')}`,
      `CSeq: ${seq} ${method}`,
      contact(callee),
      ...(body ? ['Content-Type: application/sdp'] : []),
      `Content-Length: ${body.length}`,
      '',
      body,
    ].join('\r\n')

  callee.send(inDialog('INVITE', 10, sdp(42000, 2, 'sendonly')))
  const held = await callee.next(/^SIP\/2\.0 200 .*\r\n[\s\S]*CSeq: 10 INVITE/)
  const answer = held.split('\r\n\r\n')[1]
  t.match(answer, /a=recvonly/, 'hold: the answer mirrors sendonly')
  t.match(answer, /^o=- 1 2 IN IP4/m, 'a changed description has a higher version')
  t.match(answer, /m=audio 40000 /, 'the same audio port')
  callee.send(inDialog('ACK', 10))

  callee.send(inDialog('INVITE', 11, sdp(43000, 3)))
  t.match(await callee.next(/CSeq: 11 INVITE/), /^SIP\/2\.0 488 /, 'the relayed audio cannot move: 488')
  callee.send(inDialog('ACK', 11))

  callee.send(inDialog('UPDATE', 12))
  const refreshed = await callee.next(/CSeq: 12 UPDATE/)
  t.match(refreshed, /^SIP\/2\.0 200 /)
  t.match(header(refreshed, 'Session-Expires'), /^1800;refresher=/)

  callee.send(inDialog('INVITE', 13))
  const offer = await callee.next(/^SIP\/2\.0 200 .*\r\n[\s\S]*CSeq: 13 INVITE/)
  t.match(offer.split('\r\n\r\n')[1], /m=audio 40000 /, 'a re-INVITE without a body gets our description as the offer')
  await callee.next(/CSeq: 13 INVITE/, 1000) // retransmitted until the ACK (UDP)
  callee.send(inDialog('ACK', 13))
  callee.send(inDialog('BYE', 14))
  t.match(await callee.next(/CSeq: 14 BYE/), /^SIP\/2\.0 200 /)
})

t.test('the callee refreshes and stops: BYE when the session expires', async (t) => {
  const { callee, dial } = await setUp(t, { expiresS: 3, minSeS: 1 })
  const dialling = dial()
  const invite = await callee.next(/^INVITE /)
  callee.send(reply(invite, '200 OK', [contact(callee), 'Require: timer', 'Session-Expires: 3;refresher=uas'], THEIRS))
  const leg = await dialling
  const ended = new Promise((r) => leg.once('ended', r))
  await callee.next(/^ACK /)
  const bye = await callee.next(/^BYE /, 4000)
  callee.send(reply(bye, '200 OK'))
  t.equal(await ended, 'session-expired')
  t.equal(callee.count(/^UPDATE |^INVITE .*\r\n[\s\S]*CSeq: [2-9]/), 0, 'we did not refresh: the callee was the refresher')
})
