// Owns the embedded PGlite instance. Its WebAssembly runs synchronously, so it lives on this
// thread and the media event loop only exchanges messages with it.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { parentPort, workerData } from 'node:worker_threads'
import { PGlite, type Transaction } from '@electric-sql/pglite'

export type WorkerRequest =
  | { id: number; op: 'query'; sql: string; params: unknown[]; tx?: number }
  | { id: number; op: 'exec'; sql: string; tx?: number }
  // The begin request's id names the transaction in later requests.
  | { id: number; op: 'begin' }
  | { id: number; op: 'commit' | 'rollback'; tx: number }
  | { id: number; op: 'close' }

export interface WireError {
  message: string
  code?: string
  detail?: string
  hint?: string
}

/** Id 0 answers start-up; rows is set for queries. */
export interface WorkerReply {
  id: number
  rows?: unknown[]
  error?: WireError
}

export interface WorkerData {
  dataDir: string
}

interface OpenTransaction {
  tx: Transaction
  finish: (commit: boolean) => void
  done: Promise<void>
}

const port = parentPort
if (!port) throw new Error('pglite-worker must run in a worker thread')
const { dataDir } = workerData as WorkerData
const transactions = new Map<number, OpenTransaction>()

function toWire(err: unknown): WireError {
  if (!(err instanceof Error)) return { message: String(err) }
  const { code, detail, hint } = err as Error & Partial<WireError>
  return { message: err.message, code, detail, hint }
}

let db: PGlite
try {
  const dir = join(dataDir, 'pglite')
  mkdirSync(dir, { recursive: true })
  db = await PGlite.create(dir)
} catch (err) {
  port.postMessage({ id: 0, error: toWire(err) } satisfies WorkerReply)
  port.close()
  throw err
}

function executor(tx: number | undefined): PGlite | Transaction {
  if (tx === undefined) return db
  const open = transactions.get(tx)
  if (!open) throw new Error(`no open transaction ${tx}`)
  return open.tx
}

// PGlite's transaction() holds its lock until the callback returns, so the callback waits here
// for the main thread's commit or rollback; other queries queue behind it as on one connection.
async function begin(id: number): Promise<void> {
  let finish!: (commit: boolean) => void
  const decision = new Promise<boolean>((resolve) => (finish = resolve))
  let started!: (tx: Transaction) => void
  const opened = new Promise<Transaction>((resolve) => (started = resolve))
  const done = db.transaction(async (tx) => {
    started(tx)
    if (!(await decision)) await tx.rollback()
  })
  // `done` settles first only when BEGIN itself failed, and then it rejects.
  const tx = (await Promise.race([opened, done])) as Transaction
  transactions.set(id, { tx, finish, done })
}

async function end(tx: number, commit: boolean): Promise<void> {
  const open = transactions.get(tx)
  if (!open) throw new Error(`no open transaction ${tx}`)
  transactions.delete(tx)
  open.finish(commit)
  await open.done
}

async function handle(req: WorkerRequest): Promise<unknown[] | undefined> {
  switch (req.op) {
    case 'query':
      return (await executor(req.tx).query(req.sql, req.params)).rows
    case 'exec':
      await executor(req.tx).exec(req.sql)
      return undefined
    case 'begin':
      await begin(req.id)
      return undefined
    case 'commit':
    case 'rollback':
      await end(req.tx, req.op === 'commit')
      return undefined
    case 'close':
      await db.close()
      return undefined
  }
}

port.on('message', (req: WorkerRequest) => {
  handle(req).then(
    (rows) => port.postMessage({ id: req.id, rows } satisfies WorkerReply),
    (err: unknown) => port.postMessage({ id: req.id, error: toWire(err) } satisfies WorkerReply),
  )
})
port.postMessage({ id: 0 } satisfies WorkerReply)
