import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import type { Test } from 'tap'

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

export interface TestRedis {
  url: string
  /** a key prefix of this test alone (parallel runs share the server, never a key) */
  prefix: string
  /** a connection for the test's own looks, closed at teardown */
  client: Redis
}

/**
 * The test Redis server with a fresh key prefix, whose keys are deleted at teardown. Null (with one
 * visible line) when no server answers; with CI=true that is a failure, not a skip.
 */
export async function testRedis(t: Test): Promise<TestRedis | null> {
  const client = new Redis(TEST_REDIS_URL, {
    lazyConnect: true,
    connectTimeout: 2000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.ping()
  } catch (err) {
    client.disconnect()
    const line = `Redis server at ${TEST_REDIS_URL} not reachable (${(err as Error).message})`
    if (process.env.CI === 'true') t.fail(`${line}: CI=true requires it`)
    else {
      console.error(`# ${line}: test skipped`)
      t.pass('skipped', { skip: line })
    }
    return null
  }
  const prefix = `test-${randomBytes(6).toString('hex')}:`
  t.teardown(async () => {
    let cursor = '0'
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      cursor = next
      if (keys.length) await client.del(...keys)
    } while (cursor !== '0')
    client.disconnect()
  })
  return { url: TEST_REDIS_URL, prefix, client }
}

/** A port on loopback where nothing listens: a Redis that is down. */
export const DEAD_REDIS_URL = 'redis://127.0.0.1:1'
