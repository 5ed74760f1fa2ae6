import t from 'tap'
import { PacingClock } from './pacing-clock.ts'

t.test('ticks are counted from the start and every subscriber gets each one', async (t) => {
  const clock = new PacingClock(10)
  const a: number[] = []
  const b: number[] = []
  clock.add({ onTick: (n) => a.push(n) })
  const sb = { onTick: (n: number) => b.push(n) }
  clock.add(sb)
  await new Promise((r) => setTimeout(r, 125))
  clock.remove(sb)
  const seenByB = b.length
  await new Promise((r) => setTimeout(r, 50))
  clock.stop()
  t.ok(a.length >= 10, `ticks delivered (${a.length})`)
  t.same(a.slice(0, 5), [1, 2, 3, 4, 5], 'consecutive tick numbers')
  t.equal(b.length, seenByB, 'a removed subscriber gets no more ticks')
})

t.test('a subscriber with everyTicks is called on those ticks only, in both phases', async (t) => {
  const clock = new PacingClock(5)
  const on: number[] = []
  const after: number[] = []
  clock.add({ everyTicks: 3, onTick: (n) => on.push(n), afterTick: (n) => after.push(n) })
  await new Promise((r) => setTimeout(r, 80))
  clock.stop()
  await new Promise((r) => setImmediate(r))
  t.ok(on.length >= 2, `called (${on.length} times)`)
  t.ok(
    on.every((n) => n % 3 === 0),
    `on ticks 3, 6, 9...: ${on.join(',')}`,
  )
  t.same(after, on, 'afterTick on the same ticks')
})

t.test('a subscriber that throws does not stop the clock for the others', async (t) => {
  const clock = new PacingClock(5)
  let ticks = 0
  let tickCalls = 0
  const faults: string[] = []
  clock.add({
    onTick: () => {
      tickCalls++
      throw new Error('boom')
    },
    onFault: (err, phase) => faults.push(`${phase}: ${(err as Error).message}`),
  })
  let afterCalls = 0
  clock.add({
    onTick: () => {},
    afterTick: () => {
      afterCalls++
      throw new Error('late boom')
    },
    onFault: (err, phase) => faults.push(`${phase}: ${(err as Error).message}`),
  })
  clock.add({ onTick: () => ticks++ })
  await new Promise((r) => setTimeout(r, 60))
  clock.stop()
  t.ok(ticks >= 5)
  // each faulty subscriber is told once and taken off the clock, instead of throwing every tick
  t.same(faults, ['tick: boom', 'after: late boom'])
  t.equal(tickCalls, 1)
  t.equal(afterCalls, 1)
})

t.test('after a stall the missed ticks are skipped, not delivered in a burst', async (t) => {
  const late: number[] = []
  const clock = new PacingClock(10, (ms) => late.push(ms))
  const ticks: number[] = []
  clock.add({ onTick: (n) => ticks.push(n) })
  await new Promise((r) => setTimeout(r, 35))
  const stallUntil = Date.now() + 100
  while (Date.now() < stallUntil); // block the event loop for 100 ms
  await new Promise((r) => setTimeout(r, 30))
  clock.stop()
  const jump = ticks.findIndex((n, i) => i > 0 && n - ticks[i - 1] > 1)
  t.ok(jump > 0, `tick numbers jump over the stall (${ticks.join(',')})`)
  t.ok(Math.max(...late) >= 50, 'the stall shows up as lateness')
})

t.test('the clock stops when its last subscriber leaves', async (t) => {
  let late = 0
  const clock = new PacingClock(5, () => late++)
  const s = { onTick() {} }
  clock.add(s)
  await new Promise((r) => setTimeout(r, 30))
  clock.remove(s)
  const seen = late
  await new Promise((r) => setTimeout(r, 30))
  t.equal(late, seen, 'no ticks while nobody listens')
})

t.test('every subscriber sends before any of them processes', async (t) => {
  const clock = new PacingClock(10)
  const order: string[] = []
  const make = (name: string) => ({ onTick: () => order.push(`${name}.send`), afterTick: () => order.push(`${name}.work`) })
  const a = make('a')
  const b = make('b')
  clock.add(a)
  clock.add(b)
  await new Promise((r) => setTimeout(r, 15))
  clock.remove(a)
  clock.remove(b)
  t.same(order.slice(0, 4), ['a.send', 'b.send', 'a.work', 'b.work'])
})
