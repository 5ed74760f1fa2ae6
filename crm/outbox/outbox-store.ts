import type { SqlExecutor } from '../sql-driver.ts'

export type OutboxState = 'queued' | 'delivering' | 'delivered' | 'dead'
export const OUTBOX_STATES: readonly OutboxState[] = ['queued', 'delivering', 'delivered', 'dead']

/** One CRM effect of a call, as the call store enqueues it with the call's final record. */
export interface OutboxStep {
  /** what to do, e.g. `webhook.lead`; picks the connector */
  step: string
  /** where: the connector's target (the webhook URL, the portal) */
  target: string
  payload?: Record<string, unknown>
  /** first attempt no sooner than this after the call's end (the LLM summary is written after it) */
  delayMs?: number
}

/** Timestamps are ISO 8601 strings. */
export interface OutboxRow {
  id: string
  callId: string
  step: string
  target: string
  idempotencyKey: string
  payload: Record<string, unknown>
  state: OutboxState
  attempts: number
  nextAttemptAt: string
  lastError: string | null
  createdAt: string
  updatedAt: string
  deliveredAt: string | null
}

interface Row {
  id: string | number
  call_id: string
  step: string
  target: string
  idempotency_key: string
  payload: Record<string, unknown>
  state: OutboxState
  attempts: number
  next_attempt_at: Date
  last_error: string | null
  created_at: Date
  updated_at: Date
  delivered_at: Date | null
}

const COLUMNS = `id, call_id, step, target, idempotency_key, payload, state, attempts, next_attempt_at, last_error, created_at, updated_at, delivered_at`

/** The stable key of one step of one call: what a receiver dedupes on. */
export function idempotencyKey(callId: string, step: string): string {
  return `${callId}:${step}`
}

/**
 * Inserts a call's steps on the caller's connection (the call store's transaction). A step already
 * there (a journal replay of the same finish) is left alone.
 */
export async function enqueueSteps(tx: SqlExecutor, callId: string, steps: OutboxStep[]): Promise<void> {
  for (const s of steps) {
    await tx.query(
      `INSERT INTO crm_outbox (call_id, step, target, idempotency_key, payload, next_attempt_at)
       VALUES ($1, $2, $3, $4, $5::jsonb, now() + $6::int * interval '1 millisecond')
       ON CONFLICT (idempotency_key) DO NOTHING`,
      [callId, s.step, s.target, idempotencyKey(callId, s.step), JSON.stringify(s.payload ?? {}), Math.max(0, Math.round(s.delayMs ?? 0))],
    )
  }
}

/**
 * The outbox table: claiming due rows, recording outcomes, the admin listing and retry. All SQL
 * runs unchanged on a Postgres server and on PGlite.
 */
export class OutboxStore {
  constructor(private readonly db: SqlExecutor) {}

  /**
   * Takes up to `limit` due rows for `workerId` for `leaseMs`: queued rows whose time has come, and
   * rows left delivering by a worker whose lease ran out (it crashed). One statement, so no
   * transaction is held while delivering; SKIP LOCKED lets several workers claim side by side
   * without ever taking the same row.
   */
  async claim(workerId: string, limit: number, leaseMs: number): Promise<OutboxRow[]> {
    const { rows } = await this.db.query<Row>(
      `UPDATE crm_outbox SET state = 'delivering', locked_by = $1, locked_until = now() + $3::int * interval '1 millisecond',
              attempts = attempts + 1, updated_at = now()
       WHERE id IN (
         SELECT id FROM crm_outbox
         WHERE (state = 'queued' AND next_attempt_at <= now()) OR (state = 'delivering' AND locked_until < now())
         ORDER BY next_attempt_at, id
         LIMIT $2
         FOR UPDATE SKIP LOCKED)
       RETURNING ${COLUMNS}`,
      [workerId, limit, leaseMs],
    )
    return rows.map(toRow).sort((a, b) => Number(a.id) - Number(b.id))
  }

