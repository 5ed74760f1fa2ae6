import { readdir, readFile } from 'node:fs/promises'
import type { SqlDriver } from './sql-driver.ts'

export interface Migration {
  version: number
  name: string
  sql: string
}

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url)
const FILE_NAME = /^(\d+)_([\w-]+)\.sql$/
// Arbitrary key for pg_advisory_xact_lock: serialises runners that start together on one server.
const MIGRATION_LOCK_KEY = 7_351_004_211

/** Reads `NNN_name.sql` files from dir, ordered by version. */
export async function loadMigrations(dir: URL = MIGRATIONS_DIR): Promise<Migration[]> {
  const migrations: Migration[] = []
  for (const file of await readdir(dir)) {
    if (!file.endsWith('.sql')) continue
    const m = FILE_NAME.exec(file)
    if (!m) throw new Error(`migration file ${file} is not named NNN_name.sql`)
    migrations.push({ version: Number(m[1]), name: m[2], sql: await readFile(new URL(file, dir), 'utf8') })
  }
  migrations.sort((a, b) => a.version - b.version)
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i].version === migrations[i - 1].version) {
      throw new Error(`two migrations share version ${migrations[i].version}`)
    }
  }
  return migrations
}

/**
 * Applies the migrations not yet recorded in schema_migrations, all in one transaction, and
 * returns the versions applied now (empty when the schema was already current).
 */
export async function migrate(driver: SqlDriver, migrations?: Migration[]): Promise<Migration[]> {
  const all = migrations ?? (await loadMigrations())
  return driver.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY])
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`)
    const { rows } = await tx.query<{ version: number }>('SELECT version FROM schema_migrations')
    const applied = new Set(rows.map((r) => r.version))
    const pending = all.filter((m) => !applied.has(m.version))
    for (const m of pending) {
      try {
        await tx.exec(m.sql)
      } catch (err) {
        throw new Error(`migration ${m.version}_${m.name} failed: ${(err as Error).message}`, { cause: err })
      }
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name])
    }
    return pending
  })
}
