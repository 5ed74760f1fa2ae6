import t from 'tap'
import { parse } from 'sdp-transform'
import { placeholderOffer } from './seller-offer.ts'

t.test("the seller leg's endpoint is made from the caller's stream, plain RTP, aimed nowhere", async (t) => {
  // FreeSWITCH's answer to an SRTP caller on hold
  const caller =
    'v=0\r\no=FreeSWITCH 1 2 IN IP4 203.0.113.10\r\ns=FreeSWITCH\r\nc=IN IP4 203.0.113.10\r\nt=0 0\r\n' +
    'm=audio 34202 RTP/SAVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n' +
    'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:MakC8RFmJl56ueYbfJlOTCVVgrQuXAIKzXG2ntSV\r\na=ptime:20\r\na=recvonly\r\n'
  const offer = parse(placeholderOffer(caller))
  t.equal(offer.media.length, 1)
  t.match(offer.media[0], { port: 9, protocol: 'RTP/AVP', payloads: '8 101', direction: 'sendrecv', ptime: 20 })
  t.same(
    offer.media[0].rtp.map((r) => r.codec),
    ['PCMA', 'telephone-event'],
  )
  t.notOk(offer.media[0].crypto, 'no keys')
  t.throws(() => placeholderOffer('v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n'), /no audio/)
})
