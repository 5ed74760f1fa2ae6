// The embedded UA's interop extensions against a raw UDP socket playing the caller, with short
// RFC 3261 timers (T1 = 40 ms): delayed offer, re-INVITE with and without SDP, UPDATE (RFC
// 3311), session timers (RFC 4028), reliable provisional responses (RFC 3262), 420. Re-INVITE also
// through drachtio-server (the drachtio backend; its timers are drachtio-server's own).
import pino from 'pino'
import { peer, type Peer } from '../../test/helpers/raw-sip-peer.ts'
import t, { type Test } from 'tap'
import { SIP_BACKENDS, startCallControl, type SipBackendName } from '../../test/helpers/sip-backend.ts'
import type { CallControl, InboundCall, SessionChange } from './call-control.ts'
import { EmbeddedCallControl, type EmbeddedCallControlOptions } from './embedded-call-control.ts'

const T1 = 40
const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n'
const OUR_SDP = 'v=0\r\no=- 9 9 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n'
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms))
/** Polls until `cond` holds (the UA's event may come a little after the wire message through drachtio-server). */
async function until(cond: () => boolean, ms = 3000): Promise<void> {
  for (const end = Date.now() + ms; !cond() && Date.now() < end;) await wait(5)
}

interface RequestOptions {
  callId: string
  toTag?: string
  cseq?: number
  method?: string
  branch?: string
  body?: string
  extra?: string[]
}

