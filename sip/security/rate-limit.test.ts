import t from 'tap'
import { RateLimiter } from './rate-limit.ts'

t.test('onBan hears of each ban made here; ban() imposes one made elsewhere without telling it again', async (t) => {
  let now = 0
  const heard: Array<[string, number]> = []
  const rl = new RateLimiter({ windowMs: 1000, max: 2, banMs: 5000, now: () => now, onBan: (s, ms) => heard.push([s, ms]) })
  t.equal(rl.hit('a'), 'ok')
  t.equal(rl.hit('a'), 'ok')
  t.equal(rl.hit('a'), 'banned-now')
  t.equal(rl.hit('a'), 'banned')
  t.same(heard, [['a', 5000]], 'told once, when it went over')
  rl.ban('b', 3000)
  t.equal(rl.hit('b'), 'banned', 'a ban from another instance drops its requests')
  t.equal(rl.banned, 2)
  t.same(heard.length, 1, 'not told of a ban it was given')
  rl.ban('a', 1000)
  now = 4000
  t.equal(rl.hit('a'), 'banned', 'a shorter ban does not cut a longer one')
  now = 5001
  t.equal(rl.hit('b'), 'ok', 'the given ban ends after its time')
})
