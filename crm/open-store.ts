import { randomUUID } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { CallStore } from './call-store.ts'
import { DurableCallStore, type JournalHooks } from './durable-store.ts'
import { Journal } from './journal.ts'
import { openPgDriver } from './drivers/pg.ts'
import { openPgliteDriver } from './drivers/pglite.ts'
import { migrate } from './migrate.ts'

export interface OpenStoreOptions {
  /** A Postgres server; when unset the embedded PGlite in dataDir is used. */
  databaseUrl?: string
  /** Postgres schema for all tables (server only); tests use it to isolate runs. */
  databaseSchema?: string
  dataDir: string
  logger?: Logger
}

/** Opens the call records store and brings its schema up to date. */
export async function openStore(opts: OpenStoreOptions): Promise<CallStore> {
  const { logger } = opts
  const driver = opts.databaseUrl
    ? await openPgDriver({ connectionString: opts.databaseUrl, schema: opts.databaseSchema, logger })
    : await openPgliteDriver({ dataDir: opts.dataDir, logger })
  try {
    const applied = await migrate(driver)
    for (const m of applied) logger?.info({ version: m.version, name: m.name }, 'applied database migration')
  } catch (err) {
    await driver.close()
    throw err
  }
  return new CallStore(driver)
}

export interface OpenDurableStoreOptions extends OpenStoreOptions {
  /** Counters for the journal (metrics). */
  hooks?: JournalHooks
  /** Longest wait between replay attempts while the database is down, ms. */
  retryMaxMs?: number
}

/**
 * The store the server uses: writes that cannot reach the database wait in a journal in
 * DATA_DIR/journal and are replayed once it answers (crm/durable-store.ts). What an earlier
 * process left in the journal is replayed before this resolves, when the database answers.
 */
export async function openDurableStore(opts: OpenDurableStoreOptions): Promise<DurableCallStore> {
  const plain = await openStore(opts)
  const journal = await Journal.open(join(opts.dataDir, 'journal'))
  const store = new DurableCallStore(plain.driver, {
    journal,
    instanceId: await instanceId(opts.dataDir),
    logger: opts.logger,
    hooks: opts.hooks,
    retryMaxMs: opts.retryMaxMs,
  })
  if (store.pending) {
    opts.logger?.info({ pending: store.pending }, 'replaying the journal left by the last run')
    await store.replay()
  }
  return store
}

/**
 * This instance's id: made once and kept in DATA_DIR/instance-id, so a restart with the same
 * DATA_DIR is the same instance (and owns the rows its predecessor left open), while instances
 * sharing one Postgres server, each with its own DATA_DIR, never touch each other's rows.
 */
export async function instanceId(dataDir: string): Promise<string> {
  const file = join(dataDir, 'instance-id')
  try {
    const id = (await readFile(file, 'utf8')).trim()
    if (id) return id
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  await mkdir(dataDir, { recursive: true })
  const id = `${hostname()}-${randomUUID()}`
  await writeFile(file, id + '\n')
  return id
}
