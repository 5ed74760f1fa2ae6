import type { Logger } from 'pino'
import {
  CallStore,
  inTransaction,
  type CallDetail,
  type CallPatch,
  type CallSummary,
  type LeadInput,
  type ListCallsOptions,
  type NewCall,
  type NewDtmf,
  type NewTurn,
} from './call-store.ts'
import type { Journal, JournalEntry } from './journal.ts'
import type { OutboxStep } from './outbox/outbox-store.ts'
import type { SqlDriver, SqlExecutor } from './sql-driver.ts'

/** Counters the process exports (prom-client lives in media-server/, not here). */
export interface JournalHooks {
  journalled?(op: string): void
  replayed?(n: number): void
  rejected?(op: string): void
}

export interface DurableStoreOptions {
  journal: Journal
  /** Written into every new call row; crash recovery closes only this instance's rows. */
  instanceId: string
  logger?: Logger
  hooks?: JournalHooks
  /** Replay retry backoff: first and longest wait, ms. */
  retryMinMs?: number
  retryMaxMs?: number
}

/** The writes a call makes, replayable by name. */
const WRITES = ['createCall', 'updateCall', 'addTurn', 'appendTurns', 'addDtmf', 'appendDtmf', 'saveLead', 'setLeadSummary', 'finishCall'] as const
type WriteOp = (typeof WRITES)[number]

// Node's socket errors, and the SQLSTATE classes that mean "the server is not there right now":
// 08 connection exception, 57P01-03 shutdown / cannot connect now, 53300 too many connections.
const NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNABORTED'])
const NET_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended|not queryable|Cannot use a pool after calling end|Query read timeout/i

/**
 * True when the write may succeed later unchanged: the database could not be reached. False for
 * everything the database itself refused (constraint, SQL, "no call with id"): replaying those
 * would fail forever, so they are kept in rejected.ndjson instead of the journal.
 */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown; errors?: unknown[] } | null
  if (!e || typeof e !== 'object') return false
  const code = typeof e.code === 'string' ? e.code : ''
  if (NET_CODES.has(code) || code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300') return true
  if (Array.isArray(e.errors) && e.errors.some(isConnectionError)) return true // AggregateError (IPv4 and IPv6 both refused)
  return !code && typeof e.message === 'string' && NET_MESSAGES.test(e.message)
}

/** Dates travel through the journal as ISO strings; these bring them back per operation. */
function revive(op: WriteOp, args: unknown[]): unknown[] {
  const date = (v: unknown) => (typeof v === 'string' ? new Date(v) : v)
  if (op === 'createCall') {
    const c = args[0] as Record<string, unknown>
    return [{ ...c, startedAt: date(c.startedAt) }]
  }
  if (op === 'updateCall' || op === 'finishCall') {
    const p = { ...(args[1] as Record<string, unknown>) }
    for (const k of ['answeredAt', 'endedAt'] as const) if (p[k] !== undefined) p[k] = date(p[k])
    return op === 'finishCall' ? [args[0], p, args[2]] : [args[0], p]
  }
  return args
}

/** A CallStore on one transaction's connection, for replaying an entry inside it (finishCall joins it). */
function storeOn(tx: SqlExecutor): CallStore {
  return new CallStore(inTransaction(tx))
}

/**
 * The CallStore that calls use, made durable: a write that cannot reach the database goes to the
 * local journal instead (fsync'd), and the journal is replayed in order once the database is back.
 * While anything is journalled or a replay runs, new writes go to the journal too, behind what is
 * there, so a call's updateCall can never overtake its createCall. Replay is retried on a backoff
 * timer, and started at once when a read or a health check shows the database is back.
 *
 * Writes that were journalled resolve like written ones (addTurn returns 0: its seq is not known
 * yet; setLeadSummary returns true). Reads are not journalled: they fail while the database is down.
 */
