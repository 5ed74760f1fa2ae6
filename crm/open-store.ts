import type { Logger } from 'pino';
import { CallStore } from './call-store.ts';
import { openPgDriver } from './drivers/pg.ts';
import { openPgliteDriver } from './drivers/pglite.ts';
import { migrate } from './migrate.ts';

export interface OpenStoreOptions {
  /** A Postgres server; when unset the embedded PGlite in dataDir is used. */
  databaseUrl?: string;
  /** Postgres schema for all tables (server only); tests use it to isolate runs. */
  databaseSchema?: string;
  dataDir: string;
  logger?: Logger;
}

/** Opens the call records store and brings its schema up to date. */
export async function openStore(opts: OpenStoreOptions): Promise<CallStore> {
  const { logger } = opts;
  const driver = opts.databaseUrl
    ? await openPgDriver({ connectionString: opts.databaseUrl, schema: opts.databaseSchema, logger })
    : await openPgliteDriver({ dataDir: opts.dataDir, logger });
  try {
    const applied = await migrate(driver);
    for (const m of applied) logger?.info({ version: m.version, name: m.name }, 'applied database migration');
  } catch (err) {
    await driver.close();
    throw err;
  }
  return new CallStore(driver);
}
