import type { Logger } from 'pino'
import type { SqlExecutor } from '../sql-driver.ts'
import { OutboxStore, type OutboxRow } from './outbox-store.ts'

/** What a connector made of one attempt. */
export type DeliveryOutcome =
  | { kind: 'delivered' }
  /** try again later; retryAfterMs: the receiver asked for at least this wait (Retry-After) */
  | { kind: 'retry'; error: string; retryAfterMs?: number }
  /** the receiver refused the step for good: no retry would change it */
  | { kind: 'dead'; error: string }

/**
 * Carries out one kind of step. A retried step arrives with the same idempotency key; the connector
 * must first find out whether an earlier attempt already did it (or send the key so the receiver can).
 */
export interface Connector {
  deliver(row: OutboxRow, signal: AbortSignal): Promise<DeliveryOutcome>
  /**
   * Several rows of this step in one go (a CRM with batch requests); an outcome per row, in order.
   * The signal allows one attempt's time per row.
   */
  deliverMany?(rows: OutboxRow[], signal: AbortSignal): Promise<DeliveryOutcome[]>
}

/** Counters the process exports (prom-client lives in media-server/). */
export interface OutboxHooks {
  delivered?(step: string): void
  /** an attempt failed; final: the row went to dead letters */
  failed?(step: string, final: boolean): void
}

export interface OutboxWorkerOptions {
  db: SqlExecutor
  /** Stable across restarts (the instance id): a restarted worker takes back its own rows at once. */
  workerId: string
  /** by step name, e.g. `webhook.lead` */
  connectors: Record<string, Connector>
  /** attempts before a row goes to dead letters (CRM_OUTBOX_MAX_ATTEMPTS) */
  maxAttempts?: number
  /** backoff after the first failure, doubled each time up to maxDelayMs */
  baseDelayMs?: number
  maxDelayMs?: number
  /** how often to look for due rows when the queue is idle */
  pollMs?: number
  /** rows claimed at once */
  batch?: number
  /** how long a claimed row stays this worker's; a crashed worker's rows come back after it
   *  (default: batch x attemptTimeoutMs + 1 min) */
  leaseMs?: number
  /** one attempt's limit (the connector gets an AbortSignal) */
  attemptTimeoutMs?: number
  logger?: Logger
  hooks?: OutboxHooks
  /** 0..1; tests pin the jitter */
  random?: () => number
}

export const DEFAULT_MAX_ATTEMPTS = 8

/**
 * Delivers the outbox: claims due rows (SKIP LOCKED, so instances sharing a Postgres never take the
 * same row), hands each to its step's connector, and records the outcome: delivered, queued again
 * after an exponential backoff with jitter, or dead after maxAttempts with the last error kept.
 */
export class OutboxWorker {
  readonly store: OutboxStore
  private readonly o: Required<Omit<OutboxWorkerOptions, 'logger' | 'hooks' | 'db'>>
  private readonly log?: Logger
  private readonly hooks: OutboxHooks
  private running: Promise<void> | undefined
  private stopped = true
  private wake: (() => void) | undefined
  private timer: NodeJS.Timeout | undefined
  /** aborted by stop(): attempts in flight end, the batch is left for the next start */
  private abort = new AbortController()

  constructor(opts: OutboxWorkerOptions) {
    this.store = new OutboxStore(opts.db)
    this.o = {
      workerId: opts.workerId,
      connectors: opts.connectors,
      maxAttempts: opts.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      baseDelayMs: opts.baseDelayMs ?? 2000,
      maxDelayMs: opts.maxDelayMs ?? 15 * 60_000,
      pollMs: opts.pollMs ?? 1000,
      batch: opts.batch ?? 10,
      attemptTimeoutMs: opts.attemptTimeoutMs ?? 15_000,
      // the batch is delivered in turn: the lease covers every row of it timing out, and a margin
      leaseMs: opts.leaseMs ?? (opts.batch ?? 10) * (opts.attemptTimeoutMs ?? 15_000) + 60_000,
      random: opts.random ?? Math.random,
    }
    this.log = opts.logger?.child({ component: 'crm-outbox', workerId: opts.workerId })
    this.hooks = opts.hooks ?? {}
  }

  /** Starts the loop; rows this worker held when its last run stopped are queued again first. */
  async start(): Promise<void> {
    if (!this.stopped) return
    this.stopped = false
    this.abort = new AbortController()
    try {
      const back = await this.store.releaseOwn(this.o.workerId)
      if (back) this.log?.info({ rows: back }, 'rows left delivering by the last run are queued again')
    } catch (err) {
      // the database is down: those rows come back when their lease runs out
      this.log?.warn({ err }, 'outbox rows of the last run not released')
    }
    this.running = this.loop()
  }

  /** Look for due rows now (a call just finished) instead of at the next poll. */
  kick(): void {
    this.wake?.()
  }

