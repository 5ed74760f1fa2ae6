import t from 'tap'
import { parse } from 'sdp-transform'
import { createOffer, createPinnedOffer, negotiate, readPinnedAnswer, type AnswerResult, type LocalMedia, type StreamFormat } from './negotiate.ts'

const local: LocalMedia = {
  address: '192.0.2.10',
  port: 20000,
  codecs: ['PCMU', 'PCMA'],
  sessionId: '4242',
  sessionVersion: 1,
}

// Builds an offer from lines so each case shows only what it varies.
function sdp(...lines: string[]): string {
  return lines.join('\r\n') + '\r\n'
}
const head = ['v=0', 'o=- 1 1 IN IP4 198.51.100.7', 's=-', 'c=IN IP4 198.51.100.7', 't=0 0']
const offer = (...media: string[]) => sdp(...head, ...media)

function ok(r: AnswerResult): Extract<AnswerResult, { ok: true }> {
  if (!r.ok) throw new Error(`expected an answer, got 488: ${r.reason}`)
  return r
}

function audioOf(answer: string) {
  const a = parse(answer)
  const m = a.media.find((x) => x.type === 'audio' && x.port !== 0)
  if (!m) throw new Error('no accepted audio in answer')
  return { session: a, m }
}

t.test('SIPp default offer: PCMU only', async (t) => {
  const body = 'v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n'
  const r = ok(negotiate(body, local))
  t.same(r.codec, { name: 'PCMU', payloadType: 0, clockRate: 8000 })
  t.same(r.remote, { address: '127.0.0.1', port: 6000, rtcpPort: 6001 })
  t.equal(r.ptime, 20)
  t.equal(r.direction, 'sendrecv')
  t.equal(r.onHold, false)
  t.equal(r.telephoneEvent, undefined)
  t.notOk(r.rtcpMux)

  // every line ends in CRLF and there is no bare LF
  t.ok(r.answer.endsWith('\r\n'))
  t.notMatch(r.answer, /[^\r]\n/)
  t.match(r.answer, /^v=0\r\no=- 4242 1 IN IP4 192\.0\.2\.10\r\ns=-\r\nc=IN IP4 192\.0\.2\.10\r\nt=0 0\r\nm=audio 20000 RTP\/AVP 0\r\n/)

  // round trip through sdp-transform's parser
  const { session, m } = audioOf(r.answer)
  t.equal(session.version, 0)
  t.equal(String(session.origin.sessionId), '4242')
  t.equal(session.origin.sessionVersion, 1)
  t.equal(session.connection?.ip, '192.0.2.10')
  t.equal(m.port, 20000)
  t.equal(m.protocol, 'RTP/AVP')
  t.equal(String(m.payloads), '0')
  t.same(m.rtp, [{ payload: 0, codec: 'PCMU', rate: 8000 }])
  t.equal(m.ptime, 20)
  t.equal(m.direction, 'sendrecv')
})

t.test('static payload types work without rtpmap', async (t) => {
  const r = ok(negotiate(offer('m=audio 6000 RTP/AVP 8'), local))
  t.same(r.codec, { name: 'PCMA', payloadType: 8, clockRate: 8000 })
  t.match(audioOf(r.answer).m.rtp, [{ payload: 8, codec: 'PCMA', rate: 8000 }])
})

