import t from 'tap'
import { parse } from 'sdp-transform'
import { newMasterKey } from '../../rtp/srtp/sdes.ts'
import {
  createOffer,
  createPinnedOffer,
  negotiate,
  newLegKeying,
  offerCrypto,
  offerCryptoFor,
  readAnswer,
  readPinnedAnswer,
  type LocalMedia,
  type SrtpPolicy,
} from './negotiate.ts'

const local = (srtp: SrtpPolicy): LocalMedia => ({ address: '192.0.2.10', port: 20000, codecs: ['PCMU', 'PCMA'], sessionId: '1', sessionVersion: 1, srtp })
const KEY80 = newMasterKey('AES_CM_128_HMAC_SHA1_80')
const KEY32 = newMasterKey('AES_CM_128_HMAC_SHA1_32')
const offer = (profile: string, ...attrs: string[]) =>
  [
    'v=0',
    'o=- 1 1 IN IP4 198.51.100.7',
    's=-',
    'c=IN IP4 198.51.100.7',
    't=0 0',
    `m=audio 6000 ${profile} 0 101`,
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    ...attrs,
  ]
    .join('\r\n')
    .concat('\r\n')
// baresip 1.0.0 with mediaenc=srtp-mand offers both suites, _32 first
const BARESIP = offer('RTP/SAVP', `a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:${KEY32}`, `a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:${KEY80}`)

t.test('an RTP/SAVP offer is answered RTP/SAVP with its first suite we speak, our fresh key, its tag', async (t) => {
  const r = negotiate(BARESIP, local('optional'))
  if (!r.ok) throw new Error(r.reason)
  const m = parse(r.answer).media[0]
  t.equal(m.protocol, 'RTP/SAVP')
  t.equal(m.crypto?.length, 1)
  t.equal(m.crypto![0].id, 1)
  t.equal(m.crypto![0].suite, 'AES_CM_128_HMAC_SHA1_32')
  const ours = m.crypto![0].config.replace('inline:', '')
  t.not(ours, KEY32, 'not the offerer key')
  t.equal(Buffer.from(ours, 'base64').length, 30)
  t.same(r.srtp, { suite: 'AES_CM_128_HMAC_SHA1_32', local: ours, remote: KEY32 })
  const again = negotiate(BARESIP, local('optional'))
  t.not(again.ok && again.srtp?.local, ours, 'a key per call')
})

t.test('a re-offer in the dialog keeps our key', async (t) => {
  const first = negotiate(BARESIP, local('optional'))
  if (!first.ok) throw new Error(first.reason)
  const re = negotiate(BARESIP, { ...local('optional'), keying: first.srtp })
  t.same(re.ok && re.srtp, first.srtp)
})

t.test('policies: plain stays plain unless required; off and required refuse the other kind', async (t) => {
  const plain = offer('RTP/AVP')
  const r = negotiate(plain, local('optional'))
  t.ok(r.ok && r.srtp === undefined && parse(r.answer).media[0].protocol === 'RTP/AVP', 'optional: plain answered plain')
  const req = negotiate(plain, local('required'))
  t.match(req, { ok: false, status: 488, reason: /offer has RTP\/AVP; we support RTP\/SAVP/ })
  t.match(negotiate(BARESIP, local('off')), { ok: false, status: 488, reason: /offer has RTP\/SAVP; we support RTP\/AVP/ })
  t.match(negotiate(BARESIP, { ...local('off'), srtp: undefined }), { ok: false, status: 488 }, 'off by default in the library')
  t.ok(negotiate(BARESIP, local('required')).ok)
})

t.test('hostile a=crypto lines get a 488 with a reason, never a throw', async (t) => {
  const bad = [
    'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%%%%',
    'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA',
    'a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:' + KEY80,
    `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY80}|2^20|1:4`,
    `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY80}|1:4`,
    `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY80} KDR=1`,
    'a=crypto:',
    'a=crypto:1',
    'a=crypto:99999999999999999999 AES_CM_128_HMAC_SHA1_80 inline:' + KEY80,
  ]
  for (const line of bad) t.match(negotiate(offer('RTP/SAVP', line), local('optional')), { ok: false, status: 488 }, line)
  t.match(negotiate(offer('RTP/SAVP'), local('optional')), { ok: false, status: 488, reason: /without a=crypto/ })
  // a bad line before a good one: the good one is taken
  const r = negotiate(offer('RTP/SAVP', bad[0], `a=crypto:7 AES_CM_128_HMAC_SHA1_80 inline:${KEY80}`), local('optional'))
  t.ok(r.ok && r.srtp?.remote === KEY80)
})

