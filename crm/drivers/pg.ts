import { userInfo } from 'node:os'
import pg from 'pg'
import type { Logger } from 'pino'
import type { SqlDriver, SqlExecutor, SqlResult } from '../sql-driver.ts'

export interface PgDriverOptions {
  connectionString: string
  /** Keep all tables in this schema (created if missing); tests use it to isolate runs. */
  schema?: string
  logger?: Logger
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]*$/

/**
 * The URL with a user filled in when neither it nor PGUSER/USER names one: libpq (psql) then uses
 * the OS account, pg sends no user at all and the server refuses. USER is often unset in
 * containers and CI, so without this a URL that works in psql fails here.
 */
export function withDefaultUser(connectionString: string): string {
  if (process.env.PGUSER || process.env.USER) return connectionString
  let url: URL
  try {
    url = new URL(connectionString)
  } catch {
    return connectionString // not a URL form pg parses this way; leave it to pg
  }
  // A URL without a host (Unix socket in the query) cannot carry a user.
  if (url.username || !url.hostname) return connectionString
  url.username = encodeURIComponent(userInfo().username)
  return url.href
}

function executor(client: pg.Pool | pg.PoolClient): SqlExecutor {
  return {
    async query<T>(sql: string, params?: unknown[]): Promise<SqlResult<T>> {
      const res = await client.query(sql, params)
      return { rows: res.rows as T[] }
    },
    async exec(sql: string): Promise<void> {
      // Without parameters pg uses the simple query protocol, which allows several statements.
      await client.query(sql)
    },
  }
}

/** A Postgres server behind a pg.Pool. */
export async function openPgDriver(opts: PgDriverOptions): Promise<SqlDriver> {
  if (opts.schema !== undefined && !SCHEMA_NAME.test(opts.schema)) {
    throw new Error(`invalid schema name ${JSON.stringify(opts.schema)}: use lower-case letters, digits and _`)
  }
  const pool = new pg.Pool({
    connectionString: withDefaultUser(opts.connectionString),
    // A server that is down must fail queries (and /health) quickly, not hang them.
    connectionTimeoutMillis: 5000,
    // A connection that goes silent mid-query (a network partition, not a refusal) must fail the
    // query rather than hold a call's final record for ever; the durable store then journals it.
    query_timeout: 30_000,
    // Every pooled connection starts with the schema on its search_path.
    ...(opts.schema !== undefined && { options: `-c search_path=${opts.schema}` }),
  })
  // An idle connection dropped by the server emits 'error' on the pool; unhandled, it would end the process.
  pool.on('error', (err) => opts.logger?.warn({ err }, 'idle Postgres connection failed'))
  if (opts.schema !== undefined) {
    try {
      await pool.query(`CREATE SCHEMA IF NOT EXISTS ${opts.schema}`)
    } catch (err) {
      await pool.end()
      throw err
    }
  }

  return {
    ...executor(pool),
    async transaction<R>(fn: (tx: SqlExecutor) => Promise<R>): Promise<R> {
      const client = await pool.connect()
      let broken: Error | undefined
      try {
        await client.query('BEGIN')
        const result = await fn(executor(client))
        await client.query('COMMIT')
        return result
      } catch (err) {
        await client.query('ROLLBACK').catch((rollbackErr: Error) => {
          broken = rollbackErr
        })
        throw err
      } finally {
        // A connection that could not roll back is discarded rather than returned to the pool.
        client.release(broken)
      }
    },
    close: () => pool.end(),
  }
}
