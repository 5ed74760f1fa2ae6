import { readFileSync } from 'node:fs'
import { RFC4475_DIR } from '../../test/helpers/rfc4475.ts'
import t from 'tap'
import { parseDatagram } from './parse.ts'
import { makeResponse, REASON_PHRASES, serialize } from './serialize.ts'
import type { SipMessage, SipRequest } from './types.ts'

const DIR = RFC4475_DIR + '/'

function parsed(name: string): SipMessage {
  const o = parseDatagram(readFileSync(DIR + name))
  if (o.kind !== 'message') throw new Error(`${name}: ${o.kind}`)
  return o.message
}

const request = (name: string) => parsed(name) as SipRequest

t.test('makeResponse copies Via, From, To, Call-ID and CSeq exactly', async (t) => {
  const rq = request('3.1.1.1_wsinv.sip')
  const res = makeResponse(rq, 486)
  t.equal(res.status, 486)
  t.equal(res.reason, 'Busy Here')
  t.equal(res.version, '2.0')
  t.same(res.headers.via, rq.headers.via, 'all Vias, in order')
  for (const name of ['from', 'to', 'call-id', 'cseq'] as const) t.same(res.headers[name], rq.headers[name], name)
  t.equal(res.content, '')
  t.same(Object.keys(res.headers), ['via', 'from', 'to', 'call-id', 'cseq', 'content-length'], 'nothing else')
  // Copies, so the response can be changed without touching the request.
  res.headers.via[0].params.received = '192.0.2.9'
  res.headers.to.params.tag = 'x'
  t.equal(rq.headers.via[0].params.received, undefined)

  const wire = parseDatagram(serialize(res))
  if (wire.kind !== 'message') return t.fail(wire.kind)
  t.same(wire.message.headers.via.slice(1), rq.headers.via.slice(1), 'Vias survive the wire')
  t.same(wire.message.headers.from, rq.headers.from)
  t.same(wire.message.headers.cseq, rq.headers.cseq)
  t.equal(wire.message.headers['call-id'], rq.headers['call-id'])
})

t.test('To tag', async (t) => {
  const rq = request('3.3.11_zeromf.sip')
  t.equal(makeResponse(rq, 200).headers.to.params.tag, undefined, 'not added unless asked')
  t.equal(makeResponse(rq, 200, undefined, undefined, { toTag: 'abc' }).headers.to.params.tag, 'abc')
  t.equal(rq.headers.to.params.tag, undefined, 'request untouched')
  const inDialog = request('4.5_via-received-param-with-delim.sip')
  t.equal(makeResponse(inDialog, 200, undefined, undefined, { toTag: 'abc' }).headers.to.params.tag, 'bd76ya', 'an existing tag is kept')
})

t.test('reason phrases, extra headers, bad input', async (t) => {
  const rq = request('3.3.11_zeromf.sip')
  for (const code of [100, 180, 183, 200, 400, 404, 405, 406, 408, 415, 416, 420, 480, 481, 486, 487, 488, 500, 501, 503, 505]) {
    t.ok(REASON_PHRASES[code], `${code} has a phrase`)
  }
  t.equal(makeResponse(rq, 404, 'Nobody Here').reason, 'Nobody Here')
  t.equal(makeResponse(rq, 299).reason, '')
  const res = makeResponse(rq, 405, undefined, { Allow: 'INVITE, ACK, BYE', 'WWW-Authenticate': 'Digest realm="x"' })
  t.equal(res.headers.allow, 'INVITE, ACK, BYE')
  const text = serialize(res).toString('latin1')
  t.match(text, /\r\nAllow: INVITE, ACK, BYE\r\n/)
  t.match(text, /\r\nWww-Authenticate: Digest realm="x"\r\n/)
  t.throws(() => makeResponse(rq, 99))
  t.throws(() => makeResponse(rq, 700))
  t.throws(() => makeResponse(rq, 200, undefined, { To: '<sip:evil@example.com>' }))
})

t.test('serialize writes a correct Content-Length and leaves the message alone', async (t) => {
  const rq = request('3.3.11_zeromf.sip')
  const m = { ...rq, headers: { ...rq.headers, 'content-length': 999 }, content: 'hello' }
  const text = serialize(m).toString('latin1')
  t.match(text, /\r\nContent-Length: 5\r\n\r\nhello$/)
  t.equal(m.headers['content-length'], 999, 'input not modified')
  const noHeader = { ...rq, headers: { ...rq.headers, 'content-length': undefined } }
  t.match(serialize(noHeader).toString('latin1'), /\r\nContent-Length: 0\r\n\r\n$/, 'written even when absent')
})

t.test('serialize keeps binary bodies byte-exact', async (t) => {
  const raw = readFileSync(DIR + '3.1.1.11_mpart01.sip')
  const m = parsed('3.1.1.11_mpart01.sip')
  const out = serialize(m)
  const body = raw.subarray(raw.indexOf('\r\n\r\n') + 4)
  t.ok(out.subarray(out.indexOf('\r\n\r\n') + 4).equals(body.subarray(0, 553)))
})

t.test('serialize refuses what cannot go on the wire', async (t) => {
  const rq = request('3.3.11_zeromf.sip')
  t.throws(() => serialize({ ...rq, headers: { ...rq.headers, subject: 'a\r\nInjected: yes' } }), /CR or LF/)
  t.throws(() => serialize({ ...rq, headers: { ...rq.headers, to: { ...rq.headers.to, params: { tag: 'a\nb' } } } }), /CR or LF/)
  t.throws(() => serialize({ ...rq, content: 'привет' }), /latin1/)
  t.doesNotThrow(() => serialize({ ...rq, content: Buffer.from('привет').toString('latin1') }))
})

t.test('a response that sets up a dialog carries the Record-Route back (RFC 3261 12.1.1); others do not', async (t) => {
  const wire = (text: string) => {
    const o = parseDatagram(Buffer.from(text.replaceAll('\n', '\r\n')))
    if (o.kind !== 'message') throw new Error(o.kind)
    return o.message as SipRequest
  }
  const invite = wire(`INVITE sip:sales@192.0.2.1 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.5;branch=z9hG4bKp1
Via: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKc1
Record-Route: <sip:192.0.2.5;lr;ftag=a>
Record-Route: <sip:192.0.2.4;lr>
From: <sip:a@198.51.100.7>;tag=a
To: <sip:sales@192.0.2.1>
Call-ID: rr-1
CSeq: 1 INVITE
Content-Length: 0

`)
  for (const status of [180, 200]) {
    const back = parseDatagram(serialize(makeResponse(invite, status, undefined, undefined, { toTag: 't' })))
    if (back.kind !== 'message') return t.fail(back.kind)
    t.same(back.message.headers['record-route'], invite.headers['record-route'], `${status}: both entries, in order`)
  }
  t.equal(makeResponse(invite, 100).headers['record-route'], undefined, '100 Trying sets up nothing')
  t.equal(makeResponse(invite, 486).headers['record-route'], undefined, 'nor does a failure')
  const options = { ...invite, method: 'OPTIONS', headers: { ...invite.headers, cseq: { seq: 1, method: 'OPTIONS' } } }
  t.equal(makeResponse(options, 200).headers['record-route'], undefined, 'nor a 200 to OPTIONS')
})
