import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import t, { type Test } from 'tap'
import { parseDatagram, parseSipUri } from './parse.ts'
import { makeResponse, serialize } from './serialize.ts'
import type { ParseOutcome, SipMessage, SipRequest, SipResponse } from './types.ts'
import { RFC4475_DIR } from '../../test/helpers/rfc4475.ts'

// The RFC 4475 / RFC 5118 torture messages, one datagram per file (see its README.md).
const DIR = RFC4475_DIR
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.sip'))
const read = (file: string): Buffer => readFileSync(path.join(DIR, file))

type Expect = { kind: 'message'; check?: (t: Test, m: SipMessage, raw: Buffer) => void } | { kind: 'reject'; status: 400 | 505 } | { kind: 'drop' }

const rq = (m: SipMessage) => m as SipRequest
const rs = (m: SipMessage) => m as SipResponse

// kind and status per file; app-layer refusals (416, 420, 415, 406, 501, 405...) belong to the UA.
const EXPECTED: Record<string, Expect> = {
  // 3.1.1 valid
  '3.1.1.1_wsinv.sip': {
    kind: 'message',
    check: (t, m) => {
      t.equal(rq(m).method, 'INVITE')
      t.same(
        m.headers.via.map((v) => [v.protocol, v.host, v.params.branch]),
        [
          ['UDP', '192.0.2.2', '390skdjuw'],
          ['TCP', 'spindle.example.com', 'z9hG4bK9ikj8'],
          ['UDP', '192.168.255.111', 'z9hG4bK30239'],
        ],
      )
      t.equal(m.headers.to.params.tag, '1918181833n')
      t.equal(m.headers.from.name, '"J Rosenberg \\\\\\""')
      t.equal(m.headers.from.params.tag, '98asjd8')
      t.same(m.headers.cseq, { seq: 9, method: 'INVITE' })
      t.equal(m.headers['max-forwards'], '0068')
      t.equal(m.headers.newfangledheader, 'newfangled value continued newfangled value')
      t.same(m.headers.contact, [
        { name: '"Quoted string \\"\\""', uri: 'sip:jdrosen@example.com', params: { newparam: 'newvalue', secondparam: null, q: '0.33' } },
      ])
      t.equal(m.content.length, 150)
    },
  },
  '3.1.1.2_intmeth.sip': {
    kind: 'message',
    check: (t, m) => {
      t.equal(rq(m).method, "!interesting-Method0123456789_*+`.%indeed'~")
      t.equal(m.headers.cseq.method, rq(m).method)
      t.equal(m.headers.to.name, '"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f"')
      t.equal(parseSipUri(rq(m).uri)?.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
    },
  },
  '3.1.1.3_esc01.sip': {
    kind: 'message',
    check: (t, m) => {
      // Escapes are kept as written: unescaping is for comparisons, not for the parser.
      t.equal(parseSipUri(rq(m).uri)?.user, 'sips%3Auser%40example.com')
      t.equal(m.headers['content-type'], 'application/sdp')
    },
  },
  '3.1.1.4_escnull.sip': {
    kind: 'message',
    check: (t, m) =>
      t.same(
        (m.headers.contact as { uri: string }[]).map((c) => c.uri),
        ['sip:%00@host5.example.com', 'sip:%00%00@host5.example.com'],
      ),
  },
  '3.1.1.5_esc02.sip': {
    kind: 'message',
    check: (t, m) => {
      t.equal(rq(m).method, 'RE%47IST%45R', 'not REGISTER')
      t.equal((m.headers.contact as unknown[]).length, 2, 'two Contact values, not three')
      t.equal(m.headers['c%6fntact'], '<sip:alias2@host2.example.com>')
    },
  },
  '3.1.1.6_lwsdisp.sip': { kind: 'message', check: (t, m) => t.equal(m.headers.from.name, 'caller') },
  '3.1.1.7_longreq.sip': {
    kind: 'message',
    check: (t, m) => {
      t.equal(m.headers.via.length, 34)
      t.equal(parseSipUri(m.headers.to.uri)?.port, 6000)
      t.equal(m.content.length, 150)
    },
  },
  '3.1.1.8_dblreq.sip': {
    kind: 'message',
    check: (t, m) => {
      t.equal(rq(m).method, 'REGISTER')
      t.equal(m.content, '', 'the INVITE-like octets after Content-Length: 0 are ignored')
    },
  },
  '3.1.1.9_semiuri.sip': {
    kind: 'message',
    check: (t, m) => {
      const uri = parseSipUri(rq(m).uri)
      t.equal(decodeURIComponent(uri?.user ?? ''), 'user;par=u@example.net')
      t.equal(uri?.host, 'example.com')
    },
  },
  '3.1.1.10_transports.sip': {
    kind: 'message',
    check: (t, m) =>
      t.same(
        m.headers.via.map((v) => v.protocol),
        ['UDP', 'SCTP', 'TLS', 'UNKNOWN', 'TCP'],
      ),
  },
  '3.1.1.11_mpart01.sip': {
    kind: 'message',
    check: (t, m) => {
      t.equal(m.headers['content-length'], 553)
      t.equal(m.content.length, 553, 'binary body framed by Content-Length')
      t.ok(m.content.includes('\x00'))
    },
  },
  '3.1.1.12_unreason.sip': {
    kind: 'message',
    check: (t, m) => {
      t.equal(rs(m).status, 200)
      t.match(Buffer.from(rs(m).reason, 'latin1').toString('utf8'), /^= 2\*\*3 \* 5\*\*2 но сто/)
    },
  },
  '3.1.1.13_noreason.sip': { kind: 'message', check: (t, m) => t.same([rs(m).status, rs(m).reason], [100, '']) },
  // 3.1.2 invalid
  '3.1.2.1_badinv01.sip': { kind: 'reject', status: 400 },
  '3.1.2.2_clerr.sip': { kind: 'reject', status: 400 },
  '3.1.2.3_ncl.sip': { kind: 'reject', status: 400 },
  '3.1.2.4_scalar02.sip': { kind: 'reject', status: 400 },
  '3.1.2.5_scalarlg.sip': { kind: 'drop' },
  '3.1.2.6_quotbal.sip': { kind: 'reject', status: 400 },
  '3.1.2.7_ltgtruri.sip': { kind: 'reject', status: 400 },
  '3.1.2.8_lwsruri.sip': { kind: 'reject', status: 400 },
  '3.1.2.9_lwsstart.sip': { kind: 'reject', status: 400 },
  '3.1.2.10_trws.sip': { kind: 'reject', status: 400 },
  '3.1.2.11_escruri.sip': { kind: 'reject', status: 400 },
  // The Date is not something this server acts on, so it is not parsed (RFC: ignore it).
  '3.1.2.12_baddate.sip': { kind: 'message' },
  '3.1.2.13_regbadct.sip': { kind: 'reject', status: 400 },
  '3.1.2.14_badaspec.sip': { kind: 'reject', status: 400 },
  '3.1.2.15_baddn.sip': { kind: 'reject', status: 400 },
  '3.1.2.16_badvers.sip': { kind: 'reject', status: 505 },
  '3.1.2.17_mismatch01.sip': { kind: 'reject', status: 400 },
  // Unknown method: the UA answers 501, which RFC 4475 prefers to a 400 for the mismatch.
  '3.1.2.18_mismatch02.sip': {
    kind: 'message',
    check: (t, m) => t.same([rq(m).method, m.headers.cseq.method], ['NEWMETHOD', 'INVITE']),
  },
  '3.1.2.19_bigcode.sip': { kind: 'drop' },
  // 3.2 transaction layer: the transaction layer decides about the bare magic cookie.
  '3.2.1_badbranch.sip': { kind: 'message', check: (t, m) => t.equal(m.headers.via[0].params.branch, 'z9hG4bK') },
  // 3.3 application layer: parse; the UA refuses. insuf, multi01 and mcl01 break §20.
  '3.3.1_insuf.sip': { kind: 'reject', status: 400 },
  '3.3.2_unkscm.sip': { kind: 'message', check: (t, m) => t.equal(rq(m).uri, 'nobodyKnowsThisScheme:totallyopaquecontent') },
  '3.3.3_novelsc.sip': { kind: 'message', check: (t, m) => t.equal(rq(m).uri, 'soap.beep://192.0.2.103:3002') },
  '3.3.4_unksm2.sip': { kind: 'message', check: (t, m) => t.equal(m.headers.to.uri, 'isbn:2983792873') },
  '3.3.5_bext01.sip': { kind: 'message', check: (t, m) => t.equal(m.headers.require, 'nothingSupportsThis, nothingSupportsThisEither') },
  '3.3.6_invut.sip': { kind: 'message', check: (t, m) => t.equal(m.headers['content-type'], 'application/unknownformat') },
  '3.3.7_regaut01.sip': {
    kind: 'message',
    check: (t, m) => t.same(m.headers.authorization, [{ scheme: 'NoOneKnowsThisScheme', 'opaque-data': 'here' }]),
  },
  '3.3.8_multi01.sip': { kind: 'reject', status: 400 },
  '3.3.9_mcl01.sip': { kind: 'reject', status: 400 },
  '3.3.10_bcast.sip': { kind: 'message', check: (t, m) => t.equal(m.headers.via[1].host, '255.255.255.255') },
  '3.3.11_zeromf.sip': { kind: 'message', check: (t, m) => t.equal(m.headers['max-forwards'], '0') },
  '3.3.12_cparam01.sip': {
    kind: 'message',
    check: (t, m) => t.same(m.headers.contact, [{ name: undefined, uri: 'sip:+19725552222@gw1.example.net', params: { unknownparam: null } }]),
  },
  '3.3.13_cparam02.sip': {
    kind: 'message',
    check: (t, m) => t.same(m.headers.contact, [{ name: undefined, uri: 'sip:+19725552222@gw1.example.net;unknownparam', params: {} }]),
  },
  '3.3.14_regescrt.sip': {
    kind: 'message',
    check: (t, m) => t.same(parseSipUri((m.headers.contact as { uri: string }[])[0].uri)?.headers, { Route: '%3Csip:sip.example.com%3E' }),
  },
  '3.3.15_sdp01.sip': { kind: 'message', check: (t, m) => t.equal(m.headers.accept, 'text/nobodyKnowsThis') },
  // 3.4 RFC 2543 compatibility
  '3.4.1_inv2543.sip': {
    kind: 'message',
    check: (t, m, raw) => {
      const s = raw.toString('latin1')
      t.equal(m.content, s.slice(s.indexOf('\r\n\r\n') + 4), 'no Content-Length: the body is the rest of the datagram')
      t.equal(m.headers['content-length'], undefined)
      t.same(m.headers.via[0].params, {})
    },
  },
  // RFC 5118
  '4.1_ipv6-good.sip': {
    kind: 'message',
    check: (t, m) => {
      t.equal(parseSipUri(rq(m).uri)?.host, '[2001:db8::10]')
      t.same([m.headers.via[0].host, m.headers.via[0].params.branch], ['[2001:db8::9:1]', 'z9hG4bKas3-111'])
    },
  },
  '4.2_ipv6-bad.sip': { kind: 'reject', status: 400 },
  '4.3_port-ambiguous.sip': {
    kind: 'message',
    check: (t, m) =>
      t.same(parseSipUri(rq(m).uri), {
        schema: 'sip',
        user: undefined,
        password: undefined,
        host: '[2001:db8::10:5070]',
        port: undefined,
        params: {},
        headers: {},
      }),
  },
  '4.4_port-unambiguous.sip': {
    kind: 'message',
    check: (t, m) => t.same([parseSipUri(rq(m).uri)?.host, parseSipUri(rq(m).uri)?.port], ['[2001:db8::10]', 5070]),
  },
  '4.5_via-received-param-no-delim.sip': { kind: 'message', check: (t, m) => t.equal(m.headers.via[0].params.received, '2001:db8::9:255') },
  '4.5_via-received-param-with-delim.sip': { kind: 'message', check: (t, m) => t.equal(m.headers.via[0].params.received, '[2001:db8::9:255]') },
  // RFC 5118 as published: Content-Length 268 for a 242-octet body. A strict UDP receiver
  // answers 400 (RFC 3261 §18.3); the corrected message is tested below.
  '4.6_ipv6-in-sdp.sip': { kind: 'reject', status: 400 },
  '4.7_mult-ip-in-header.sip': {
    kind: 'message',
    check: (t, m) =>
      t.same(
        m.headers.via.map((v) => [v.host, v.port]),
        [
          ['[2001:db8::9:1]', 6050],
          ['192.0.2.1', undefined],
          ['[2001:db8::9:255]', undefined],
        ],
      ),
  },
  // Same as 4.6: Content-Length 181 for a 180-octet body.
  '4.8_mult-ip-in-sdp.sip': { kind: 'reject', status: 400 },
  '4.9_ipv4-mapped-ipv6.sip': {
    kind: 'message',
    check: (t, m) => t.same([m.headers.via[0].host, m.headers.via[0].port, m.content.length], ['[::ffff:192.0.2.10]', 19823, 236]),
  },
  // An IPv6 reference that is not an RFC 4291 address is refused rather than repaired.
  '4.10_ipv6-bug-abnf-3-colons.sip': { kind: 'reject', status: 400 },
  '4.10_ipv6-correct-abnf-2-colons.sip': { kind: 'message', check: (t, m) => t.equal(m.headers.to.uri, 'sip:user@[2001:db8::192.0.2.1]') },
}

function summary(o: ParseOutcome): string {
  return o.kind === 'reject' ? `reject ${o.status} (${o.reason})` : o.kind === 'drop' ? `drop (${o.reason})` : 'message'
}

t.test('the expectation table covers exactly the files of the torture folder', async (t) => {
  t.same(FILES.slice().sort(), Object.keys(EXPECTED).sort())
})

for (const file of FILES) {
  const expected = EXPECTED[file]
  if (!expected) continue
  t.test(file, async (t) => {
    const raw = read(file)
    const outcome = parseDatagram(raw)
    const want = expected.kind === 'reject' ? `reject ${expected.status}` : expected.kind
    t.equal(summary(outcome).replace(/ \(.*$/, ''), want, summary(outcome))
    if (outcome.kind === 'message' && expected.kind === 'message') {
      expected.check?.(t, outcome.message, raw)
      // What we parse, we can write back, and it reads the same.
      const again = parseDatagram(serialize(outcome.message))
      t.equal(again.kind, 'message', 'serialized message parses again')
      if (again.kind === 'message') {
        const { 'content-length': _a, ...before } = outcome.message.headers
        const { 'content-length': _b, ...after } = again.message.headers
        t.same(after, before, 'headers survive serialize + parse')
        t.equal(again.message.content, outcome.message.content)
      }
    }
    if (outcome.kind === 'reject') {
      // The answer can always be built and written, and carries the client's top Via.
      const bytes = serialize(makeResponse(outcome.request, outcome.status)).toString('latin1')
      t.match(bytes, new RegExp(`^SIP/2\\.0 ${outcome.status} `))
      t.ok(bytes.includes(`Via: SIP/${outcome.request.headers.via[0].version}/`), 'Via copied')
    }
  })
}

t.test('RFC 5118 4.6 and 4.8 parse once their Content-Length matches the body', async (t) => {
  for (const file of ['4.6_ipv6-in-sdp.sip', '4.8_mult-ip-in-sdp.sip']) {
    const s = read(file).toString('latin1')
    const body = s.slice(s.indexOf('\r\n\r\n') + 4)
    const fixed = s.replace(/Content-Length: \d+/, `Content-Length: ${body.length}`)
    const o = parseDatagram(Buffer.from(fixed, 'latin1'))
    t.equal(o.kind, 'message', file)
    if (o.kind === 'message') t.match(o.message.content, /c=IN IP6 2001:db8::/)
  }
})

t.test('insuf: answered 400 with what it has (Via, CSeq), From/To/Call-ID absent', async (t) => {
  const o = parseDatagram(read('3.3.1_insuf.sip'))
  if (o.kind !== 'reject') return t.fail(summary(o))
  t.equal(o.reason, 'missing From, To, Call-ID')
  const bytes = serialize(makeResponse(o.request, 400)).toString('latin1')
  t.equal(bytes, 'SIP/2.0 400 Bad Request\r\nVia: SIP/2.0/UDP 192.0.2.95;branch=z9hG4bKkdj.insuf\r\nCSeq: 193942 INVITE\r\nContent-Length: 0\r\n\r\n')
})

t.test('badvers: 505 echoes the SIP/7.0 Via as received', async (t) => {
  const o = parseDatagram(read('3.1.2.16_badvers.sip'))
  if (o.kind !== 'reject') return t.fail(summary(o))
  const bytes = serialize(makeResponse(o.request, o.status, undefined, undefined, { toTag: 'x1' })).toString('latin1')
  t.match(bytes, /^SIP\/2\.0 505 Version Not Supported\r\nVia: SIP\/7\.0\/UDP c\.example\.com;branch=z9hG4bKkdjuw\r\n/)
  t.match(bytes, /\r\nTo: T\. Watson <sip:t\.watson@example\.org>;tag=x1\r\n/)
})

t.test('badinv01 and quotbal: broken headers are salvaged loosely for the 400', async (t) => {
  const bad = parseDatagram(read('3.1.2.1_badinv01.sip'))
  if (bad.kind !== 'reject') return t.fail(summary(bad))
  t.same(
    bad.request.headers.via.map((v) => v.host),
    ['192.0.2.15'],
  )
  const quot = parseDatagram(read('3.1.2.6_quotbal.sip'))
  if (quot.kind !== 'reject') return t.fail(summary(quot))
  t.same(quot.request.headers.to, { uri: 'sip:j.user@example.com', params: {} })
})

// Small hand-made messages for the rules the torture files do not isolate.
const base = (over: Record<string, string | null> = {}, start = 'OPTIONS sip:bob@example.com SIP/2.0', body = ''): Buffer => {
  const headers: Record<string, string | null> = {
    Via: 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;rport',
    From: '<sip:alice@example.com>;tag=a',
    To: '<sip:bob@example.com>',
    'Call-ID': 'c1@example.com',
    CSeq: '1 OPTIONS',
    'Max-Forwards': '70',
    'Content-Length': String(body.length),
    ...over,
  }
  const lines = Object.entries(headers)
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `${k}: ${v}`)
  return Buffer.from(`${start}\r\n${lines.join('\r\n')}\r\n\r\n${body}`, 'latin1')
}

t.test('hand-made cases', async (t) => {
  const cases: [string, Buffer, string][] = [
    ['sound', base(), 'message'],
    [
      'compact forms',
      Buffer.from(
        'OPTIONS sip:b@example.com SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK2\r\nf: <sip:a@example.com>;tag=1\r\nt: sip:b@example.com\r\ni: x\r\nCSeq: 1 OPTIONS\r\nl: 0\r\n\r\n',
      ),
      'message',
    ],
    ['lower-case sip/2.0', base({}, 'OPTIONS sip:bob@example.com sip/2.0'), 'message'],
    ['no Max-Forwards', base({ 'Max-Forwards': null }), 'message'],
    ['two Max-Forwards', base({ 'Max-Forwards': '70\r\nMax-Forwards: 69' }), 'reject 400'],
    ['Max-Forwards not a number', base({ 'Max-Forwards': 'seventy' }), 'reject 400'],
    ['header line without colon', base({ 'Max-Forwards': '70\r\nNoColonHere' }), 'reject 400'],
    ['header name not a token', base({ 'Max-Forwards': '70\r\nBad{Name}: x' }), 'reject 400'],
    [
      'folded line right after the start line',
      Buffer.from(`OPTIONS sip:b@example.com SIP/2.0\r\n folded\r\n${base().toString('latin1').split('\r\n').slice(1).join('\r\n')}`, 'latin1'),
      'reject 400',
    ],
    ['bare LF inside a header', base({ Subject: 'a\nb' }), 'reject 400'],
    ['Content-Length not a number', base({ 'Content-Length': '1x' }), 'reject 400'],
    [
      'no empty line',
      Buffer.from(
        base()
          .toString('latin1')
          .replace(/\r\n\r\n$/, '\r\n'),
        'latin1',
      ),
      'reject 400',
    ],
    ['CSeq 2**32-1', base({ CSeq: '4294967295 OPTIONS' }), 'message'],
    ['CSeq 2**32', base({ CSeq: '4294967296 OPTIONS' }), 'reject 400'],
    ['CSeq without method', base({ CSeq: '1' }), 'drop'],
    ['no Via', base({ Via: null }), 'drop'],
    ['no CSeq', base({ CSeq: null }), 'drop'],
    ['no Call-ID', base({ 'Call-ID': null }), 'reject 400'],
    ['two Call-IDs on one line', base({ 'Call-ID': 'a b' }), 'reject 400'],
    ['To list', base({ To: '<sip:bob@example.com>, <sip:carol@example.com>' }), 'reject 400'],
    ['Via with empty element', base({ Via: 'SIP/2.0/UDP h;branch=z9hG4bK1,,SIP/2.0/UDP g' }), 'reject 400'],
    ['Via with IPv6 port', base({ Via: 'SIP/2.0/UDP [2001:db8::1]:5070;branch=z9hG4bK1' }), 'message'],
    ['Via SIP/3.0', base({ Via: 'SIP/3.0/UDP h;branch=z9hG4bK1' }), 'reject 400'],
    ['Via port out of range', base({ Via: 'SIP/2.0/UDP h:70000;branch=z9hG4bK1' }), 'reject 400'],
    ['Contact *', base({ Contact: '*' }), 'message'],
    ['Contact * with others', base({ Contact: '*, <sip:a@b>' }), 'reject 400'],
    ['Contact with ;;', base({ Contact: '<sip:a@b>;;' }), 'reject 400'],
    ['Route needs <>', base({ Route: 'sip:proxy.example.com;lr' }), 'reject 400'],
    ['Route with IPv6', base({ Route: '<sip:[2001:db8::1]:5060;lr>' }), 'message'],
    ['Request-URI with bad escape', base({}, 'OPTIONS sip:b%zz@example.com SIP/2.0'), 'reject 400'],
    ['Request-URI tel:', base({}, 'OPTIONS tel:+15551234 SIP/2.0'), 'message'],
    ['Request-URI with empty param', base({}, 'OPTIONS sip:b@example.com;;lr SIP/2.0'), 'reject 400'],
    ['Request-URI with tab', base({}, 'OPTIONS\tsip:b@example.com SIP/2.0'), 'reject 400'],
    ['method not a token', base({}, 'OPT{}ONS sip:b@example.com SIP/2.0'), 'reject 400'],
    ['CSeq method differs', base({ CSeq: '1 INVITE' }), 'reject 400'],
    ['unknown method, other CSeq method', base({ CSeq: '1 INVITE' }, 'FOO sip:bob@example.com SIP/2.0'), 'message'],
    ['SIP/3.0 request', base({}, 'OPTIONS sip:bob@example.com SIP/3.0'), 'reject 505'],
    ['garbage', Buffer.from('hello world\r\n\r\n'), 'drop'],
    ['HTTP request', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 'drop'],
    ['keep-alive', Buffer.from('\r\n\r\n'), 'drop'],
    ['empty datagram', Buffer.alloc(0), 'drop'],
    ['leading CRLF', Buffer.concat([Buffer.from('\r\n'), base()]), 'message'],
    ['response', base({}, 'SIP/2.0 200 OK'), 'message'],
    ['response without reason', base({}, 'SIP/2.0 180'), 'message'],
    ['response code 099', base({}, 'SIP/2.0 099 Low'), 'drop'],
    ['response code 700', base({}, 'SIP/2.0 700 High'), 'drop'],
    ['response SIP/3.0', base({}, 'SIP/3.0 200 OK'), 'drop'],
    ['response missing To', base({ To: null }, 'SIP/2.0 200 OK'), 'drop'],
    [
      'Authorization digest',
      base({
        Authorization: 'Digest username="a", realm="r", nonce="n", uri="sip:b@example.com", response="x", algorithm=MD5, qop=auth, nc=00000001, cnonce="c"',
      }),
      'message',
    ],
    ['Authorization without parameters', base({ Authorization: 'Digest' }), 'reject 400'],
    ['over 64 KiB', base({ Subject: 'x'.repeat(70000) }), 'drop'],
  ]
  for (const [name, buf, want] of cases) t.equal(summary(parseDatagram(buf)).replace(/ \(.*$/, ''), want, name)

  const digest = parseDatagram(base({ 'WWW-Authenticate': 'Digest realm="a", nonce="1", Digest realm="b", nonce="2"' }, 'SIP/2.0 401 Unauthorized'))
  t.same(digest.kind === 'message' && digest.message.headers['www-authenticate'], [
    { scheme: 'Digest', realm: '"a"', nonce: '"1"' },
    { scheme: 'Digest', realm: '"b"', nonce: '"2"' },
  ])
  const body = parseDatagram(base({}, undefined, 'hello'))
  t.equal(body.kind === 'message' && body.message.content, 'hello')
})

// Deterministic, so a failure can be replayed.
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

t.test('2000 random mutations never throw, and every outcome can be acted on', async (t) => {
  const rand = prng(4475)
  const pick = (n: number) => Math.floor(rand() * n)
  const sources = FILES.map(read)
  const inserts = ['\r', '\n', '\x00', '"', '\r\n', '\r\n ', '<', ';', ',', ':']
  const counts = { message: 0, reject: 0, drop: 0 }
  for (let i = 0; i < 2000; i++) {
    let buf = Buffer.from(sources[pick(sources.length)])
    for (let k = 1 + pick(3); k > 0; k--) {
      const at = pick(buf.length + 1)
      switch (pick(4)) {
        case 0:
          if (buf.length) buf[Math.min(at, buf.length - 1)] ^= 1 << pick(8)
          break
        case 1:
          buf = buf.subarray(0, at)
          break
        case 2:
          buf = Buffer.concat([buf.subarray(0, at), Buffer.from(inserts[pick(inserts.length)], 'latin1'), buf.subarray(at)])
          break
        default:
          buf = Buffer.concat([buf.subarray(0, at), buf.subarray(Math.min(buf.length, at + 1 + pick(8)))])
      }
    }
    let outcome: ParseOutcome
    try {
      outcome = parseDatagram(buf)
      counts[outcome.kind]++
      if (outcome.kind === 'message') {
        const again = parseDatagram(serialize(outcome.message))
        if (again.kind !== 'message') throw new Error(`re-parse gave ${summary(again)}`)
      } else if (outcome.kind === 'reject') {
        serialize(makeResponse(outcome.request, outcome.status))
      }
    } catch (err) {
      t.fail(`mutation ${i} threw: ${String(err)}\n${JSON.stringify(buf.toString('latin1'))}`)
      return
    }
  }
  t.ok(counts.message > 0 && counts.reject > 0 && counts.drop > 0, JSON.stringify(counts))
})

t.test('a broken request whose Via transport has latin1 letters is dropped or answered, never unsendable (found by test/fuzz)', async (t) => {
  // 'ÿ' and 'µ' upper-case to U+0178 and U+039C, beyond latin1: the 400 could not be serialised
  for (const transport of ['UDÿP', 'UDµP']) {
    const raw = `OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/${transport} 127.0.0.1;branch=z9hG4bK1\r\nCall-ID: x\r\nCall-ID: y\r\nFrom: <sip:b@127.0.0.1>;tag=1\r\nTo: <sip:a@127.0.0.1>\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`
    const outcome = parseDatagram(Buffer.from(raw, 'latin1'))
    t.not(outcome.kind, 'message', transport)
    if (outcome.kind !== 'reject') continue
    t.match(serialize(makeResponse(outcome.request, outcome.status)).toString('latin1'), /^SIP\/2\.0 400 /)
  }
})