export class DurableCallStore extends CallStore {
  private replaying: Promise<void> | undefined
  private timer: NodeJS.Timeout | undefined
  private retryMs: number
  private closed = false
  private lastError = ''
  private readonly journal: Journal
  private readonly log?: Logger
  private readonly hooks: JournalHooks
  private readonly retryMinMs: number
  private readonly retryMaxMs: number
  readonly instanceId: string

  constructor(
    private readonly sql: SqlDriver,
    opts: DurableStoreOptions,
  ) {
    super(sql)
    this.journal = opts.journal
    this.instanceId = opts.instanceId
    this.log = opts.logger?.child({ component: 'journal' })
    this.hooks = opts.hooks ?? {}
    this.retryMinMs = opts.retryMinMs ?? 500
    this.retryMaxMs = opts.retryMaxMs ?? 30_000
    this.retryMs = this.retryMinMs
  }

  /** Writes journalled and not yet in the database. */
  get pending(): number {
    return this.journal.size
  }

  /** Why the last write or replay could not reach the database ('' once one succeeded). */
  get lastConnectionError(): string {
    return this.lastError
  }

  override createCall(c: NewCall): Promise<void> {
    return this.write('createCall', [{ ...c, instanceId: c.instanceId ?? this.instanceId }], undefined)
  }
  override updateCall(id: string, patch: CallPatch): Promise<void> {
    return this.write('updateCall', [id, patch], undefined)
  }
  override addTurn(callId: string, t: NewTurn): Promise<number> {
    return this.write('addTurn', [callId, t], 0)
  }
  override appendTurns(callId: string, turns: NewTurn[]): Promise<void> {
    if (!turns.length) return Promise.resolve()
    return this.write('appendTurns', [callId, turns], undefined)
  }
  override appendDtmf(callId: string, events: NewDtmf[]): Promise<void> {
    if (!events.length) return Promise.resolve()
    return this.write('appendDtmf', [callId, events], undefined)
  }
  override addDtmf(callId: string, d: NewDtmf): Promise<void> {
    return this.write('addDtmf', [callId, d], undefined)
  }
  override saveLead(callId: string, l: LeadInput): Promise<void> {
    return this.write('saveLead', [callId, l], undefined)
  }
  /** The steps go into the journal with the record, so a replay enqueues what this call was due. */
  override finishCall(id: string, patch: CallPatch, steps: OutboxStep[] = this.outboxSteps): Promise<void> {
    return this.write('finishCall', [id, patch, steps], undefined)
  }
  override setLeadSummary(callId: string, summary: string): Promise<boolean> {
    return this.write('setLeadSummary', [callId, summary], true)
  }

  // A read that succeeds shows the database is back: the journal need not wait for its timer.
  override async listCalls(opts?: ListCallsOptions): Promise<CallSummary[]> {
    const r = await super.listCalls(opts)
    this.databaseIsBack()
    return r
  }
  override async getCall(id: string): Promise<CallDetail | null> {
    const r = await super.getCall(id)
    this.databaseIsBack()
    return r
  }

  override async ping(): Promise<boolean> {
    return (await this.check()) === 'ok'
  }

  /** 'ok', or 'down: <why>'; a database that answers starts a replay of what is journalled. */
  async check(): Promise<string> {
    try {
      await this.sql.query('SELECT 1')
    } catch (err) {
      return `down: ${(err as Error).message || (err as NodeJS.ErrnoException).code || String(err)}`
    }
    this.databaseIsBack()
    return 'ok'
  }

  /**
   * Replays the journal now and resolves when it is empty or the database failed again (then the
   * retry timer is set). Called at start, before crash recovery.
   */
  replay(): Promise<void> {
    if (this.replaying) return this.replaying
    const run: Promise<void> = this.drain().finally(() => {
      if (this.replaying === run) this.replaying = undefined
    })
    this.replaying = run
    return run
  }

  override async close(): Promise<void> {
    this.closed = true
    clearTimeout(this.timer)
    await this.replaying
    await this.journal.close()
    await super.close()
  }

