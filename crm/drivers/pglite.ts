import type { Worker } from 'node:worker_threads'
import { startWorker } from '../../threads/worker-thread.ts'
import type { Logger } from 'pino'
import { SqlError, type SqlDriver, type SqlExecutor, type SqlResult } from '../sql-driver.ts'
import type { WorkerData, WorkerReply, WorkerRequest } from './pglite-worker.ts'

export interface PgliteDriverOptions {
  /** The database lives in `${dataDir}/pglite`. */
  dataDir: string
  logger?: Logger
}

// Node 20 does not carry tsx's module hooks (from --import tsx) into worker threads (tsx#354),
// so the worker loads its TypeScript entry through tsx's own scoped loader. Resolved on first
// use so that a server-only setup does not depend on it.
type Pending = { resolve: (rows: unknown[] | undefined) => void; reject: (err: Error) => void }
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never
type WorkerCall = DistributiveOmit<WorkerRequest, 'id'>

/** Embedded PGlite running in a worker thread. */
class PgliteWorkerDriver implements SqlDriver {
  private readonly worker: Worker
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  /** Set once the worker is gone; every later request fails with it. */
  private dead: Error | undefined
  private readonly started: Promise<void>
  private readonly outsideTransaction = this.executor(undefined)

  static async open(opts: PgliteDriverOptions): Promise<PgliteWorkerDriver> {
    const driver = new PgliteWorkerDriver(opts)
    try {
      await driver.started
    } catch (err) {
      await driver.worker.terminate()
      throw err
    }
    return driver
  }

  private constructor(opts: PgliteDriverOptions) {
    const workerData: WorkerData = { dataDir: opts.dataDir }
    this.worker = startWorker(new URL('./pglite-worker.ts', import.meta.url), { workerData, threadName: 'pglite' })
    this.started = new Promise((resolve, reject) => this.pending.set(0, { resolve: () => resolve(), reject }))
    this.worker.on('message', (reply: WorkerReply) => this.settle(reply))
    this.worker.on('error', (err) => {
      opts.logger?.error({ err }, 'PGlite worker failed')
      this.fail(err)
    })
    this.worker.on('exit', (code) => this.fail(new Error(`PGlite worker exited (code ${code})`)))
  }

  query<T>(sql: string, params: unknown[] = []): Promise<SqlResult<T>> {
    return this.outsideTransaction.query<T>(sql, params)
  }

  exec(sql: string): Promise<void> {
    return this.outsideTransaction.exec(sql)
  }

  async transaction<R>(fn: (tx: SqlExecutor) => Promise<R>): Promise<R> {
    const tx = this.nextId++
    await this.request({ op: 'begin' }, tx)
    let result: R
    try {
      result = await fn(this.executor(tx))
    } catch (err) {
      // fn's error is the one worth reporting; a failed rollback only means the worker is gone.
      await this.request({ op: 'rollback', tx }).catch(() => undefined)
      throw err
    }
    await this.request({ op: 'commit', tx })
    return result
  }

  async close(): Promise<void> {
    if (this.dead) return
    await this.request({ op: 'close' })
    this.dead = new Error('PGlite driver is closed')
    await this.worker.terminate()
  }

  private executor(tx: number | undefined): SqlExecutor {
    return {
      query: async <T>(sql: string, params: unknown[] = []) => {
        const rows = await this.request({ op: 'query', sql, params, tx })
        return { rows: rows as T[] }
      },
      exec: async (sql: string) => {
        await this.request({ op: 'exec', sql, tx })
      },
    }
  }

  private request(req: WorkerCall, id = this.nextId++): Promise<unknown[] | undefined> {
    if (this.dead) return Promise.reject(this.dead)
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      this.worker.postMessage({ ...req, id })
    })
  }

  private settle(reply: WorkerReply): void {
    const pending = this.pending.get(reply.id)
    if (!pending) return
    this.pending.delete(reply.id)
    if (reply.error) pending.reject(new SqlError(reply.error))
    else pending.resolve(reply.rows)
  }

  private fail(err: Error): void {
    this.dead ??= err
    for (const pending of this.pending.values()) pending.reject(err)
    this.pending.clear()
  }
}

/** Starts the PGlite worker and resolves once the database is open. */
export function openPgliteDriver(opts: PgliteDriverOptions): Promise<SqlDriver> {
  return PgliteWorkerDriver.open(opts)
}
