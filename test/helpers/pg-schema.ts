import { randomUUID } from 'node:crypto'
import pg from 'pg'
import type { Test } from 'tap'
import { withDefaultUser } from '../../crm/drivers/pg.ts'

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://127.0.0.1:5432/test'

export interface TestSchema {
  /** Queries in the schema (straight to the server, not through any proxy). */
  query<T = any>(sql: string, params?: unknown[]): Promise<T[]>
  /** A DATABASE_URL for the server under test, all tables in the schema; `via` replaces host:port. */
  url(via?: { host: string; port: number }): string
  /** The real server's address. */
  target: { host: string; port: number }
}

/**
 * A fresh schema on the test Postgres server, dropped at teardown. Null (with one visible line)
 * when no server answers; with CI=true that is a failure, not a skip.
 */
export async function testSchema(t: Test): Promise<TestSchema | null> {
  const client = new pg.Client({ connectionString: withDefaultUser(TEST_DATABASE_URL), connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
  } catch (err) {
    if (err instanceof pg.DatabaseError) throw err
    const line = `Postgres server at ${TEST_DATABASE_URL} not reachable (${(err as Error).message})`
    if (process.env.CI === 'true') t.fail(`${line}: CI=true requires it`)
    else {
      console.error(`# ${line}: test skipped`)
      t.pass('skipped', { skip: line })
    }
    return null
  }
  const schema = `storage_test_${randomUUID().replaceAll('-', '')}`
  await client.query(`CREATE SCHEMA ${schema}`)
  await client.query(`SET search_path = ${schema}`)
  t.teardown(async () => {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await client.end()
  })
  const base = new URL(withDefaultUser(TEST_DATABASE_URL))
  return {
    query: async (sql, params) => (await client.query(sql, params)).rows,
    url(via) {
      const u = new URL(base.href)
      if (via) {
        u.hostname = via.host
        u.port = String(via.port)
      }
      // libpq's options parameter: every pooled connection starts with the schema on its path
      u.searchParams.set('options', `-c search_path=${schema}`)
      return u.href
    },
    target: { host: base.hostname || '127.0.0.1', port: Number(base.port || 5432) },
  }
}
