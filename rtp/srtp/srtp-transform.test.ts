import t from 'tap'
import { writeRtpHeader } from '../packet.ts'
import { add16 } from '../seq.ts'
import { newMasterKey } from './sdes.ts'
import { SrtpReceiver, SrtpSender } from './srtp-transform.ts'

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex')
const MASTER = hex('E1F97A0D3E018BE0D64FA32C06DE4139' + '0EC675AD498AFEEBB6960B3AABE6')

function rtp(seq: number, payload: Buffer, ssrc = 0x11223344): { buf: Buffer; length: number } {
  const buf = Buffer.alloc(12 + payload.length + 16)
  writeRtpHeader(buf, { marker: false, payloadType: 0, sequenceNumber: seq, timestamp: seq * 160, ssrc })
  payload.copy(buf, 12)
  return { buf, length: 12 + payload.length }
}

function protect(sender: SrtpSender, seq: number, payload: Buffer, ssrc?: number): Buffer {
  const p = rtp(seq, payload, ssrc)
  return Buffer.from(p.buf.subarray(0, sender.protect(p.buf, p.length)))
}

// libsrtp's test/srtp_driver.c reference packet (AES_CM_128_HMAC_SHA1_80 with the RFC 3711 B.3
// master key and salt): SSRC 0xcafebabe, SEQ 0x1234, 16 bytes of 0xab.
t.test('the libsrtp reference packet', async (t) => {
  const sender = new SrtpSender('AES_CM_128_HMAC_SHA1_80', MASTER)
  const plain = hex('800f1234decafbadcafebabe' + 'ab'.repeat(16))
  const buf = Buffer.alloc(plain.length + 10)
  plain.copy(buf)
  const n = sender.protect(buf, plain.length)
  t.equal(buf.subarray(0, n).toString('hex'), '800f1234decafbadcafebabe' + '4e55dc4ce79978d88ca4d215949d2402' + 'b78d6acc99ea179b8dbb')
  const back = new SrtpReceiver('AES_CM_128_HMAC_SHA1_80', MASTER).unprotect(buf.subarray(0, n))
  t.same(back, plain)
})

for (const suite of ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'] as const) {
  t.test(`${suite}: round trip across the sequence number wrap`, async (t) => {
    const key = Buffer.from(newMasterKey(suite), 'base64')
    const sender = new SrtpSender(suite, key)
    const receiver = new SrtpReceiver(suite, key)
    t.equal(sender.overhead, suite.endsWith('80') ? 10 : 4)
    let seq = 65530
    for (let i = 0; i < 12; i++) {
      const payload = Buffer.alloc(160, i + 1)
      const srtp = protect(sender, seq, payload)
      t.not(srtp.subarray(12, 172).toString('hex'), payload.toString('hex'), 'the payload is encrypted')
      const back = receiver.unprotect(srtp)
      if (typeof back === 'string') t.fail(`packet ${seq}: ${back}`)
      else t.same(back.subarray(12), payload, `packet ${seq} decrypted`)
      seq = add16(seq, 1)
    }
  })
}

t.test('after the wrap the ROC is 1: the keystream differs from the same SEQ before it', async (t) => {
  const sender = new SrtpSender('AES_CM_128_HMAC_SHA1_80', MASTER)
  const first = protect(sender, 5, Buffer.alloc(16))
  for (let s = 6; s < 65536 + 5; s += 1000) protect(sender, s & 0xffff, Buffer.alloc(16))
  const again = protect(new SrtpSender('AES_CM_128_HMAC_SHA1_80', MASTER), 5, Buffer.alloc(16))
  t.same(first, again, 'deterministic for the same index')
  const afterWrap = protect(sender, 5, Buffer.alloc(16))
  t.not(afterWrap.toString('hex'), first.toString('hex'), 'index 65541 is not index 5')
  // a receiver that followed the stream decrypts it; its ROC advanced with the wrap
  const receiver = new SrtpReceiver('AES_CM_128_HMAC_SHA1_80', MASTER)
  const s2 = new SrtpSender('AES_CM_128_HMAC_SHA1_80', MASTER)
  for (let s = 60000; s < 65536 + 100; s += 500) {
    const r = receiver.unprotect(protect(s2, s & 0xffff, Buffer.alloc(16, 7)))
    t.type(r, Buffer, `index ${s} accepted`)
  }
})