t.test('our own RTP/SAVP offer (delayed offer, SRTP=required) and its answer', async (t) => {
  const ours = offerCrypto()
  const sdp = createOffer({ ...local('required'), crypto: ours })
  const m = parse(sdp).media[0]
  t.equal(m.protocol, 'RTP/SAVP')
  t.same(
    m.crypto?.map((c) => [c.id, c.suite]),
    [
      [1, 'AES_CM_128_HMAC_SHA1_80'],
      [2, 'AES_CM_128_HMAC_SHA1_32'],
    ],
  )
  const theirs = newMasterKey('AES_CM_128_HMAC_SHA1_32')
  const answer = offer('RTP/SAVP', `a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:${theirs}`)
  const r = readAnswer(answer, local('required'), ours)
  t.same(r.ok && r.srtp, { suite: 'AES_CM_128_HMAC_SHA1_32', local: ours[1].key, remote: theirs })
  t.match(readAnswer(offer('RTP/SAVP', `a=crypto:3 AES_CM_128_HMAC_SHA1_32 inline:${theirs}`), local('required'), ours), { ok: false, reason: /matches none/ })
  t.match(readAnswer(offer('RTP/AVP'), local('required'), ours), { ok: false })
  t.match(readAnswer(answer, local('optional')), { ok: false }, 'RTP/SAVP answering our plain offer: unusable')
})

t.test('the pinned offer of an SRTP stream carries our key again', async (t) => {
  const keying = { suite: 'AES_CM_128_HMAC_SHA1_80' as const, local: KEY80, remote: KEY32 }
  const sdp = createPinnedOffer(local('optional'), { codec: { name: 'PCMU', payloadType: 0 }, ptime: 20, srtp: keying })
  const m = parse(sdp).media[0]
  t.equal(m.protocol, 'RTP/SAVP')
  t.same(m.crypto, [{ id: 1, suite: 'AES_CM_128_HMAC_SHA1_80', config: `inline:${KEY80}` }])
})

t.test('an offer of ours is RTP/SAVP only under SRTP=required (SDES cannot offer "SRTP if you can")', async (t) => {
  t.equal(offerCryptoFor('off'), undefined)
  t.equal(offerCryptoFor('optional'), undefined)
  t.same(
    offerCryptoFor('required')?.map((c) => [c.tag, c.suite]),
    [
      [1, 'AES_CM_128_HMAC_SHA1_80'],
      [2, 'AES_CM_128_HMAC_SHA1_32'],
    ],
  )
})

t.test("a new leg's pinned SRTP offer: its answer must be RTP/SAVP under our tag and suite, and gives the peer's key", async (t) => {
  const keying = newLegKeying()
  t.equal(keying.suite, 'AES_CM_128_HMAC_SHA1_80', 'the suite every SDES peer must speak (RFC 4568 §6.2)')
  t.equal(newLegKeying('AES_CM_128_HMAC_SHA1_32').suite, 'AES_CM_128_HMAC_SHA1_32', "the caller's suite when it has one")
  const format = { codec: { name: 'PCMU' as const, payloadType: 0 }, ptime: 20, srtp: keying }
  t.match(parse(createPinnedOffer(local('required'), format)).media[0].crypto, [{ id: 1, suite: 'AES_CM_128_HMAC_SHA1_80', config: `inline:${keying.local}` }])
  const theirs = newMasterKey('AES_CM_128_HMAC_SHA1_80')
  const ok = readPinnedAnswer(offer('RTP/SAVP', `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${theirs}`), format)
  t.match(ok, { ok: true, srtp: { suite: 'AES_CM_128_HMAC_SHA1_80', local: keying.local, remote: theirs } })
  t.match(readPinnedAnswer(offer('RTP/AVP'), format), { ok: false, reason: 'the answer is RTP/AVP to our RTP/SAVP offer' })
  t.match(readPinnedAnswer(offer('RTP/SAVP', `a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:${theirs}`), format), { ok: false, reason: /matches none/ })
  t.match(readPinnedAnswer(offer('RTP/SAVP', `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${theirs}`), { ...format, srtp: undefined }), {
    ok: false,
    reason: 'the answer is RTP/SAVP to our RTP/AVP offer',
  })
  t.notOk('srtp' in readPinnedAnswer(offer('RTP/AVP'), { ...format, srtp: undefined }), 'a plain leg has no keys')
})