  /** A restarted worker takes back at once what its previous run held (its lease need not run out). */
  async releaseOwn(workerId: string): Promise<number> {
    const { rows } = await this.db.query(
      `UPDATE crm_outbox SET state = 'queued', locked_by = NULL, locked_until = NULL, next_attempt_at = now(), updated_at = now()
       WHERE state = 'delivering' AND locked_by = $1 RETURNING id`,
      [workerId],
    )
    return rows.length
  }

  /** False when the row is no longer this worker's (its lease ran out and another took it). */
  async delivered(id: string, workerId: string): Promise<boolean> {
    const { rows } = await this.db.query(
      `UPDATE crm_outbox SET state = 'delivered', delivered_at = now(), updated_at = now(), locked_by = NULL, locked_until = NULL, last_error = NULL
       WHERE id = $1 AND locked_by = $2 AND state = 'delivering' RETURNING id`,
      [id, workerId],
    )
    return rows.length > 0
  }

  async retryLater(id: string, workerId: string, error: string, delayMs: number): Promise<boolean> {
    const { rows } = await this.db.query(
      `UPDATE crm_outbox SET state = 'queued', next_attempt_at = now() + $3::int * interval '1 millisecond', last_error = $4,
              updated_at = now(), locked_by = NULL, locked_until = NULL
       WHERE id = $1 AND locked_by = $2 AND state = 'delivering' RETURNING id`,
      [id, workerId, Math.max(0, Math.round(delayMs)), error],
    )
    return rows.length > 0
  }

  async dead(id: string, workerId: string, error: string): Promise<boolean> {
    const { rows } = await this.db.query(
      `UPDATE crm_outbox SET state = 'dead', last_error = $3, updated_at = now(), locked_by = NULL, locked_until = NULL
       WHERE id = $1 AND locked_by = $2 AND state = 'delivering' RETURNING id`,
      [id, workerId, error],
    )
    return rows.length > 0
  }

  /** POST /api/crm/outbox/:id/retry: a dead row goes back to the queue with a fresh attempt count. */
  async retry(id: string): Promise<OutboxRow | null> {
    const { rows } = await this.db.query<Row>(
      `UPDATE crm_outbox SET state = 'queued', attempts = 0, next_attempt_at = now(), updated_at = now()
       WHERE id = $1 AND state = 'dead' RETURNING ${COLUMNS}`,
      [id],
    )
    return rows[0] ? toRow(rows[0]) : null
  }

  async get(id: string): Promise<OutboxRow | null> {
    const { rows } = await this.db.query<Row>(`SELECT ${COLUMNS} FROM crm_outbox WHERE id = $1`, [id])
    return rows[0] ? toRow(rows[0]) : null
  }

  /** Newest first; all states when state is unset. */
  async list(opts: { state?: OutboxState; callId?: string; limit?: number } = {}): Promise<OutboxRow[]> {
    const { rows } = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM crm_outbox
       WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR call_id = $2)
       ORDER BY id DESC LIMIT $3`,
      [opts.state ?? null, opts.callId ?? null, opts.limit ?? 100],
    )
    return rows.map(toRow)
  }

  /** Rows per state, and the age of the oldest row not yet delivered (0 when none), for metrics. */
  async stats(): Promise<{ rows: Record<OutboxState, number>; oldestAgeSeconds: number }> {
    const { rows } = await this.db.query<{ state: OutboxState; n: string | number; oldest: number | string | null }>(
      `SELECT state, count(*) AS n, extract(epoch FROM now() - min(created_at))::float8 AS oldest FROM crm_outbox GROUP BY state`,
    )
    const counts = { queued: 0, delivering: 0, delivered: 0, dead: 0 }
    let oldest = 0
    for (const r of rows) {
      counts[r.state] = Number(r.n)
      if ((r.state === 'queued' || r.state === 'delivering') && r.oldest !== null) oldest = Math.max(oldest, Number(r.oldest))
    }
    return { rows: counts, oldestAgeSeconds: oldest }
  }
}

function toRow(r: Row): OutboxRow {
  return {
    id: String(r.id),
    callId: r.call_id,
    step: r.step,
    target: r.target,
    idempotencyKey: r.idempotency_key,
    payload: r.payload,
    state: r.state,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at.toISOString(),
    lastError: r.last_error,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
    deliveredAt: r.delivered_at?.toISOString() ?? null,
  }
}