t.test('reordered packets around the wrap keep their ROC', async (t) => {
  const sender = new SrtpSender('AES_CM_128_HMAC_SHA1_80', MASTER)
  const receiver = new SrtpReceiver('AES_CM_128_HMAC_SHA1_80', MASTER)
  const packets = [65533, 65534, 65535, 0, 1, 2].map((s) => protect(sender, s, Buffer.alloc(20, s & 0xff)))
  for (const i of [0, 1, 3, 2, 5, 4]) t.type(receiver.unprotect(Buffer.from(packets[i])), Buffer, `packet ${i} (late ones too)`)
})

t.test('tampered, truncated, foreign-keyed and garbage packets are refused, never thrown', async (t) => {
  const sender = new SrtpSender('AES_CM_128_HMAC_SHA1_80', MASTER)
  const receiver = new SrtpReceiver('AES_CM_128_HMAC_SHA1_80', MASTER)
  const good = protect(sender, 100, Buffer.alloc(160, 3))
  for (const at of [1, 3, 8, 12, 100, good.length - 1]) {
    const bad = Buffer.from(good)
    bad[at] ^= 0x01
    t.equal(receiver.unprotect(bad), 'auth', `a bit flipped at byte ${at}`)
  }
  t.equal(receiver.unprotect(good.subarray(0, 15)), 'malformed', 'shorter than a header and a tag')
  t.equal(receiver.unprotect(Buffer.alloc(0)), 'malformed')
  const other = new SrtpSender('AES_CM_128_HMAC_SHA1_80', Buffer.from(newMasterKey('AES_CM_128_HMAC_SHA1_80'), 'base64'))
  t.equal(receiver.unprotect(protect(other, 101, Buffer.alloc(160))), 'auth', 'another key')
  for (let i = 0; i < 200; i++) {
    const junk = Buffer.from(Array.from({ length: (i * 7) % 300 }, (_, j) => (i * 31 + j * 17) & 0xff))
    const r = receiver.unprotect(junk)
    t.ok(typeof r === 'string', `junk ${i}`)
  }
  t.type(receiver.unprotect(Buffer.from(good)), Buffer, 'the untouched packet still authenticates')
})

t.test('replays are refused; packets older than the window too', async (t) => {
  const sender = new SrtpSender('AES_CM_128_HMAC_SHA1_80', MASTER)
  const receiver = new SrtpReceiver('AES_CM_128_HMAC_SHA1_80', MASTER)
  const packets = Array.from({ length: 300 }, (_, i) => protect(sender, 1000 + i, Buffer.alloc(10, i & 0xff)))
  t.type(receiver.unprotect(Buffer.from(packets[0])), Buffer)
  t.equal(receiver.unprotect(Buffer.from(packets[0])), 'replay', 'the same packet again')
  t.type(receiver.unprotect(Buffer.from(packets[299])), Buffer, 'a jump ahead')
  t.type(receiver.unprotect(Buffer.from(packets[250])), Buffer, 'late, inside the window, first time')
  t.equal(receiver.unprotect(Buffer.from(packets[250])), 'replay', 'late and replayed')
  t.equal(receiver.unprotect(Buffer.from(packets[100])), 'replay', 'older than the window')
})

t.test('each SSRC has its own index; a stream with another SSRC authenticates', async (t) => {
  const receiver = new SrtpReceiver('AES_CM_128_HMAC_SHA1_32', MASTER)
  const a = new SrtpSender('AES_CM_128_HMAC_SHA1_32', MASTER)
  const b = new SrtpSender('AES_CM_128_HMAC_SHA1_32', MASTER)
  t.type(receiver.unprotect(protect(a, 10, Buffer.alloc(4), 1)), Buffer)
  t.type(receiver.unprotect(protect(b, 40000, Buffer.alloc(4), 2)), Buffer)
  t.type(receiver.unprotect(protect(a, 11, Buffer.alloc(4), 1)), Buffer)
})