  private async write<R>(op: WriteOp, args: unknown[], journalled: R): Promise<R> {
    // Straight to the database only while nothing waits in the journal: order is kept.
    if (this.journal.size === 0 && !this.replaying) {
      try {
        const r = await this.apply(this.viaSuper, op, args)
        this.lastError = ''
        return r as R
      } catch (err) {
        if (!isConnectionError(err)) {
          await this.keepRejected(op, args, err)
          throw err
        }
        this.lastError = (err as Error).message
        this.log?.warn({ err, op }, 'database unreachable: the write goes to the journal')
      }
    }
    await this.journal.append(op, args)
    this.hooks.journalled?.(op)
    this.schedule()
    return journalled
  }

  /** The base class's write methods (this instance's own would journal again). */
  private readonly viaSuper: CallStore = (() => {
    const self = this
    const proto = CallStore.prototype as unknown as Record<WriteOp, (...a: unknown[]) => Promise<unknown>>
    return Object.fromEntries(WRITES.map((op) => [op, (...a: unknown[]) => proto[op].apply(self, a)])) as unknown as CallStore
  })()

  private apply(store: CallStore, op: WriteOp, args: unknown[]): Promise<unknown> {
    const fn = (store as unknown as Record<WriteOp, (...a: unknown[]) => Promise<unknown>>)[op]
    return fn.apply(store, args)
  }

  private async keepRejected(op: string, args: unknown[], err: unknown): Promise<void> {
    this.hooks.rejected?.(op)
    this.log?.error(
      { err, op, callId: args[0] && typeof args[0] === 'object' ? (args[0] as NewCall).id : args[0] },
      'the database refused a record write; kept in rejected.ndjson',
    )
    await this.journal
      .reject({ seq: 0, op, args, at: new Date().toISOString() }, (err as Error).message)
      .catch((e) => this.log?.error({ err: e }, 'rejected write could not be kept'))
  }

  private databaseIsBack(): void {
    if (this.journal.size && !this.replaying && !this.closed) void this.replay()
  }

  private schedule(): void {
    if (this.timer || this.closed || this.replaying) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.replay()
    }, this.retryMs)
    this.timer.unref()
  }

  private async drain(): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    let n = 0
    let entry: JournalEntry | undefined
    while ((entry = this.journal.peek()) && !this.closed) {
      try {
        await this.applyOnce(entry)
        n++
        this.hooks.replayed?.(1)
      } catch (err) {
        if (isConnectionError(err)) {
          this.lastError = (err as Error).message
          this.log?.warn({ err, pending: this.journal.size, retryMs: this.retryMs }, 'journal replay stopped: database unreachable')
          this.retryMs = Math.min(this.retryMs * 2, this.retryMaxMs)
          if (n) this.log?.info({ replayed: n }, 'journal partly replayed')
          this.replaying = undefined
          this.schedule()
          return
        }
        await this.keepRejected(entry.op, entry.args, err)
      }
      this.journal.ack(entry.seq)
    }
    this.retryMs = this.retryMinMs
    this.lastError = ''
    if (n) this.log?.info({ replayed: n }, 'journal replayed')
    const old = await this.journal.rotate()
    // The old generation's markers can go: no file holds its entries any more.
    if (old) await this.sql.query('DELETE FROM journal_applied WHERE journal_id = $1', [old]).catch(() => {})
  }

  /** Applies one entry and marks it applied, in one transaction: exactly once across crashes. */
  private async applyOnce(entry: JournalEntry): Promise<void> {
    const op = entry.op as WriteOp
    if (!WRITES.includes(op)) throw new Error(`journal: unknown operation ${entry.op}`)
    await this.sql.transaction(async (tx) => {
      const { rows } = await tx.query('INSERT INTO journal_applied (journal_id, seq) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING seq', [
        this.journal.journalId,
        entry.seq,
      ])
      if (!rows.length) return // applied before a crash or a lost COMMIT acknowledgement
      await this.apply(storeOn(tx), op, revive(op, entry.args))
    })
  }
}