t.test("the offerer's order wins over ours", async (t) => {
  let r = ok(negotiate(offer('m=audio 6000 RTP/AVP 8 0', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:0 PCMU/8000'), local))
  t.equal(r.codec.name, 'PCMA')
  t.equal(String(audioOf(r.answer).m.payloads), '8', 'the answer carries only the chosen codec')

  r = ok(negotiate(offer('m=audio 6000 RTP/AVP 0 8'), { ...local, codecs: ['PCMA', 'PCMU'] }))
  t.equal(r.codec.name, 'PCMU')

  r = ok(negotiate(offer('m=audio 6000 RTP/AVP 18 8 0', 'a=rtpmap:18 G729/8000'), local))
  t.equal(r.codec.name, 'PCMA', 'skips what we do not support')

  r = ok(negotiate(offer('m=audio 6000 RTP/AVP 0 8'), { ...local, codecs: ['PCMA'] }))
  t.equal(r.codec.name, 'PCMA', 'skips what we did not enable')
})

t.test('dynamic payload types are matched by rtpmap name, case-insensitive', async (t) => {
  const r = ok(negotiate(offer('m=audio 6000 RTP/AVP 97 98', 'a=rtpmap:97 iLBC/8000', 'a=rtpmap:98 pcma/8000'), local))
  t.same(r.codec, { name: 'PCMA', payloadType: 98, clockRate: 8000 })
  t.match(audioOf(r.answer).m.rtp, [{ payload: 98, codec: 'PCMA', rate: 8000 }])

  const wrongRate = negotiate(offer('m=audio 6000 RTP/AVP 97', 'a=rtpmap:97 PCMU/16000'), local)
  t.equal(wrongRate.ok, false, 'a PCMU at another clock rate is not G.711')

  const noMap = negotiate(offer('m=audio 6000 RTP/AVP 97'), local)
  t.match(noMap, { ok: false, status: 488, reason: /PT 97/ }, 'a dynamic PT without rtpmap means nothing')
})

t.test('no common codec is a 488 naming what was offered', async (t) => {
  const r = negotiate(offer('m=audio 6000 RTP/AVP 18 97 101', 'a=rtpmap:18 G729/8000', 'a=rtpmap:97 iLBC/8000', 'a=rtpmap:101 telephone-event/8000'), local)
  t.match(r, { ok: false, status: 488, reason: /^no common codec: offer has G729, iLBC, telephone-event; we support PCMU, PCMA$/ })

  const noMap = negotiate(offer('m=audio 6000 RTP/AVP 18'), local)
  t.match(noMap, { ok: false, status: 488, reason: /G729/ }, 'static PT named without rtpmap')
})

t.test('telephone-event is answered with the offerer PT and fmtp', async (t) => {
  for (const pt of [96, 101]) {
    const r = ok(negotiate(offer(`m=audio 6000 RTP/AVP 0 ${pt}`, `a=rtpmap:${pt} telephone-event/8000`, `a=fmtp:${pt} 0-16`), local))
    t.same(r.telephoneEvent, { payloadType: pt, clockRate: 8000 }, `PT ${pt}`)
    const { m } = audioOf(r.answer)
    t.equal(String(m.payloads), `0 ${pt}`)
    t.same(m.rtp[1], { payload: pt, codec: 'telephone-event', rate: 8000 })
    t.same(m.fmtp, [{ payload: pt, config: '0-16' }])
  }

  const wide = ok(negotiate(offer('m=audio 6000 RTP/AVP 0 100', 'a=rtpmap:100 telephone-event/48000'), local))
  t.equal(wide.telephoneEvent, undefined, 'only the 8000 Hz clock goes with G.711')

  const unlisted = ok(negotiate(offer('m=audio 6000 RTP/AVP 0', 'a=rtpmap:101 telephone-event/8000'), local))
  t.equal(unlisted.telephoneEvent, undefined, 'an rtpmap for a PT missing from m= is ignored')
})

t.test('ptime', async (t) => {
  let r = ok(negotiate(offer('m=audio 6000 RTP/AVP 0', 'a=ptime:30'), local))
  t.equal(r.ptime, 30)
  t.equal(audioOf(r.answer).m.ptime, 30, 'answered')

  for (const bad of ['25', '5', '80', '0']) {
    r = ok(negotiate(offer('m=audio 6000 RTP/AVP 0', `a=ptime:${bad}`), local))
    t.equal(r.ptime, 20, `ptime ${bad} falls back to 20`)
  }

  r = ok(negotiate(sdp(...head, 'a=ptime:40', 'm=audio 6000 RTP/AVP 0'), local))
  t.equal(r.ptime, 40, 'session-level ptime')

  // an Opus packet is one 10, 20, 40 or 60 ms frame: 30 is answered (and sent) as 20, 40 as 40
  const opus = { ...local, codecs: ['opus' as const] }
  for (const [asked, sent] of [
    [30, 20],
    [40, 40],
    [10, 10],
  ]) {
    r = ok(negotiate(offer('m=audio 6000 RTP/AVP 111', `a=rtpmap:111 opus/48000/2\r\na=ptime:${asked}`), opus))
    t.equal(r.ptime, sent, `Opus ptime ${asked} -> ${sent}`)
    t.equal(audioOf(r.answer).m.ptime, sent, 'and the answer says so')
  }
})

t.test('directions: we answer with the complement', async (t) => {
  const cases: Array<[string, string, boolean]> = [
    ['sendrecv', 'sendrecv', false],
    ['sendonly', 'recvonly', true],
    ['recvonly', 'sendonly', false],
    ['inactive', 'inactive', true],
  ]
  for (const [offered, ours, hold] of cases) {
    const r = ok(negotiate(offer('m=audio 6000 RTP/AVP 0', `a=${offered}`), local))
    t.equal(r.direction, ours, `${offered} -> ${ours}`)
    t.equal(r.onHold, hold, `${offered} hold=${hold}`)
    t.equal(audioOf(r.answer).m.direction, ours)
  }

  const none = ok(negotiate(offer('m=audio 6000 RTP/AVP 0'), local))
  t.equal(none.direction, 'sendrecv', 'absent means sendrecv')

  const session = ok(negotiate(sdp(...head, 'a=sendonly', 'm=audio 6000 RTP/AVP 0'), local))
  t.equal(session.direction, 'recvonly', 'session level applies')
  t.equal(session.onHold, true)

  const override = ok(negotiate(sdp(...head, 'a=sendonly', 'm=audio 6000 RTP/AVP 0', 'a=sendrecv'), local))
  t.equal(override.direction, 'sendrecv', 'media level overrides session level')
  t.equal(override.onHold, false)

  const wish = ok(negotiate(offer('m=audio 6000 RTP/AVP 0'), { ...local, direction: 'recvonly' }))
  t.equal(wish.direction, 'recvonly', 'our own wish narrows the answer')
  const both = ok(negotiate(offer('m=audio 6000 RTP/AVP 0', 'a=sendonly'), { ...local, direction: 'sendonly' }))
  t.equal(both.direction, 'inactive')
})

t.test('RFC 2543 hold: c=0.0.0.0', async (t) => {
  const r = ok(negotiate(sdp('v=0', 'o=- 1 2 IN IP4 198.51.100.7', 's=-', 'c=IN IP4 0.0.0.0', 't=0 0', 'm=audio 6000 RTP/AVP 0'), local))
  t.equal(r.onHold, true)
  t.equal(r.direction, 'recvonly', 'nothing is sent to 0.0.0.0')
  t.equal(r.remote.address, '0.0.0.0')

  const media = ok(negotiate(offer('m=audio 6000 RTP/AVP 0', 'c=IN IP4 0.0.0.0'), local))
  t.equal(media.onHold, true, 'media-level c= overrides session level')
})

t.test('other m= lines are refused with port 0, in order', async (t) => {
  const r = ok(negotiate(offer('m=video 7000 RTP/AVP 31 34', 'a=rtpmap:31 H261/90000', 'm=audio 6000 RTP/AVP 0', 'm=application 9 UDP/BFCP *'), local))
  const a = parse(r.answer)
  t.equal(a.media.length, 3)
  t.match(a.media[0], { type: 'video', port: 0, protocol: 'RTP/AVP', payloads: '31 34' })
  t.match(a.media[1], { type: 'audio', port: 20000 })
  t.match(a.media[2], { type: 'application', port: 0 })
  t.same(a.media[0].rtp, [])
  t.same(r.remote, { address: '198.51.100.7', port: 6000, rtcpPort: 6001 })
})

t.test('audio with port 0 is a refused stream', async (t) => {
  const r = ok(negotiate(offer('m=audio 0 RTP/AVP 0', 'm=audio 6002 RTP/AVP 8'), local))
  t.equal(r.remote.port, 6002)
  t.equal(r.codec.name, 'PCMA')
  const a = parse(r.answer)
  t.match(
    a.media.map((m) => m.port),
    [0, 20000],
  )

  t.match(negotiate(offer('m=audio 0 RTP/AVP 0'), local), { ok: false, status: 488, reason: /port 0/ })
})

t.test('no usable audio stream is a 488', async (t) => {
  t.match(negotiate(offer('m=video 7000 RTP/AVP 31'), local), {
    ok: false,
    status: 488,
    reason: 'no m=audio in offer (has video)',
  })
  t.match(negotiate(sdp(...head), local), { ok: false, status: 488, reason: /no m= line/ })
  t.match(negotiate(offer('m=audio 6000 RTP/SAVP 0', 'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x'), local), {
    ok: false,
    status: 488,
    reason: /RTP\/SAVP/,
  })
})

t.test('garbage never throws', async (t) => {
  const inputs: unknown[] = ['', 'hello world', 'INVITE sip:a@b SIP/2.0\r\n\r\n', 'v=0\r\n', '\u0000\u0001', 'v=1\r\no=x', undefined, 42]
  for (const input of inputs) {
    const r = negotiate(input as string, local)
    t.match(r, { ok: false, status: 488, reason: /\S/ }, JSON.stringify(input))
  }
  t.match(negotiate('hello world', local), { reason: 'malformed SDP: no v=0 line' })
  t.match(negotiate(offer('m=audio x RTP/AVP 0'), local), { reason: /invalid m= line/ })
  t.match(negotiate(sdp('v=0', 'o=- 1 1 IN IP4 1.2.3.4', 's=-', 't=0 0', 'm=audio 6000 RTP/AVP 0'), local), {
    reason: /no c= line/,
  })
})

t.test('IPv6', async (t) => {
  const r = ok(
    negotiate(sdp('v=0', 'o=- 1 1 IN IP6 2001:db8::7', 's=-', 'c=IN IP6 2001:db8::7', 't=0 0', 'm=audio 6000 RTP/AVP 0'), {
      ...local,
      address: '2001:db8::10',
    }),
  )
  t.same(r.remote, { address: '2001:db8::7', port: 6000, rtcpPort: 6001 })
  t.match(r.answer, /^o=- 4242 1 IN IP6 2001:db8::10\r$/m)
  t.match(r.answer, /^c=IN IP6 2001:db8::10\r$/m)
})

t.test('RTCP port: a=rtcp and a=rtcp-mux', async (t) => {
  const rtcp = ok(negotiate(offer('m=audio 6000 RTP/AVP 0', 'a=rtcp:6100 IN IP4 198.51.100.7'), local))
  t.equal(rtcp.remote.rtcpPort, 6100)
  t.notOk(rtcp.rtcpMux)

  const mux = ok(negotiate(offer('m=audio 6000 RTP/AVP 0', 'a=rtcp-mux'), local))
  t.equal(mux.remote.rtcpPort, 6000)
  t.ok(mux.rtcpMux)
  t.equal(audioOf(mux.answer).m.rtcpMux, 'rtcp-mux', 'accepted in the answer')
})

t.test('o= carries the version the caller passes', async (t) => {
  const r = ok(negotiate(offer('m=audio 6000 RTP/AVP 0'), { ...local, sessionVersion: 7 }))
  t.match(r.answer, /^o=- 4242 7 IN IP4 192\.0\.2\.10\r$/m)
})

t.test('createOffer', async (t) => {
  const body = createOffer({ ...local, codecs: ['PCMA', 'PCMU'], ptime: 30 })
  t.notMatch(body, /[^\r]\n/)
  const o = parse(body)
  t.equal(o.origin.sessionVersion, 1)
  const m = o.media[0]
  t.match(m, { type: 'audio', port: 20000, protocol: 'RTP/AVP', payloads: '8 0 101', ptime: 30, direction: 'sendrecv' })
  t.same(m.rtp, [
    { payload: 8, codec: 'PCMA', rate: 8000 },
    { payload: 0, codec: 'PCMU', rate: 8000 },
    { payload: 101, codec: 'telephone-event', rate: 8000 },
  ])
  t.same(m.fmtp, [{ payload: 101, config: '0-16' }])

  const held = parse(createOffer({ ...local, direction: 'sendonly', telephoneEventPt: 96 }))
  t.equal(held.media[0].direction, 'sendonly')
  t.equal(String(held.media[0].payloads), '0 8 96')
  t.equal(held.media[0].ptime, 20)

  // our own offer is acceptable to our own answerer
  const r = ok(negotiate(body, { ...local, port: 30000 }))
  t.equal(r.codec.name, 'PCMA')
  t.same(r.telephoneEvent, { payloadType: 101, clockRate: 8000 })
  t.equal(r.ptime, 30)
})

t.test('wideband codecs: G.722 and Opus with its fmtp, offerer order wins', async (t) => {
  const all = { ...local, codecs: ['opus', 'G722', 'PCMU', 'PCMA'] as const }
  const g722 = ok(
    negotiate(offer('m=audio 6000 RTP/AVP 9 0 101', 'a=rtpmap:9 G722/8000\r\na=rtpmap:101 telephone-event/8000'), { ...all, codecs: [...all.codecs] }),
  )
  t.same(g722.codec, { name: 'G722', payloadType: 9, clockRate: 8000, fmtp: undefined }, 'G.722 keeps its 8000 Hz RTP clock')
  t.equal(g722.telephoneEvent?.payloadType, 101)
  t.match(g722.answer, /a=rtpmap:9 G722\/8000/)
  const opus = ok(
    negotiate(
      offer(
        'm=audio 6000 RTP/AVP 111 0 110',
        'a=rtpmap:111 opus/48000/2\r\na=fmtp:111 useinbandfec=1;maxplaybackrate=16000\r\na=rtpmap:110 telephone-event/48000',
      ),
      { ...all, codecs: [...all.codecs] },
    ),
  )
  t.same(opus.codec, { name: 'opus', payloadType: 111, clockRate: 48000, fmtp: 'useinbandfec=1;maxplaybackrate=16000' })
  t.same(opus.telephoneEvent, { payloadType: 110, clockRate: 48000 }, 'telephone-event at the Opus clock')
  t.match(opus.answer, /a=rtpmap:111 opus\/48000\/2/)
  t.match(opus.answer, /a=fmtp:111 minptime=10;useinbandfec=1;usedtx=1/)
  const narrowOnly = ok(negotiate(offer('m=audio 6000 RTP/AVP 111 9 0', 'a=rtpmap:111 opus/48000/2'), { ...local, codecs: ['PCMU'] }))
  t.equal(narrowOnly.codec.name, 'PCMU', 'a codec left out of our preference list is not chosen')
  const offerSdp = createOffer({ ...local, codecs: ['opus', 'G722', 'PCMU'] })
  t.match(offerSdp, /m=audio 20000 RTP\/AVP 111 9 0 110 101/)
  t.match(offerSdp, /a=rtpmap:110 telephone-event\/48000/, 'an event type for the Opus clock too')
  t.match(offerSdp, /a=fmtp:111 minptime=10;useinbandfec=1;usedtx=1/)
})

t.test('a pinned offer carries only the negotiated codec and telephone-event, under the same payload types', async (t) => {
  // The caller offered Opus as 96 and events as 97: the seller's leg must see those numbers.
  const caller = ok(
    negotiate(offer('m=audio 4000 RTP/AVP 96 97', 'a=rtpmap:96 opus/48000/2', 'a=rtpmap:97 telephone-event/48000'), { ...local, codecs: ['opus', 'PCMU'] }),
  )
  const { m } = audioOf(createPinnedOffer({ ...local, port: 20002 }, caller))
  t.equal(m.port, 20002)
  t.same(
    m.rtp.map((r) => [r.payload, r.codec, r.rate]),
    [
      [96, 'opus', 48000],
      [97, 'telephone-event', 48000],
    ],
  )
  t.equal(String(m.payloads), '96 97')
  t.equal(m.ptime, 20)
  t.equal(m.rtcpMux, undefined)
  t.equal(audioOf(createPinnedOffer(local, { ...caller, rtcpMux: true })).m.rtcpMux, 'rtcp-mux', 'rtcp-mux when the caller muxes')

  const plain = parse(createPinnedOffer(local, { codec: { name: 'PCMA', payloadType: 8 }, ptime: 30 }))
  t.same(
    plain.media[0].rtp.map((r) => r.codec),
    ['PCMA'],
    'no telephone-event when the caller has none',
  )
  t.equal(plain.media[0].ptime, 30)
})

t.test('the answer to a pinned offer', async (t) => {
  const format: StreamFormat = { codec: { name: 'PCMU', payloadType: 0 }, telephoneEvent: { payloadType: 101, clockRate: 8000 }, ptime: 20 }
  t.same(readPinnedAnswer(offer('m=audio 7000 RTP/AVP 0 101', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000'), format), {
    ok: true,
    remote: { address: '198.51.100.7', port: 7000, rtcpPort: 7001 },
    rtcpMux: false,
    telephoneEvent: true,
  })
  t.same(
    readPinnedAnswer(offer('m=audio 7000 RTP/AVP 0', 'a=rtcp-mux'), format),
    {
      ok: true,
      remote: { address: '198.51.100.7', port: 7000, rtcpPort: 7000 },
      rtcpMux: true,
      telephoneEvent: false,
    },
    'static PCMU without rtpmap or events; RTCP muxed',
  )
  t.match(
    readPinnedAnswer(offer('m=audio 7000 RTP/AVP 0 96', 'a=rtpmap:96 telephone-event/8000'), format),
    { ok: true, telephoneEvent: false },
    'telephone-event under another payload type than offered: not relayed',
  )
  t.same(readPinnedAnswer(offer('m=audio 7000 RTP/AVP 8', 'a=rtpmap:8 PCMA/8000'), format), {
    ok: false,
    reason: 'the answer has PCMA/8 where PCMU/0 was offered',
  })
  t.match(readPinnedAnswer(offer('m=audio 7000 RTP/AVP 0 8'), format), { ok: false, reason: /PCMU\/0, PCMA\/8 where/ }, 'a second codec is refused too')
  t.match(
    readPinnedAnswer(offer('m=audio 7000 RTP/AVP 96', 'a=rtpmap:96 PCMU/8000'), format),
    { ok: false, reason: /PCMU\/96 where PCMU\/0/ },
    'the codec under another payload type',
  )
  t.match(readPinnedAnswer(offer('m=audio 0 RTP/AVP 0'), format), { ok: false, reason: /refuses the audio stream/ })
  t.match(readPinnedAnswer(offer('m=audio 7000 RTP/AVP 101', 'a=rtpmap:101 telephone-event/8000'), format), { ok: false, reason: /has no audio format/ })
  t.match(readPinnedAnswer('', format), { ok: false, reason: /empty body/ })
  t.match(readPinnedAnswer(sdp('v=0', 'o=- 1 1 IN IP4 198.51.100.7', 's=-', 't=0 0'), format), { ok: false, reason: /no m= line in answer/ })
})

// Issue 13: these offers were answered 200 and the first RTCP report then threw ERR_SOCKET_BAD_PORT
// in the send path, killing the process with every call in it.
t.test('ports a datagram cannot be sent to are refused with 488, not answered', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['m=audio 65535 RTP/AVP 0'], /invalid RTCP port: 65535 \+ 1/],
    [['m=audio 70000 RTP/AVP 0'], /invalid port in m= line: 70000/],
    [['m=audio 6000 RTP/AVP 0', 'a=rtcp:70000'], /invalid RTCP port: a=rtcp:70000/],
    [['m=audio 6000 RTP/AVP 0', 'a=rtcp:0'], /invalid RTCP port: a=rtcp:0/],
    [['m=audio 6000 RTP/AVP 0', 'a=rtcp:x'], /invalid RTCP port: a=rtcp:/],
    [['m=audio 99999999999999999999 RTP/AVP 0'], /invalid port in m= line/],
  ]
  for (const [media, reason] of cases) {
    const r = negotiate(offer(...media), local)
    t.equal(r.ok, false, media.join(' | '))
    if (!r.ok) t.match(r.reason, reason)
  }
  // still fine: the top port with rtcp-mux, and a=rtcp naming a valid port
  t.same(ok(negotiate(offer('m=audio 65535 RTP/AVP 0', 'a=rtcp-mux'), local)).remote, { address: '198.51.100.7', port: 65535, rtcpPort: 65535 })
  t.same(ok(negotiate(offer('m=audio 6000 RTP/AVP 0', 'a=rtcp:6101'), local)).remote, { address: '198.51.100.7', port: 6000, rtcpPort: 6101 })
})

t.test('a numeric encoding name is a name like any other (it threw before)', async (t) => {
  const r = negotiate(offer('m=audio 6000 RTP/AVP 96 0', 'a=rtpmap:96 123/8000', 'a=rtpmap:0 PCMU/8000'), local)
  t.equal(ok(r).codec.name, 'PCMU')
  const none = negotiate(offer('m=audio 6000 RTP/AVP 96', 'a=rtpmap:96 123/8000'), local)
  t.equal(none.ok, false)
  if (!none.ok) t.match(none.reason, /no common codec: offer has 123/)
})