function request(method: string, p: Peer, o: RequestOptions): string {
  const body = o.body ?? ''
  return [
    `${method} sip:sales@127.0.0.1 SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${p.port};branch=${o.branch ?? 'z9hG4bK' + Math.random().toString(36).slice(2)};rport`,
    `From: <sip:79990000000@127.0.0.1>;tag=caller`,
    `To: <sip:sales@127.0.0.1>${o.toTag ? ';tag=' + o.toTag : ''}`,
    `Call-ID: ${o.callId}`,
    `CSeq: ${o.cseq ?? 1} ${o.method ?? method}`,
    `Contact: <sip:79990000000@127.0.0.1:${p.port}>`,
    'Max-Forwards: 70',
    ...(o.extra ?? []),
    ...(body ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(body, 'latin1')}`,
    '',
    body,
  ].join('\r\n')
}

/** A 200 to a request the UA sent us (BYE, UPDATE, re-INVITE). */
function okTo(rq: string, extra: string[] = [], body = ''): string {
  const copied = rq.split('\r\n').filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l))
  return ['SIP/2.0 200 OK', ...copied, ...extra, ...(body ? ['Content-Type: application/sdp'] : []), `Content-Length: ${body.length}`, '', body].join('\r\n')
}

const toTagOf = (msg: string) => /^To:.*;tag=([^;\s]+)/im.exec(msg)?.[1] ?? ''
const bodyOf = (msg: string) => msg.slice(msg.indexOf('\r\n\r\n') + 4)
const header = (msg: string, name: string) => new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(msg)?.[1]?.trim()

async function start(t: Test, extra: Partial<EmbeddedCallControlOptions> = {}, backend: SipBackendName = 'embedded') {
  let ua: CallControl
  if (backend === 'embedded') {
    ua = new EmbeddedCallControl({
      host: '127.0.0.1',
      port: 0,
      publicHost: '127.0.0.1',
      logger: pino({ level: 'silent' }),
      timers: { T1, T2: 4 * T1, T4: 5 * T1 },
      ...extra,
    })
    await ua.start()
    t.teardown(() => ua.stop())
  } else {
    const started = await startCallControl(backend, pino({ level: 'silent' }))
    ua = started.ua
    t.teardown(started.stop)
  }
  const calls: InboundCall[] = []
  ua.on('call', (c) => calls.push(c))
  const p = await peer(ua.address.port)
  t.teardown(() => p.close())
  /** An INVITE answered with OUR_SDP and ACKed: the dialog's To tag and the call. */
  const established = async (callId: string, inviteExtra: string[] = []) => {
    p.send(request('INVITE', p, { callId, body: SDP, extra: inviteExtra }))
    const before = calls.length
    await p.next(new RegExp(`^SIP/2\\.0 100[\\s\\S]*Call-ID: ${callId}`))
    await until(() => calls.length > before)
    const call = calls[calls.length - 1]
    const answered = call.answer(OUR_SDP)
    const ok = await p.next(new RegExp(`^SIP/2\\.0 200[\\s\\S]*Call-ID: ${callId}`))
    p.send(request('ACK', p, { callId, toTag: toTagOf(ok) }))
    await answered
    return { call, ok, toTag: toTagOf(ok) }
  }
  return { ua, calls, p, established }
}

t.test('delayed offer: answer() resolves with the ACK body', async (t) => {
  const { calls, p } = await start(t)
  p.send(request('INVITE', p, { callId: 'do-1' }))
  await p.next(/^SIP\/2\.0 100/)
  await wait(10)
  const call = calls[0]
  t.equal(call.offer, undefined, 'no offer in the INVITE')
  call.progress(180)
  await p.next(/^SIP\/2\.0 180/)
  const answered = call.answer(OUR_SDP)
  const ok = await p.next(/^SIP\/2\.0 200/)
  t.equal(bodyOf(ok), OUR_SDP, 'our offer in the 200')
  p.send(request('ACK', p, { callId: 'do-1', toTag: toTagOf(ok), body: SDP }))
  t.equal(await answered, SDP, "the ACK's answer")
})

for (const backend of SIP_BACKENDS)
  t.test(`re-INVITE with and without SDP, as modify events (${backend})`, async (t) => {
    const { p, established } = await start(t, {}, backend)
    const { call, toTag } = await established('re-1')
    const changes: SessionChange[] = []
    call.on('modify', (c) => changes.push(c))

    p.send(request('INVITE', p, { callId: 're-1', toTag, cseq: 2, body: SDP + 'a=sendonly\r\n' }))
    await until(() => changes.length === 1)
    t.equal(changes.length, 1)
    t.equal(changes[0].method, 'INVITE')
    t.match(changes[0].offer, /a=sendonly/)
    const a1 = changes[0].accept(OUR_SDP.replace('9 9', '9 10') + 'a=recvonly\r\n')
    t.match(await p.next(/^SIP\/2\.0 200[\s\S]*CSeq: 2 INVITE/), /a=recvonly/, 'our answer in the 200')
    p.send(request('ACK', p, { callId: 're-1', toTag, cseq: 2 }))
    t.equal(await a1, undefined, 'an answer of ours: nothing comes back from the ACK')

    p.send(request('INVITE', p, { callId: 're-1', toTag, cseq: 3 }))
    await until(() => changes.length === 2)
    t.equal(changes.length, 2)
    t.equal(changes[1].offer, undefined, 'a re-INVITE without SDP asks for our offer')
    const a2 = changes[1].accept(OUR_SDP)
    const ok3 = await p.next(/^SIP\/2\.0 200[\s\S]*CSeq: 3 INVITE/)
    t.equal(bodyOf(ok3), OUR_SDP, 'our offer in the 200')
    p.send(request('ACK', p, { callId: 're-1', toTag, cseq: 3, body: SDP }))
    t.equal(await a2, SDP, 'the answer from the ACK')

    p.send(request('INVITE', p, { callId: 're-1', toTag, cseq: 4, body: SDP }))
    await until(() => changes.length === 3)
    changes[2].refuse()
    changes[2].refuse()
    t.match(await p.next(/^SIP\/2\.0 [2-6]\d\d[\s\S]*CSeq: 4 INVITE/), /^SIP\/2\.0 488/, 'refused: 488')
  })

t.test('re-INVITE without SDP and nobody listening: our last description again', async (t) => {
  const { p, established } = await start(t)
  const { toTag } = await established('re-2')
  p.send(request('INVITE', p, { callId: 're-2', toTag, cseq: 2 }))
  const ok = await p.next(/^SIP\/2\.0 200[\s\S]*CSeq: 2 INVITE/)
  t.equal(bodyOf(ok), OUR_SDP)
  p.send(request('INVITE', p, { callId: 're-2', toTag, cseq: 3, body: SDP }))
  await p.next(/^SIP\/2\.0 491[\s\S]*CSeq: 3 INVITE/, 1000).then(
    () => t.pass('491 while our 200 waits for its ACK'),
    () => t.fail('no 491'),
  )
  p.send(request('ACK', p, { callId: 're-2', toTag, cseq: 2, body: SDP }))
})

t.test('UPDATE inside the dialog, with and without SDP', async (t) => {
  const { p, established } = await start(t)
  const { call, toTag } = await established('up-1')
  p.send(request('UPDATE', p, { callId: 'up-1', toTag, cseq: 2 }))
  const ok2 = await p.next(/CSeq: 2 UPDATE/)
  t.match(ok2, /^SIP\/2\.0 200/, 'UPDATE without SDP: 200')
  t.equal(bodyOf(ok2), '', 'no body')
  const changes: SessionChange[] = []
  call.on('modify', (c) => changes.push(c))
  p.send(request('UPDATE', p, { callId: 'up-1', toTag, cseq: 3, body: SDP + 'a=sendonly\r\n' }))
  await wait(30)
  t.equal(changes[0]?.method, 'UPDATE')
  t.match(changes[0]?.offer, /a=sendonly/)
  t.equal(await changes[0].accept(OUR_SDP + 'a=recvonly\r\n'), undefined)
  const ok3 = await p.next(/CSeq: 3 UPDATE/)
  t.match(ok3, /^SIP\/2\.0 200/)
  t.match(bodyOf(ok3), /a=recvonly/, 'our answer in the 200 to the UPDATE')
  p.send(request('UPDATE', p, { callId: 'up-1', toTag, cseq: 4, body: SDP }))
  await wait(30)
  changes[1].refuse()
  t.match(await p.next(/CSeq: 4 UPDATE/), /^SIP\/2\.0 488/, 'refused: 488')
  p.send(request('UPDATE', p, { callId: 'up-nosuch', toTag: 'nosuch', cseq: 2 }))
  t.match(await p.next(/Call-ID: up-nosuch/), /^SIP\/2\.0 481/, 'UPDATE outside a dialog: 481')
})

t.test('options, 420 and 422', async (t) => {
  const { p } = await start(t, { sessionTimer: { expiresS: 1800, minSeS: 120 } })
  p.send(request('OPTIONS', p, { callId: 'opt' }))
  const opt = await p.next(/Call-ID: opt/)
  t.match(header(opt, 'Allow'), /UPDATE, PRACK/, 'Allow has UPDATE and PRACK')
  t.match(header(opt, 'Supported'), /100rel, timer/, 'Supported: 100rel, timer')
  p.send(request('INVITE', p, { callId: 'req', body: SDP, extra: ['Require: 100rel, foo'] }))
  const r420 = await p.next(/Call-ID: req/)
  t.match(r420, /^SIP\/2\.0 420 Bad Extension/)
  t.equal(header(r420, 'Unsupported'), 'foo', 'only the unknown tag is named')
  p.send(request('INVITE', p, { callId: 'small', body: SDP, extra: ['Supported: timer', 'Session-Expires: 100', 'Min-SE: 90'] }))
  const r422 = await p.next(/Call-ID: small/)
  t.match(r422, /^SIP\/2\.0 422 Session Interval Too Small/)
  t.equal(header(r422, 'Min-SE'), '120')
})

t.test('session timers', async (t) => {
  const { p, established } = await start(t, { sessionTimer: { expiresS: 2, minSeS: 1 } })

  await t.test('the caller refreshes and stops: BYE at the expiry', async (t) => {
    const { call, ok, toTag } = await established('st-1', ['Supported: timer', 'Session-Expires: 2;refresher=uac'])
    t.equal(header(ok, 'Session-Expires'), '2;refresher=uac')
    t.equal(header(ok, 'Require'), 'timer')
    const ended = new Promise((r) => call.once('ended', r))
    // a refresh by UPDATE within the interval keeps it alive
    await wait(1000)
    p.send(request('UPDATE', p, { callId: 'st-1', toTag, cseq: 2, extra: ['Supported: timer', 'Session-Expires: 2;refresher=uac'] }))
    const up = await p.next(/CSeq: 2 UPDATE/)
    t.equal(header(up, 'Session-Expires'), '2;refresher=uac')
    const t0 = Date.now()
    const bye = await p.next(/^BYE [\s\S]*Call-ID: st-1/, 3000)
    const after = Date.now() - t0
    t.ok(after > 1000 && after < 1800, `BYE ${after} ms after the last refresh (2 s less a third)`)
    p.send(okTo(bye))
    t.equal(await ended, 'session-expired')
  })

  await t.test('we refresh by UPDATE when the caller allows it', async (t) => {
    const { call, ok, toTag } = await established('st-2', ['Allow: INVITE, ACK, BYE, CANCEL, UPDATE'])
    t.equal(header(ok, 'Session-Expires'), '2;refresher=uas', 'a caller without timers: we refresh')
    t.notOk(header(ok, 'Require'), 'no Require: timer towards a caller without it')
    for (let i = 0; i < 2; i++) {
      const up = await p.next(/^UPDATE [\s\S]*Call-ID: st-2/, 1500)
      t.equal(header(up, 'Session-Expires'), '2;refresher=uac')
      t.match(up, new RegExp(`^To: .*tag=caller`, 'm'))
      t.match(up, new RegExp(`^From: .*tag=${toTag}`, 'm'))
      p.send(okTo(up, ['Session-Expires: 2;refresher=uac']))
    }
    await call.hangup()
  })

  await t.test('we refresh by re-INVITE when it does not, and ACK its 200', async (t) => {
    const { call, toTag } = await established('st-3')
    const re = await p.next(/^INVITE [\s\S]*Call-ID: st-3/, 1500)
    t.equal(bodyOf(re), OUR_SDP, 'the description already agreed')
    p.send(request('INVITE', p, { callId: 'st-3', toTag, cseq: 2, body: SDP }))
    t.match(await p.next(/^SIP\/2\.0 [1-6]\d\d(?! Trying)[\s\S]*CSeq: 2 INVITE/), /^SIP\/2\.0 491/, 'a re-INVITE crossing ours: 491')
    t.equal(header(re, 'Session-Expires'), '2;refresher=uac')
    p.send(okTo(re, [`Contact: <sip:79990000000@127.0.0.1:${p.port}>`], SDP))
    const ack = await p.next(/^ACK [\s\S]*Call-ID: st-3/)
    t.equal(header(ack, 'CSeq')?.split(' ')[0], header(re, 'CSeq')?.split(' ')[0], 'ACK with the re-INVITE CSeq number')
    await call.hangup()
  })
})

t.test('reliable provisional responses (100rel, PRACK)', async (t) => {
  const { calls, p } = await start(t)

  await t.test('180 reliable, retransmitted until PRACK; the 200 waits for it', async (t) => {
    p.send(request('INVITE', p, { callId: 'rel-1', body: SDP, extra: ['Require: 100rel'] }))
    await p.next(/^SIP\/2\.0 100/)
    await wait(10)
    const call = calls[calls.length - 1]
    call.progress(180)
    const r180 = await p.next(/^SIP\/2\.0 180/)
    t.equal(header(r180, 'Require'), '100rel')
    const rseq = Number(header(r180, 'RSeq'))
    t.ok(rseq > 0, `RSeq ${rseq}`)
    const answered = call.answer(OUR_SDP)
    await wait(5 * T1)
    t.ok(p.count(/^SIP\/2\.0 180/) >= 2, '180 retransmitted without a PRACK')
    t.equal(p.count(/^SIP\/2\.0 200/), 0, 'no 200 before the PRACK')
    const toTag = toTagOf(r180)
    p.send(request('PRACK', p, { callId: 'rel-1', toTag, cseq: 2, extra: [`RAck: ${rseq + 7} 1 INVITE`] }))
    t.match(await p.next(/CSeq: 2 PRACK/), /^SIP\/2\.0 481/, 'unknown RAck: 481')
    p.send(request('PRACK', p, { callId: 'rel-1', toTag, cseq: 3, extra: [`RAck: ${rseq} 1 INVITE`] }))
    t.match(await p.next(/CSeq: 3 PRACK/), /^SIP\/2\.0 200/, 'PRACK: 200')
    const ok = await p.next(/^SIP\/2\.0 200[\s\S]*CSeq: 1 INVITE/)
    t.equal(bodyOf(ok), OUR_SDP, 'the 200 once the PRACK came')
    const n180 = p.count(/^SIP\/2\.0 180/)
    p.send(request('ACK', p, { callId: 'rel-1', toTag }))
    await answered
    await wait(4 * T1)
    t.equal(p.count(/^SIP\/2\.0 180/), n180, 'no more 180 after the PRACK')
    await call.hangup()
  })

  await t.test('Supported: 100rel and no PRACK: 504 after 64*T1', async (t) => {
    p.send(request('INVITE', p, { callId: 'rel-2', body: SDP, extra: ['Supported: 100rel, timer'] }))
    await p.next(/^SIP\/2\.0 100[\s\S]*rel-2/)
    await wait(10)
    const call = calls[calls.length - 1]
    const ended = new Promise((r) => call.once('ended', r))
    call.progress(183, OUR_SDP)
    const r183 = await p.next(/^SIP\/2\.0 183[\s\S]*rel-2/)
    t.ok(header(r183, 'RSeq'))
    const answered = call.answer(OUR_SDP)
    answered.catch(() => {})
    t.match(await p.next(/^SIP\/2\.0 5\d\d[\s\S]*rel-2/, 64 * T1 + 1000), /^SIP\/2\.0 504/, '504 without a PRACK')
    t.equal(await ended, 'prack-timeout')
    await t.rejects(answered, 'answer() rejects')
    t.equal(p.count(/^SIP\/2\.0 200[\s\S]*rel-2/), 0, 'never a 200')
  })
})