  /** Stops claiming; an attempt in flight is aborted and its row comes back at the next start. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.abort.abort(new Error('outbox worker stopped'))
    this.kick()
    await this.running
  }

  /** Claims and delivers one batch; the number of rows handled. Exposed for tests. */
  async runOnce(): Promise<number> {
    const rows = await this.store.claim(this.o.workerId, this.o.batch, this.o.leaseMs)
    // a connector that batches gets its step's rows together; the others one at a time, so a
    // connector's rate limit (Bitrix24's 2 requests/s) paces whole rows and no attempt times out
    // waiting behind the others; rows not reached before a stop are released at the next start
    const single: OutboxRow[] = []
    const grouped = new Map<string, OutboxRow[]>()
    for (const r of rows) {
      if (this.o.connectors[r.step]?.deliverMany) grouped.set(r.step, [...(grouped.get(r.step) ?? []), r])
      else single.push(r)
    }
    for (const [step, group] of grouped) {
      if (this.abort.signal.aborted) break
      await this.deliverGroup(this.o.connectors[step], group)
    }
    for (const r of single) {
      if (this.abort.signal.aborted) break
      await this.deliver(r)
    }
    return rows.length
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let n = 0
      try {
        n = await this.runOnce()
      } catch (err) {
        // the database is down: the rows wait in it, nothing is lost
        this.log?.warn({ err }, 'outbox claim failed')
      }
      if (n >= this.o.batch || this.stopped) continue
      await new Promise<void>((resolve) => {
        this.wake = resolve
        this.timer = setTimeout(resolve, this.o.pollMs)
      })
      clearTimeout(this.timer)
      this.wake = undefined
    }
  }

  /** Backoff before attempt n+1 after n failures: doubling, capped, with jitter in [d/2, d]. */
  delayAfter(attempts: number): number {
    const d = Math.min(this.o.maxDelayMs, this.o.baseDelayMs * 2 ** Math.max(0, attempts - 1))
    return Math.round(d / 2 + (this.o.random() * d) / 2)
  }

  private async deliver(row: OutboxRow): Promise<void> {
    const connector = this.o.connectors[row.step]
    let outcome: DeliveryOutcome
    if (!connector) outcome = { kind: 'dead', error: `no connector for step ${row.step}` }
    else {
      const { signal, clear } = attemptDeadline(this.abort.signal, this.o.attemptTimeoutMs)
      try {
        outcome = await untilAborted(connector.deliver(row, signal), signal)
      } catch (err) {
        outcome = { kind: 'retry', error: (err as Error).message || String(err) }
      } finally {
        clear()
      }
    }
    await this.record(row, outcome)
  }

  private async deliverGroup(connector: Connector, rows: OutboxRow[]): Promise<void> {
    // the lease allows attemptTimeoutMs per claimed row
    const { signal, clear } = attemptDeadline(this.abort.signal, this.o.attemptTimeoutMs * rows.length)
    let outcomes: DeliveryOutcome[]
    try {
      outcomes = await untilAborted(connector.deliverMany!(rows, signal), signal)
    } catch (err) {
      outcomes = rows.map(() => ({ kind: 'retry', error: (err as Error).message || String(err) }))
    } finally {
      clear()
    }
    for (const [i, row] of rows.entries()) await this.record(row, outcomes[i])
  }

  private async record(row: OutboxRow, outcome: DeliveryOutcome): Promise<void> {
    const log = this.log?.child({ callId: row.callId, outboxId: row.id, step: row.step, attempt: row.attempts })
    // stopped mid-attempt: leave the row delivering; releaseOwn at the next start queues it again
    if (this.abort.signal.aborted && outcome.kind !== 'delivered') return
    const id = this.o.workerId
    try {
      if (outcome.kind === 'delivered') {
        if (await this.store.delivered(row.id, id)) {
          this.hooks.delivered?.(row.step)
          log?.info('CRM step delivered')
        } else log?.warn('CRM step delivered after its lease ran out')
        return
      }
      const final = outcome.kind === 'dead' || row.attempts >= this.o.maxAttempts
      this.hooks.failed?.(row.step, final)
      if (final) {
        await this.store.dead(row.id, id, outcome.error)
        log?.error({ error: outcome.error }, 'CRM step dead-lettered')
        return
      }
      const delayMs = Math.max(this.delayAfter(row.attempts), outcome.kind === 'retry' ? (outcome.retryAfterMs ?? 0) : 0)
      await this.store.retryLater(row.id, id, outcome.error, delayMs)
      log?.warn({ error: outcome.error, delayMs }, 'CRM step failed; will retry')
    } catch (err) {
      // the outcome could not be written: the lease runs out and the step is tried again
      log?.error({ err, outcome: outcome.kind }, 'outbox row outcome not recorded')
    }
  }
}

/**
 * One attempt's signal: aborted after `ms`, or when the worker stops. Not AbortSignal.any over
 * AbortSignal.timeout: on Node 20 the composite holds its sources weakly, so a garbage collection
 * can take the timeout signal and the attempt never ends (its row then stays delivering until the
 * lease runs out). Here the timer holds the controller until it fires or is cleared.
 */
function attemptDeadline(stop: AbortSignal, ms: number): { signal: AbortSignal; clear(): void } {
  const ac = new AbortController()
  const timer = setTimeout(() => ac.abort(new DOMException(`the attempt took longer than ${ms} ms`, 'TimeoutError')), ms)
  const onStop = () => ac.abort(stop.reason)
  if (stop.aborted) onStop()
  else stop.addEventListener('abort', onStop, { once: true })
  return {
    signal: ac.signal,
    clear: () => {
      clearTimeout(timer)
      stop.removeEventListener('abort', onStop)
    },
  }
}

/**
 * The connector's answer, or the signal's reason once it aborts: an attempt ends at its timeout
 * even when something inside a connector does not heed the signal (a wait, a socket that never
 * answers). Its late answer is dropped; the retry checks first whether the step already happened.
 */
function untilAborted<T>(attempt: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    attempt.then(
      (v) => {
        signal.removeEventListener('abort', onAbort)
        resolve(v)
      },
      (err) => {
        signal.removeEventListener('abort', onAbort)
        reject(err)
      },
    )
  })
}
