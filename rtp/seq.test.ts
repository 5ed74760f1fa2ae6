import t from 'tap'
import { add16, add32, seqDiff, seqNewer, tsDiff } from './seq.ts'

// Expected values follow RFC 1982 section 3.2 (serial number comparison, SERIAL_BITS = 16 for
// RTP sequence numbers) and RFC 3550 Appendix A.1, where the sequence number wraps from 65535
// to 0 and the 32-bit timestamp from 0xFFFFFFFF to 0.

t.test('seqNewer follows RFC 1982 comparison', async (t) => {
  t.equal(seqNewer(1, 0), true)
  t.equal(seqNewer(0, 1), false)
  t.equal(seqNewer(5, 5), false, 'equal is not newer')
  t.equal(seqNewer(0, 65535), true, '65535 -> 0 wrap')
  t.equal(seqNewer(65535, 0), false)
  t.equal(seqNewer(10, 65530), true, 'across the wrap, 16 apart')
  t.equal(seqNewer(32767, 0), true, 'largest forward distance 2^15 - 1')
  t.equal(seqNewer(32768, 0), false, 'exactly 2^15 apart is undefined: not newer')
  t.equal(seqNewer(0, 32768), false, 'and not newer the other way either')
  t.equal(seqNewer(32769, 0), false, 'more than 2^15 ahead means behind')
})

t.test('seqDiff is the signed 16-bit distance', async (t) => {
  t.equal(seqDiff(0, 65535), 1)
  t.equal(seqDiff(65535, 0), -1)
  t.equal(seqDiff(100, 90), 10)
  t.equal(seqDiff(90, 100), -10)
  t.equal(seqDiff(5, 65530), 11)
  t.equal(seqDiff(32767, 0), 32767)
  t.equal(seqDiff(32768, 0), -32768)
  t.equal(seqDiff(7, 7), 0)
})

t.test('tsDiff is the signed 32-bit distance', async (t) => {
  t.equal(tsDiff(0, 0xffffffff), 1, '0xFFFFFFFF -> 0 wrap')
  t.equal(tsDiff(0xffffffff, 0), -1)
  t.equal(tsDiff(160, 0xffffff60), 320, 'two 20 ms PCMU frames across the wrap')
  t.equal(tsDiff(1000, 840), 160)
  t.equal(tsDiff(0x7fffffff, 0), 0x7fffffff)
  t.equal(tsDiff(0x80000000, 0), -0x80000000)
})

t.test('add16 and add32 wrap', async (t) => {
  t.equal(add16(65535, 1), 0)
  t.equal(add16(65530, 10), 4)
  t.equal(add16(0, -1), 65535)
  t.equal(add16(100, 1), 101)
  t.equal(add32(0xffffffff, 1), 0)
  t.equal(add32(0xffffff60, 320), 160)
  t.equal(add32(0, -160), 0xffffff60)
  t.equal(add32(0x80000000, 0x80000000), 0)
  t.equal(add32(123, 160), 283)
})

t.test('walking the whole sequence space keeps each step newer by one', async (t) => {
  let s = 65000
  let bad = 0
  for (let i = 0; i < 70000; i++) {
    const next = add16(s, 1)
    if (!seqNewer(next, s) || seqDiff(next, s) !== 1) bad++
    s = next
  }
  t.equal(bad, 0)
})
