import t from 'tap'
import { newMasterKey } from './sdes.ts'
import { SrtcpReceiver, SrtcpSender } from './srtcp-transform.ts'

const KEY = Buffer.from(newMasterKey('AES_CM_128_HMAC_SHA1_32'), 'base64')
// an RR with one report block, then SDES CNAME: a compound packet as RtcpReporter builds it
const RTCP = Buffer.from(
  '81c90007' + '11223344' + '55667788' + '00000001' + '0000ffff' + '00000010' + '00000000' + '00000000' + '81ca0003112233440103616263000000',
  'hex',
)

t.test('round trip: the E flag and the index, 80-bit tag even with the _32 suite', async (t) => {
  const sender = new SrtcpSender('AES_CM_128_HMAC_SHA1_32', KEY)
  const receiver = new SrtcpReceiver('AES_CM_128_HMAC_SHA1_32', KEY)
  for (let i = 0; i < 3; i++) {
    const srtcp = sender.protect(RTCP)
    t.equal(srtcp.length, RTCP.length + 4 + 10)
    t.same(srtcp.subarray(0, 8), RTCP.subarray(0, 8), 'header and SSRC in the clear')
    t.not(srtcp.subarray(8, RTCP.length).toString('hex'), RTCP.subarray(8).toString('hex'), 'the rest encrypted')
    t.equal(srtcp.readUInt32BE(RTCP.length), (0x80000000 | i) >>> 0, `E = 1, index ${i}`)
    t.same(receiver.unprotect(srtcp), RTCP)
  }
})

t.test('an SRTCP packet sent unencrypted (E = 0) is authenticated and taken as it is', async (t) => {
  const sender = new SrtcpSender('AES_CM_128_HMAC_SHA1_80', KEY)
  const receiver = new SrtcpReceiver('AES_CM_128_HMAC_SHA1_80', KEY)
  const srtcp = sender.protect(RTCP)
  // build the E = 0 form by hand: plain body, index word without E, tag over it
  const plain = Buffer.concat([RTCP, Buffer.from('00000005', 'hex')])
  const { createHmac } = await import('node:crypto')
  const { deriveRtcpKeys } = await import('./key-derivation.ts')
  const keys = deriveRtcpKeys(KEY.subarray(0, 16), KEY.subarray(16))
  const tag = createHmac('sha1', keys.authKey).update(plain).digest().subarray(0, 10)
  t.same(receiver.unprotect(Buffer.concat([plain, tag])), RTCP)
  t.same(receiver.unprotect(srtcp), RTCP)
})

t.test('tampered, replayed and short packets are refused, never thrown', async (t) => {
  const sender = new SrtcpSender('AES_CM_128_HMAC_SHA1_80', KEY)
  const receiver = new SrtcpReceiver('AES_CM_128_HMAC_SHA1_80', KEY)
  const good = sender.protect(RTCP)
  for (const at of [0, 5, 9, RTCP.length, RTCP.length + 3, good.length - 1]) {
    const bad = Buffer.from(good)
    bad[at] ^= 0x80
    t.equal(receiver.unprotect(bad), 'auth', `bit flipped at ${at}`)
  }
  t.equal(receiver.unprotect(good.subarray(0, 21)), 'malformed')
  t.same(receiver.unprotect(Buffer.from(good)), RTCP)
  t.equal(receiver.unprotect(Buffer.from(good)), 'replay')
  t.equal(receiver.unprotect(RTCP), 'auth', 'plain RTCP where SRTCP is expected')
})
