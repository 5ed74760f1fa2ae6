import t from 'tap'
import { parse } from 'sdp-transform'
import { createOffer } from '../sdp/negotiate.ts'
import { answeredCodec, narrowToCallerCodec } from './core-offer.ts'

// the media core's offer with the default codec list (opus, G722, PCMU, PCMA) and both telephone-events
const coreOffer = createOffer({ address: '127.0.0.1', port: 40000, codecs: ['opus', 'G722', 'PCMU', 'PCMA'], sessionId: '1', sessionVersion: 1 })

/** FreeSWITCH's answer to a caller (its SDP towards the trunk), with `m` as its audio line */
const fsAnswer = (m: string, extra = '') =>
  `v=0\r\no=FreeSWITCH 1 2 IN IP4 203.0.113.10\r\ns=FreeSWITCH\r\nc=IN IP4 203.0.113.10\r\nt=0 0\r\nm=audio 34202 ${m}\r\n${extra}a=ptime:20\r\n`

t.test('the codec an answer settled on is its first payload, by rtpmap or static type', async (t) => {
  t.equal(answeredCodec(fsAnswer('RTP/AVP 8 101', 'a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n')), 'PCMA')
  t.equal(answeredCodec(fsAnswer('RTP/AVP 0')), 'PCMU', 'a static type needs no rtpmap')
  t.equal(answeredCodec(fsAnswer('RTP/AVP 102 101', 'a=rtpmap:102 opus/48000/2\r\na=rtpmap:101 telephone-event/48000\r\n')), 'opus')
  t.equal(answeredCodec(fsAnswer('RTP/AVP 97', 'a=rtpmap:97 iLBC/8000\r\n')), undefined, 'a codec we do not code')
  t.equal(answeredCodec('v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n'), undefined, 'no audio')
  t.equal(answeredCodec(fsAnswer('RTP/AVP')), undefined, 'an audio line with no payload types names none')
  t.equal(answeredCodec(fsAnswer('RTP/AVP x 0')), undefined, 'nor one that starts with garbage')
})

t.test("the core's offer keeps the caller's codec, under its own payload type, and its telephone-event", async (t) => {
  const pcmu = parse(narrowToCallerCodec(coreOffer, fsAnswer('RTP/AVP 0 101', 'a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n')))
  t.equal(pcmu.media[0].payloads, '0 101')
  t.same(
    pcmu.media[0].rtp.map((r) => `${r.codec}/${r.rate}`),
    ['PCMU/8000', 'telephone-event/8000'],
  )
  t.same(
    pcmu.media[0].fmtp.map((f) => f.payload),
    [101],
    "the dropped payloads' fmtp lines go with them",
  )
  t.match(pcmu.media[0], { port: 40000, ptime: 20, direction: 'sendrecv' }, 'the rest as it was')

  // a caller on Opus under another payload type: ours (111) is kept, with its fmtp
  const opus = parse(narrowToCallerCodec(coreOffer, fsAnswer('RTP/AVP 102 101', 'a=rtpmap:102 opus/48000/2\r\na=rtpmap:101 telephone-event/48000\r\n')))
  t.equal(opus.media[0].payloads, '111 110', 'with the 48 kHz telephone-event')
  t.match(opus.media[0].fmtp.find((f) => f.payload === 111)?.config, /useinbandfec=1/)
})

t.test("the core's offer is left whole when it cannot carry the caller's codec", async (t) => {
  const g711Only = createOffer({ address: '127.0.0.1', port: 40000, codecs: ['PCMU', 'PCMA'], sessionId: '1', sessionVersion: 1 })
  t.equal(narrowToCallerCodec(g711Only, fsAnswer('RTP/AVP 9', 'a=rtpmap:9 G722/8000\r\n')), g711Only, 'FreeSWITCH transcodes G.722 to a G.711 of ours')
  t.equal(narrowToCallerCodec(coreOffer, fsAnswer('RTP/AVP 97', 'a=rtpmap:97 iLBC/8000\r\n')), coreOffer)
})
