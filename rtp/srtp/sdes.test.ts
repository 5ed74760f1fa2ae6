import t from 'tap'
import { chooseCrypto, formatCrypto, newMasterKey, parseCrypto } from './sdes.ts'

const KEY = 'WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz' // RFC 4568 §4's example key (30 bytes)

t.test('reads the RFC 4568 example and the forms endpoints send', async (t) => {
  t.same(parseCrypto({ id: 1, suite: 'AES_CM_128_HMAC_SHA1_80', config: `inline:${KEY}|2^20|1:4` }), 'key lifetime 2^20 is shorter than 2^31 packets')
  t.same(parseCrypto({ id: 1, suite: 'AES_CM_128_HMAC_SHA1_80', config: `inline:${KEY}` }), { tag: 1, suite: 'AES_CM_128_HMAC_SHA1_80', key: KEY })
  t.same(parseCrypto({ id: '2', suite: 'AES_CM_128_HMAC_SHA1_32', config: `inline:${KEY}|2^31` }), { tag: 2, suite: 'AES_CM_128_HMAC_SHA1_32', key: KEY })
})

t.test('hostile or unsupported attributes give a reason, never a throw', async (t) => {
  const cases: Array<[string, Parameters<typeof parseCrypto>[0], RegExp]> = [
    ['unknown suite', { id: 1, suite: 'AES_256_CM_HMAC_SHA1_80', config: `inline:${KEY}` }, /unsupported crypto suite/],
    ['F8 suite', { id: 1, suite: 'F8_128_HMAC_SHA1_80', config: `inline:${KEY}` }, /unsupported crypto suite/],
    ['bad base64', { id: 1, suite: 'AES_CM_128_HMAC_SHA1_80', config: 'inline:!!!notbase64!!!' }, /not base64/],
    ['short key', { id: 1, suite: 'AES_CM_128_HMAC_SHA1_80', config: 'inline:AAAA' }, /30 bytes/],
    ['long key', { id: 1, suite: 'AES_CM_128_HMAC_SHA1_80', config: `inline:${KEY}AAAA` }, /30 bytes/],
    ['empty key', { id: 1, suite: 'AES_CM_128_HMAC_SHA1_80', config: 'inline:' }, /base64/],
    ['MKI', { id: 1, suite: 'AES_CM_128_HMAC_SHA1_80', config: `inline:${KEY}|1:4` }, /MKI/],
    ['lifetime and MKI', { id: 1, suite: 'AES_CM_128_HMAC_SHA1_80', config: `inline:${KEY}|2^48|1:4` }, /MKI/],
    ['two keys', { id: 1, suite: 'AES_CM_128_HMAC_SHA1_80', config: `inline:${KEY}|2^31|1:4;inline:${KEY}|2^31|2:4` }, /several master keys/],
    ['not inline', { id: 1, suite: 'AES_CM_128_HMAC_SHA1_80', config: `uri:${KEY}` }, /inline/],
    ['session params', { id: 1, suite: 'AES_CM_128_HMAC_SHA1_80', config: `inline:${KEY}`, sessionConfig: 'UNENCRYPTED_SRTP' }, /session parameters/],
    ['bad tag', { id: 'x', suite: 'AES_CM_128_HMAC_SHA1_80', config: `inline:${KEY}` }, /tag/],
    ['garbage lifetime', { id: 1, suite: 'AES_CM_128_HMAC_SHA1_80', config: `inline:${KEY}|2^999` }, /lifetime/],
    ['nothing', { id: undefined as unknown as number, suite: undefined as unknown as string, config: undefined as unknown as string }, /tag/],
  ]
  for (const [name, a, why] of cases) {
    const r = parseCrypto(a)
    t.ok(typeof r === 'string' && why.test(r), `${name}: ${r as string}`)
  }
})

t.test('chooseCrypto takes the first usable line in the offerer order', async (t) => {
  const key32 = newMasterKey('AES_CM_128_HMAC_SHA1_32')
  const chosen = chooseCrypto([
    { id: 1, suite: 'AES_256_CM_HMAC_SHA1_80', config: `inline:${KEY}` },
    { id: 2, suite: 'AES_CM_128_HMAC_SHA1_32', config: `inline:${key32}` },
    { id: 3, suite: 'AES_CM_128_HMAC_SHA1_80', config: `inline:${KEY}` },
  ])
  t.same(chosen, { tag: 2, suite: 'AES_CM_128_HMAC_SHA1_32', key: key32 })
  t.match(chooseCrypto([]), /without a=crypto/)
  t.match(chooseCrypto(undefined), /without a=crypto/)
  t.match(chooseCrypto([{ id: 1, suite: 'X', config: 'inline:AAAA' }]), /no usable a=crypto: unsupported crypto suite X/)
  t.same(formatCrypto({ tag: 2, suite: 'AES_CM_128_HMAC_SHA1_32', key: key32 }), { id: 2, suite: 'AES_CM_128_HMAC_SHA1_32', config: `inline:${key32}` })
  t.not(newMasterKey('AES_CM_128_HMAC_SHA1_80'), newMasterKey('AES_CM_128_HMAC_SHA1_80'), 'fresh keys')
  t.equal(Buffer.from(newMasterKey('AES_CM_128_HMAC_SHA1_80'), 'base64').length, 30)
})
