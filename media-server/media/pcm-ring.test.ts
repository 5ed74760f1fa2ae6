import t from 'tap'
import { PcmRing } from './pcm-ring.ts'

const seq = (n: number, from: number) => Int16Array.from({ length: n }, (_, i) => from + i)

/** Every record now in the ring, copied out (the views are valid during the callback only). */
function readAll(ring: PcmRing): Array<{ nearEnd: boolean; pcm: number[]; line: number[] }> {
  const got: Array<{ nearEnd: boolean; pcm: number[]; line: number[] }> = []
  ring.read((nearEnd, pcm, line) => got.push({ nearEnd, pcm: [...pcm], line: [...line] }))
  return got
}

t.test('records come out whole and in order, across the wrap-around', async (t) => {
  const ring = new PcmRing(100)
  const consumer = new PcmRing(ring.buffer) // the other thread's view of the same memory
  let next = 0
  for (let round = 0; round < 20; round++) {
    // 3 + 20 + 10 = 33 slots a record: the ring wraps every third record
    t.equal(ring.write(true, seq(20, next), seq(10, 1000 + next)), true)
    t.equal(ring.write(false, seq(20, 2000 + next), new Int16Array(0)), true)
    const got = readAll(consumer)
    t.same(
      got.map((r) => r.nearEnd),
      [true, false],
      "the echo gate's verdict travels with the audio",
    )
    t.same(got[0].pcm, [...seq(20, next)])
    t.same(got[0].line, [...seq(10, 1000 + next)])
    t.same(got[1].pcm, [...seq(20, 2000 + next)])
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
  const got = readAll(ring)
  t.same(
    got.map((r) => r.pcm[0]),
    [0, 100],
    'the two records written, intact',
  )
  t.equal(ring.write(true, seq(40, 200), new Int16Array(0)), true, 'room again once read')
})

t.test("a record's space goes back to the producer only after the consumer is done with it", async (t) => {
  const ring = new PcmRing(100)
  t.equal(ring.write(true, seq(40, 0), seq(20, 500)), true)
  let whileReading: boolean | undefined
  let seen: number[] = []
  ring.read((_nearEnd, pcm) => {
    // the ring is full to 63 of 100 slots: a second record must not land on the one being read
    whileReading = ring.write(false, seq(40, 900), new Int16Array(0))
    seen = [...pcm]
  })
  t.equal(whileReading, false, 'no room while the record is read in place')
  t.same(seen, [...seq(40, 0)], 'and the record read was intact')
  t.equal(ring.write(false, seq(40, 900), new Int16Array(0)), true, 'room once read')
})

t.test('a handler that throws consumes its record: the next read goes on from the one after', async (t) => {
  const ring = new PcmRing(100)
  ring.write(true, seq(10, 0), new Int16Array(0))
  ring.write(true, seq(10, 100), new Int16Array(0))
  t.throws(() =>
    ring.read(() => {
      throw new Error('handler bug')
    }),
  )
  t.same(
    readAll(ring).map((r) => r.pcm[0]),
    [100],
  )
})
