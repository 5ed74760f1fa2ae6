// The embedded UA against a raw UDP socket playing the caller, with short RFC 3261
// timers (T1 = 40 ms) so retransmission behaviour is observable in a test.
import net from 'node:net'
import { once } from 'node:events'
import pino from 'pino'
import { peer, type Peer } from '../../test/helpers/raw-sip-peer.ts'
import t from 'tap'
import type { InboundCall } from './call-control.ts'
import { EmbeddedCallControl } from './embedded-call-control.ts'

const T1 = 40
const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n'

let seq = 0
function request(
  method: string,
  p: Peer,
  opts: { callId: string; fromTag?: string; toTag?: string; cseq?: number; branch?: string; body?: string; extra?: string },
): string {
  const body = opts.body ?? ''
  return [
    `${method} sip:sales@127.0.0.1 SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${p.port};branch=${opts.branch ?? 'z9hG4bK' + ++seq + Math.random().toString(36).slice(2)};rport`,
    `From: <sip:79990000000@127.0.0.1>;tag=${opts.fromTag ?? 'caller'}`,
    `To: <sip:sales@127.0.0.1>${opts.toTag ? ';tag=' + opts.toTag : ''}`,
    `Call-ID: ${opts.callId}`,
    `CSeq: ${opts.cseq ?? 1} ${method === 'ACK' ? 'ACK' : method}`,
    `Contact: <sip:79990000000@127.0.0.1:${p.port}>`,
    'Max-Forwards: 70',
    ...(opts.extra ? [opts.extra] : []),
    ...(body ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(body, 'latin1')}`,
    '',
    body,
  ].join('\r\n')
}

const toTagOf = (msg: string) => /^To:.*;tag=([^;\s]+)/im.exec(msg)?.[1] ?? ''
const branchOf = (msg: string) => /branch=([^;\s]+)/.exec(msg)?.[1] ?? ''

t.test('embedded UA', async (t) => {
  const ua = new EmbeddedCallControl({
    host: '127.0.0.1',
    port: 0,
    publicHost: '127.0.0.1',
    logger: pino({ level: 'silent' }),
    timers: { T1, T2: 4 * T1, T4: 5 * T1 },
  })
  await ua.start()
  t.teardown(() => ua.stop())
  const calls: InboundCall[] = []
  ua.on('call', (c) => calls.push(c))
  const p = await peer(ua.address.port)
  t.teardown(() => p.close())

  await t.test('OPTIONS outside a dialog: 200 with Allow and Accept', async (t) => {
    p.send(request('OPTIONS', p, { callId: 'opt-1' }))
    const res = await p.next(/^SIP\/2\.0 200[\s\S]*CSeq: 1 OPTIONS/)
    t.match(res, /^Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, INFO/m)
    t.match(res, /^Accept: application\/sdp/m)
    t.match(res, /received=127\.0\.0\.1|rport=\d+/, 'Via records where the request came from')
  })

  await t.test('unknown and unsupported methods', async (t) => {
    p.send(request('FOO', p, { callId: 'm-1' }))
    t.match(await p.next(/CSeq: 1 FOO/), /^SIP\/2\.0 501[\s\S]*^Allow: /m)
    p.send(request('REGISTER', p, { callId: 'm-2' }))
    t.match(await p.next(/CSeq: 1 REGISTER/), /^SIP\/2\.0 405/)
    p.send(request('BYE', p, { callId: 'm-3', toTag: 'nosuch' }))
    t.match(await p.next(/CSeq: 1 BYE/), /^SIP\/2\.0 481/, 'BYE for an unknown dialog: 481')
    p.send(request('OPTIONS', p, { callId: 'm-4', extra: 'Require: 100rel-nonsense' }))
    t.match(await p.next(/Call-ID: m-4/), /^SIP\/2\.0 420[\s\S]*^Unsupported: 100rel-nonsense/m)
  })

  await t.test('INVITE: 100 at once, 200 retransmitted until ACK, then BYE from the caller', async (t) => {
    const invite = request('INVITE', p, { callId: 'call-1', body: SDP })
    p.send(invite)
    await p.next(/^SIP\/2\.0 100/)
    await new Promise((r) => setTimeout(r, 20))
    t.equal(calls.length, 1, 'one call offered')
    const call = calls[0]
    t.equal(call.callerId, '79990000000')
    t.equal(call.offer, SDP)
    call.progress(180)
    const ringing = await p.next(/^SIP\/2\.0 180/)
    p.send(invite) // a retransmitted INVITE is absorbed: the 180 is repeated, no second call
    await p.next(/^SIP\/2\.0 180/)
    t.equal(calls.length, 1, 'retransmitted INVITE absorbed')
    const answered = call.answer('v=0\r\n')
    await p.next(/^SIP\/2\.0 200/)
    await new Promise((r) => setTimeout(r, 6 * T1))
    const oks = p.count(/^SIP\/2\.0 200[\s\S]*CSeq: 1 INVITE/)
    t.ok(oks >= 3, `200 OK retransmitted without an ACK (${oks} sent in ${7 * T1} ms)`)
    p.send(request('ACK', p, { callId: 'call-1', toTag: toTagOf(ringing) }))
    await answered
    await new Promise((r) => setTimeout(r, 4 * T1))
    t.equal(p.count(/^SIP\/2\.0 200[\s\S]*CSeq: 1 INVITE/), oks, 'retransmission stops at the ACK')

    const ended = once(call, 'ended')
    p.send(request('BYE', p, { callId: 'call-1', toTag: toTagOf(ringing), cseq: 2 }))
    t.match(await p.next(/CSeq: 2 BYE/), /^SIP\/2\.0 200/)
    t.same(await ended, ['remote-bye'])
  })

  await t.test('re-INVITE putting the call on hold is answered with our SDP', async (t) => {
    p.send(request('INVITE', p, { callId: 'call-2', body: SDP }))
    await p.next(/^SIP\/2\.0 100[\s\S]*call-2/)
    await new Promise((r) => setTimeout(r, 20))
    const call = calls[calls.length - 1]
    const ok = call.answer('v=0\r\no=answer 1\r\n')
    const res = await p.next(/^SIP\/2\.0 200[\s\S]*Call-ID: call-2/)
    p.send(request('ACK', p, { callId: 'call-2', toTag: toTagOf(res) }))
    await ok
    call.on('modify', (change) => (change.offer?.includes('sendonly') ? void change.accept('v=0\r\no=answer 2\r\na=recvonly\r\n') : change.refuse()))
    p.send(request('INVITE', p, { callId: 'call-2', toTag: toTagOf(res), cseq: 2, body: SDP + 'a=sendonly\r\n' }))
    const re = await p.next(/^SIP\/2\.0 200[\s\S]*CSeq: 2 INVITE/)
    t.match(re, /a=recvonly/)
    p.send(request('ACK', p, { callId: 'call-2', toTag: toTagOf(res), cseq: 2 }))
    p.send(request('INVITE', p, { callId: 'call-2', toTag: toTagOf(res), cseq: 1, body: SDP }))
    t.match(await p.next(/^SIP\/2\.0 \d+[\s\S]*CSeq: 1 INVITE[\s\S]*$/), /^SIP\/2\.0 (500|200)/, 'an old CSeq is refused or absorbed')
    const bye = call.hangup()
    const byeRq = await p.next(/^BYE /)
    t.match(byeRq, /^To: .*tag=caller/m, 'our BYE goes to the caller')
    p.send(
      `SIP/2.0 200 OK\r\n${byeRq
        .split('\r\n')
        .filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l))
        .join('\r\n')}\r\nContent-Length: 0\r\n\r\n`,
    )
    await bye
  })

  await t.test('CANCEL before the answer: 200 for the CANCEL, 487 for the INVITE', async (t) => {
    const invite = request('INVITE', p, { callId: 'call-3', body: SDP, branch: 'z9hG4bKcancelme' })
    p.send(invite)
    await p.next(/^SIP\/2\.0 100[\s\S]*call-3/)
    await new Promise((r) => setTimeout(r, 20))
    const call = calls[calls.length - 1]
    const cancelled = once(call, 'cancel')
    p.send(request('CANCEL', p, { callId: 'call-3', branch: 'z9hG4bKcancelme' }))
    t.match(await p.next(/CSeq: 1 CANCEL/), /^SIP\/2\.0 200/)
    const r487 = await p.next(/^SIP\/2\.0 487/)
    await cancelled
    const count487 = p.count(/^SIP\/2\.0 487/)
    await new Promise((r) => setTimeout(r, 3 * T1))
    t.ok(p.count(/^SIP\/2\.0 487/) > count487, '487 retransmitted until ACK (Timer G)')
    p.send(request('ACK', p, { callId: 'call-3', toTag: toTagOf(r487), branch: branchOf(invite) }))
    await new Promise((r) => setTimeout(r, 2 * T1))
    const after = p.count(/^SIP\/2\.0 487/)
    await new Promise((r) => setTimeout(r, 4 * T1))
    t.equal(p.count(/^SIP\/2\.0 487/), after, 'ACK stops the 487 retransmissions')
  })

  await t.test('TCP on the same port: responses on the connection, keep-alive answered, framing errors close it', async (t) => {
    const conn = net.connect(ua.address.port, '127.0.0.1')
    await once(conn, 'connect')
    let data = ''
    conn.on('data', (d) => (data += d.toString('latin1')))
    const port = conn.localPort as number
    const options = (callId: string) => request('OPTIONS', { port } as Peer, { callId }).replace('SIP/2.0/UDP', 'SIP/2.0/TCP')
    // Two requests in one write, the second split across writes.
    const second = options('tcp-2')
    conn.write(options('tcp-1') + second.slice(0, 40))
    await new Promise((r) => setTimeout(r, 30))
    conn.write(second.slice(40))
    conn.write('\r\n\r\n') // RFC 5626 ping
    await new Promise((r) => setTimeout(r, 100))
    t.match(data, /^SIP\/2\.0 200 OK[\s\S]*Call-ID: tcp-1[\s\S]*SIP\/2\.0 200 OK[\s\S]*Call-ID: tcp-2/)
    t.ok(data.endsWith('\r\n\r\n\r\n') || data.includes('\r\n\r\n\r\n'), 'pong sent')
    const closed = once(conn, 'close')
    conn.write(
      'OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKnolen\r\nCall-ID: nolen\r\nCSeq: 1 OPTIONS\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nMax-Forwards: 70\r\n\r\n',
    )
    await closed
    t.pass('a message without Content-Length on TCP closes the connection')
  })

  await t.test('no ACK at all: the UA gives up after 64*T1 and sends BYE', async (t) => {
    p.send(request('INVITE', p, { callId: 'call-4', body: SDP }))
    await p.next(/^SIP\/2\.0 100[\s\S]*call-4/)
    await new Promise((r) => setTimeout(r, 20))
    const call = calls[calls.length - 1]
    const ended = once(call, 'ended')
    await t.rejects(call.answer('v=0\r\n'))
    t.same(await ended, ['ack-timeout'])
    await p.next(/^BYE [\s\S]*Call-ID: call-4/)
  })

  // Issue 13: the answer() promise used to stay pending for ever, so the call above it never
  // finished (live in /api/calls, RTP going out, its recording growing) after a lost ACK.
  await t.test('BYE before the ACK: the BYE gets 200, the answer fails, the 200 OK stops', async (t) => {
    p.send(request('INVITE', p, { callId: 'call-5', body: SDP }))
    await p.next(/^SIP\/2\.0 100[\s\S]*call-5/)
    await new Promise((r) => setTimeout(r, 20))
    const call = calls[calls.length - 1]
    const ended = once(call, 'ended')
    const answered = t.rejects(call.answer('v=0\r\n'), /the dialog ended before the ACK: remote-bye/)
    const ok = await p.next(/^SIP\/2\.0 200[\s\S]*Call-ID: call-5/)
    p.send(request('BYE', p, { callId: 'call-5', toTag: toTagOf(ok), cseq: 2 }))
    t.match(await p.next(/CSeq: 2 BYE/), /^SIP\/2\.0 200/)
    await answered
    t.same(await ended, ['remote-bye'])
    const oks = p.count(/^SIP\/2\.0 200[\s\S]*CSeq: 1 INVITE[\s\S]*call-5/)
    await new Promise((r) => setTimeout(r, 6 * T1))
    t.equal(p.count(/^SIP\/2\.0 200[\s\S]*CSeq: 1 INVITE[\s\S]*call-5/), oks, 'no more 200 OK retransmissions')
    t.equal(p.count(/^BYE [\s\S]*Call-ID: call-5/), 0, 'and no BYE of ours at the ACK timeout')
  })

  await t.test('hangup with a reason: ended reports it (a shutdown is not a local BYE)', async (t) => {
    p.send(request('INVITE', p, { callId: 'call-6', body: SDP }))
    await p.next(/^SIP\/2\.0 100[\s\S]*call-6/)
    await new Promise((r) => setTimeout(r, 20))
    const call = calls[calls.length - 1]
    const answered = call.answer('v=0\r\n')
    const ok = await p.next(/^SIP\/2\.0 200[\s\S]*Call-ID: call-6/)
    p.send(request('ACK', p, { callId: 'call-6', toTag: toTagOf(ok) }))
    await answered
    const ended = once(call, 'ended')
    void call.hangup('shutdown')
    t.same(await ended, ['shutdown'])
    await p.next(/^BYE [\s\S]*Call-ID: call-6/)
  })
})
