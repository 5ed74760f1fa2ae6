import t from 'tap'
import { PcmRing } from './pcm-ring.ts'

const seq = (n: number, from: number) => Int16Array.from({ length: n }, (_, i) => from + i)

t.test('records come out whole and in order, across the wrap-around', async (t) => {
  const ring = new PcmRing(100)
  const consumer = new PcmRing(ring.buffer) // the other thread's view of the same memory
  let next = 0
  for (let round = 0; round < 20; round++) {
    // 3 + 20 + 10 = 33 slots a record: the ring wraps every third record
    t.equal(ring.write(true, seq(20, next), seq(10, 1000 + next)), true)
    t.equal(ring.write(false, seq(20, 2000 + next), new Int16Array(0)), true)
    const got = [...consumer.read()]
    t.same(
      got.map((r) => r.nearEnd),
      [true, false],
      "the echo gate's verdict travels with the audio",
    )
    t.same([...got[0].pcm], [...seq(20, next)])
    t.same([...got[0].line], [...seq(10, 1000 + next)])
    t.same([...got[1].pcm], [...seq(20, 2000 + next)])
    next += 20
  }
  t.equal(ring.dropped, 0)
})

t.test('a full ring drops the new record and counts it; unread audio is never overwritten', async (t) => {
  const ring = new PcmRing(100)
  t.equal(ring.write(true, seq(40, 0), new Int16Array(0)), true)
  t.equal(ring.write(true, seq(40, 100), new Int16Array(0)), true)
  t.equal(ring.write(true, seq(40, 200), new Int16Array(0)), false, '129 slots do not fit in 100')
  t.equal(ring.dropped, 1)
  const got = [...ring.read()]
  t.same(
    got.map((r) => r.pcm[0]),
    [0, 100],
    'the two records written, intact',
  )
  t.equal(ring.write(true, seq(40, 200), new Int16Array(0)), true, 'room again once read')
})
