import t from 'tap'
import { aesCmKeystream } from './aes-cm.ts'
import { deriveKey, deriveRtpKeys } from './key-derivation.ts'
import { packetIv } from './srtp-transform.ts'

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex')

// RFC 3711 Appendix B.2, "AES-CM Test Vectors": session key, salt and the keystream blocks of
// ROC = 0, SEQ = 0, SSRC = 0 (the counter starts at the salt shifted left by 16 bits).
t.test('AES-CM keystream: RFC 3711 B.2', async (t) => {
  const key = hex('2B7E151628AED2A6ABF7158809CF4F3C')
  const salt = hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD')
  const iv = packetIv(salt, 0, 0)
  t.same(iv, hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000'), 'the counter block of packet 0')
  const ks = aesCmKeystream(key, iv, 0x10000 * 16)
  const block = (n: number) =>
    ks
      .subarray(n * 16, n * 16 + 16)
      .toString('hex')
      .toUpperCase()
  t.equal(block(0x0000), 'E03EAD0935C95E80E166B16DD92B4EB4')
  t.equal(block(0x0001), 'D23513162B02D0F72A43A2FE4A5F97AB')
  t.equal(block(0x0002), '41E95B3BB0A2E8DD477901E4FCA894C0')
  t.equal(block(0xfeff), 'EC8CDF7398607CB0F2D21675EA9EA1E4')
  t.equal(block(0xff00), '362B7C3C6773516318A077D7FC5073AE')
  t.equal(block(0xff01), '6A2CC3787889374FBEB4C81B17BA6C44')
})

// RFC 3711 Appendix B.3, "Key Derivation Test Vectors" (kdr = 0, index 0).
t.test('key derivation: RFC 3711 B.3', async (t) => {
  const masterKey = hex('E1F97A0D3E018BE0D64FA32C06DE4139')
  const masterSalt = hex('0EC675AD498AFEEBB6960B3AABE6')
  const k = deriveRtpKeys(masterKey, masterSalt)
  t.equal(k.encKey.toString('hex').toUpperCase(), 'C61E7A93744F39EE10734AFE3FF7A087', 'cipher key (label 0)')
  t.equal(k.salt.toString('hex').toUpperCase(), '30CBBC08863D8C85D49DB34A9AE1', 'cipher salt (label 2)')
  t.equal(k.authKey.toString('hex').toUpperCase(), 'CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4', 'auth key (label 1), the 160 bits HMAC-SHA1 uses')
  // the RFC lists 94 bytes of the auth key's keystream: the PRF's later blocks too
  t.equal(
    deriveKey(masterKey, masterSalt, 1, 94).toString('hex').toUpperCase(),
    'CEBE321F6FF7716B6FD4AB49AF256A156D38BAA48F0A0ACF3C34E2359E6CDBCE' +
      'E049646C43D9327AD175578EF72270986371C10C9A369AC2F94A8C5FBCDDDC25' +
      '6D6E919A48B610EF17C2041E474035766B68642C59BBFC2F34DB60DBDFB2',
  )
})
