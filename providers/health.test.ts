import t from 'tap'
import { ProviderHealth } from './health.ts'
import { ProviderError } from './types.ts'

function clock() {
  let ms = 1_000_000
  return { now: () => ms, advance: (d: number) => (ms += d) }
}

t.test('a failure starts a backoff that doubles up to the ceiling; a success clears it', async (t) => {
  const c = clock()
  const h = new ProviderHealth({ baseBackoffMs: 2000, maxBackoffMs: 10_000, now: c.now })
  t.ok(h.isHealthy('a'), 'never failed: healthy')
  const backoffs: number[] = []
  for (let i = 0; i < 5; i++) {
    h.failure('a', new ProviderError('a', 'timeout', 'no audio'))
    backoffs.push(h.state('a').retryAt! - c.now())
    t.notOk(h.isHealthy('a'), `unhealthy right after failure ${i + 1}`)
    c.advance(backoffs[i] - 1)
    t.notOk(h.isHealthy('a'), 'still unhealthy 1 ms before the backoff ends')
    c.advance(1)
    t.ok(h.isHealthy('a'), 'healthy again once the backoff has passed (probe)')
  }
  t.same(backoffs, [2000, 4000, 8000, 10_000, 10_000])
  t.equal(h.state('a').failures, 5)
  t.match(h.state('a').lastError, /no audio/)
  h.success('a')
  t.same(h.state('a'), { healthy: true, failures: 0 })
  h.failure('a', new Error('boom'))
  t.equal(h.state('a').retryAt! - c.now(), 2000, 'after a success the backoff starts from the base again')
})

t.test('our own cancellation is not a failure; providers are tracked separately', async (t) => {
  const h = new ProviderHealth()
  t.equal(h.failure('a', new ProviderError('a', 'cancelled', 'barge-in')), false)
  t.ok(h.isHealthy('a'))
  t.equal(h.failure('a', new ProviderError('a', 'disconnected', 'dropped')), true)
  t.notOk(h.isHealthy('a'))
  t.ok(h.isHealthy('b'))
})

t.test('defaults are 2 s doubling to 60 s; a bad backoff is refused', async (t) => {
  const h = new ProviderHealth()
  t.equal(h.baseBackoffMs, 2000)
  t.equal(h.maxBackoffMs, 60_000)
  t.throws(() => new ProviderHealth({ baseBackoffMs: 0 }), /backoff/)
  t.throws(() => new ProviderHealth({ baseBackoffMs: 5000, maxBackoffMs: 1000 }), /backoff/)
})
