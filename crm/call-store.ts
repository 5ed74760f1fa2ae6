import { enqueueSteps, type OutboxStep } from './outbox/outbox-store.ts'
import type { SqlDriver, SqlExecutor } from './sql-driver.ts'

export type CallDirection = 'inbound' | 'outbound'
export type Speaker = 'bot' | 'caller'
export type DtmfSource = 'rfc4733' | 'info' | 'inband'

export interface NewCall {
  id: string
  sipCallId: string
  direction: CallDirection
  fromUri: string
  toUri: string
  callerId: string
  codec?: string
  startedAt: Date
  /** The instance that took the call (see closeOrphans); the durable store fills it in. */
  instanceId?: string
}

/** Fields left undefined are left unchanged. */
export interface CallPatch {
  answeredAt?: Date
  endedAt?: Date
  result?: string
  endReason?: string
  recordingPath?: string
  /** Why the recording is missing or cut short (folder unwritable, disk full, crash). */
  recordingError?: string
  codec?: string
  rtpStats?: object
  /** the answering-machine detection of an outbound call */
  amd?: AmdRecord
}

/** What answering-machine detection decided on the answer, by which rule, and when (ms on the
 *  call's timeline). */
export interface AmdRecord {
  result: string
  reason: string
  decisionMs: number
}

export interface NewTurn {
  who: Speaker
  startMs: number
  endMs: number
  text?: string
  clipPath?: string
  step?: string
  /** When each stage of the turn happened, ms on the call's timeline (see TurnTiming). */
  timing?: TurnTiming
  /** A bot turn the caller talked over (barge-in). */
  interrupted?: boolean
}

/**
 * The latency budget of one turn. A caller turn carries the end of speech and the moment the
 * endpointer declared it; the bot turn that answers carries the rest of the path to the line.
 */
export interface TurnTiming {
  speechEndMs?: number
  eouMs?: number
  asrFinalMs?: number
  llmFirstTokenMs?: number
  ttsFirstAudioMs?: number
  firstRtpMs?: number
  /** bot turns: from the caller's end of speech to the first RTP packet, minus the end-of-utterance
   *  silence and the time spent inside providers: what the media server itself added */
  ownShareMs?: number
  /** stages that ran past their budget, and what was done about it */
  overruns?: Array<{ stage: string; budgetMs: number; action: string; atMs: number }>
  /** bot turns cut by the caller: speech onset, when the bot's audio stopped (held), when the
   *  VAD confirmed it was speech and the prompt was dropped */
  bargeIn?: { onsetMs: number; heldMs: number; confirmedMs: number }
}

export interface NewDtmf {
  digit: string
  atMs: number
  source: DtmfSource
}

export interface LeadInput {
  callerId: string
  phoneDigits?: string
  /** Answer clips by question; `name`, `need` and `phone` are also kept in their own columns. */
  clips: Record<string, string>
  slots?: Record<string, unknown>
  outcome: string
}

export interface ListCallsOptions {
  limit?: number
  offset?: number
}

/** Timestamps are ISO 8601 strings. */
export interface CallSummary {
  id: string
  sipCallId: string
  direction: CallDirection
  fromUri: string
  toUri: string
  callerId: string
  codec: string | null
  startedAt: string
  answeredAt: string | null
  endedAt: string | null
  result: string | null
  endReason: string | null
  recordingPath: string | null
  recordingError: string | null
  turnCount: number
  leadOutcome: string | null
}

export interface Turn {
  seq: number
  who: Speaker
  startMs: number
  endMs: number
  text: string | null
  clipPath: string | null
  step: string | null
  timing: TurnTiming | null
  interrupted: boolean
  createdAt: string
}

export interface DtmfEvent {
  digit: string
  atMs: number
  source: DtmfSource
}

export interface Lead {
  callerId: string
  nameClip: string | null
  needClip: string | null
  phoneDigits: string | null
  phoneClip: string | null
  clips: Record<string, string>
  slots: Record<string, unknown>
  outcome: string
  /** LLM agent mode: what the call was about, for the seller; null until written or without one */
  summary: string | null
  createdAt: string
  updatedAt: string
}

export interface CallDetail extends CallSummary {
  rtpStats: Record<string, unknown> | null
  /** null: the call was not screened for an answering machine */
  amd: AmdRecord | null
  turns: Turn[]
  dtmf: DtmfEvent[]
  lead: Lead | null
}

/** GET /api/leads: a lead with the call it came from. */
export interface LeadListItem extends Lead {
  callId: string
  direction: CallDirection
  startedAt: string
  endedAt: string | null
  recordingPath: string | null
}

export const DEFAULT_LIST_LIMIT = 50
export const MAX_LIST_LIMIT = 500

interface CallRow {
  id: string
  sip_call_id: string
  direction: CallDirection
  from_uri: string
  to_uri: string
  caller_id: string
  codec: string | null
  started_at: Date
  answered_at: Date | null
  ended_at: Date | null
  result: string | null
  end_reason: string | null
  recording_path: string | null
  recording_error: string | null
  last_turn_seq: number
  lead_outcome: string | null
}

interface TurnRow {
  seq: number
  who: Speaker
  start_ms: number
  end_ms: number
  text: string | null
  clip_path: string | null
  step: string | null
  timing: TurnTiming | null
  interrupted: boolean
  created_at: Date
}

interface DtmfRow {
  digit: string
  at_ms: number
  source: DtmfSource
}

interface LeadRow {
  caller_id: string
  name_clip: string | null
  need_clip: string | null
  phone_digits: string | null
  phone_clip: string | null
  clips: Record<string, string>
  slots: Record<string, unknown>
  outcome: string
  summary: string | null
  created_at: Date
  updated_at: Date
}

const SUMMARY_SELECT = `
  SELECT c.id, c.sip_call_id, c.direction, c.from_uri, c.to_uri, c.caller_id, c.codec,
         c.started_at, c.answered_at, c.ended_at, c.result, c.end_reason, c.recording_path,
         c.recording_error, c.last_turn_seq, l.outcome AS lead_outcome`

const PATCH_COLUMNS = {
  answeredAt: 'answered_at',
  endedAt: 'ended_at',
  result: 'result',
  endReason: 'end_reason',
  recordingPath: 'recording_path',
  recordingError: 'recording_error',
  codec: 'codec',
  rtpStats: 'rtp_stats',
} as const satisfies Record<Exclude<keyof CallPatch, 'amd'>, string>

/**
 * Call records (calls, turns, DTMF, leads). The SQL here is the only copy: it runs unchanged on
 * a Postgres server and on embedded PGlite. Parameters are sent as ISO strings and JSON text so
 * both drivers serialise them the same way.
 */
export class CallStore {
  /** What every finished call enqueues for the CRM (crm/outbox/); set by the server from its config. */
  outboxSteps: OutboxStep[] = []

  constructor(private readonly db: SqlDriver) {}

  /** The database itself, for modules that keep their own tables in it (the knowledge base). */
  get driver(): SqlDriver {
    return this.db
  }

  async createCall(c: NewCall): Promise<void> {
    await this.db.query(
      `INSERT INTO calls (id, sip_call_id, direction, from_uri, to_uri, caller_id, codec, started_at, instance_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [c.id, c.sipCallId, c.direction, c.fromUri, c.toUri, c.callerId, c.codec ?? null, c.startedAt.toISOString(), c.instanceId ?? null],
    )
  }

  async updateCall(id: string, patch: CallPatch): Promise<void> {
    const sets: string[] = []
    const params: unknown[] = [id]
    for (const key of Object.keys(PATCH_COLUMNS) as (keyof typeof PATCH_COLUMNS)[]) {
      const value = patch[key]
      if (value === undefined) continue
      if (value instanceof Date) params.push(value.toISOString())
      else if (key === 'rtpStats') params.push(JSON.stringify(value))
      else params.push(value)
      sets.push(`${PATCH_COLUMNS[key]} = $${params.length}${key === 'rtpStats' ? '::jsonb' : ''}`)
    }
    if (patch.amd) {
      params.push(patch.amd.result, patch.amd.reason, patch.amd.decisionMs)
      sets.push(`amd_result = $${params.length - 2}, amd_reason = $${params.length - 1}, amd_ms = $${params.length}`)
    }
    if (sets.length === 0) return
    const { rows } = await this.db.query(`UPDATE calls SET ${sets.join(', ')} WHERE id = $1 RETURNING id`, params)
    if (rows.length === 0) throw new Error(`updateCall: no call with id ${id}`)
  }

  /**
   * The call's final record and its CRM steps in one transaction: the outbox never holds a step for
   * a call whose end was not written, and no finished call misses its steps (a failure rolls back both).
   */
  async finishCall(id: string, patch: CallPatch, steps: OutboxStep[] = this.outboxSteps): Promise<void> {
    await this.db.transaction(async (tx) => {
      await new CallStore(inTransaction(tx)).updateCall(id, patch)
      await enqueueSteps(tx, id, steps)
    })
  }

  /** Stores a turn and returns its seq: 1, 2, ... per call, in the order turns are added. */
  async addTurn(callId: string, t: NewTurn): Promise<number> {
    const { rows } = await this.db.query<{ seq: number }>(
      `WITH c AS (
         UPDATE calls SET last_turn_seq = last_turn_seq + 1 WHERE id = $1 RETURNING id, last_turn_seq
       )
       INSERT INTO turns (call_id, seq, who, start_ms, end_ms, text, clip_path, step, timing, interrupted)
       SELECT id, last_turn_seq, $2, $3, $4, $5, $6, $7, $8, $9 FROM c
       RETURNING seq`,
      [
        callId,
        t.who,
        t.startMs,
        t.endMs,
        t.text ?? null,
        t.clipPath ?? null,
        t.step ?? null,
        t.timing ? JSON.stringify(t.timing) : null,
        t.interrupted ?? false,
      ],
    )
    if (rows.length === 0) throw new Error(`addTurn: no call with id ${callId}`)
    return rows[0].seq
  }

  /**
   * Many turns in one statement, numbered after the call's existing ones. The media server
   * keeps a call's turns in memory and writes them here once, at hang-up: on the embedded
   * database every statement costs milliseconds of CPU that live calls' media needs.
   */
  async appendTurns(callId: string, turns: NewTurn[]): Promise<void> {
    if (!turns.length) return
    const rows = turns.map((t, i) => ({
      i: i + 1,
      who: t.who,
      start_ms: t.startMs,
      end_ms: t.endMs,
      text: t.text ?? null,
      clip_path: t.clipPath ?? null,
      step: t.step ?? null,
      timing: t.timing ?? null,
      interrupted: t.interrupted ?? false,
    }))
    const { rows: done } = await this.db.query(
      `WITH c AS (
         UPDATE calls SET last_turn_seq = last_turn_seq + $3 WHERE id = $1 RETURNING id, last_turn_seq - $3 AS base
       )
       INSERT INTO turns (call_id, seq, who, start_ms, end_ms, text, clip_path, step, timing, interrupted)
       SELECT c.id, c.base + x.i, x.who, x.start_ms, x.end_ms, x.text, x.clip_path, x.step, x.timing, x.interrupted
       FROM c, jsonb_to_recordset($2::jsonb)
         AS x(i int, who text, start_ms int, end_ms int, text text, clip_path text, step text, timing jsonb, interrupted boolean)
       RETURNING seq`,
      [callId, JSON.stringify(rows), rows.length],
    )
    if (done.length === 0) throw new Error(`appendTurns: no call with id ${callId}`)
  }

  /** Many DTMF events in one statement (see appendTurns). */
  async appendDtmf(callId: string, events: NewDtmf[]): Promise<void> {
    if (!events.length) return
    await this.db.query(
      `INSERT INTO dtmf_events (call_id, digit, at_ms, source)
       SELECT $1, x.digit, x.at_ms, x.source FROM jsonb_to_recordset($2::jsonb) AS x(digit text, at_ms int, source text)`,
      [callId, JSON.stringify(events.map((d) => ({ digit: d.digit, at_ms: d.atMs, source: d.source })))],
    )
  }

  async addDtmf(callId: string, d: NewDtmf): Promise<void> {
    await this.db.query('INSERT INTO dtmf_events (call_id, digit, at_ms, source) VALUES ($1, $2, $3, $4)', [callId, d.digit, d.atMs, d.source])
  }

  /** Creates the call's lead or replaces its fields (one lead per call). */
  async saveLead(callId: string, l: LeadInput): Promise<void> {
    await this.db.query(
      `INSERT INTO leads (call_id, caller_id, name_clip, need_clip, phone_digits, phone_clip, clips, slots, outcome)
       VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9)
       ON CONFLICT (call_id) DO UPDATE SET
         caller_id = EXCLUDED.caller_id, name_clip = EXCLUDED.name_clip, need_clip = EXCLUDED.need_clip,
         phone_digits = EXCLUDED.phone_digits, phone_clip = EXCLUDED.phone_clip, clips = EXCLUDED.clips,
         slots = EXCLUDED.slots, outcome = EXCLUDED.outcome, updated_at = now()`,
      [
        callId,
        l.callerId,
        l.clips.name ?? null,
        l.clips.need ?? null,
        l.phoneDigits ?? null,
        l.clips.phone ?? null,
        JSON.stringify(l.clips),
        JSON.stringify(l.slots ?? {}),
        l.outcome,
      ],
    )
  }

  /** The call's summary (LLM mode), once the lead exists; false when there is no lead to add it to. */
  async setLeadSummary(callId: string, summary: string): Promise<boolean> {
    const r = await this.db.query('UPDATE leads SET summary = $2, updated_at = now() WHERE call_id = $1 RETURNING call_id', [callId, summary])
    return r.rows.length > 0
  }

  /** Newest first. */
  async listCalls(opts: ListCallsOptions = {}): Promise<CallSummary[]> {
    const limit = opts.limit ?? DEFAULT_LIST_LIMIT
    const offset = opts.offset ?? 0
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
      throw new RangeError(`listCalls: limit must be an integer from 1 to ${MAX_LIST_LIMIT}, got ${limit}`)
    }
    if (!Number.isInteger(offset) || offset < 0) {
      throw new RangeError(`listCalls: offset must be a non-negative integer, got ${offset}`)
    }
    const { rows } = await this.db.query<CallRow>(
      `${SUMMARY_SELECT}
       FROM calls c LEFT JOIN leads l ON l.call_id = c.id
       ORDER BY c.started_at DESC, c.id DESC
       LIMIT $1 OFFSET $2`,
      [limit, offset],
    )
    return rows.map(toSummary)
  }

  /**
   * Leads newest first, each with its call's direction, times and recording: what a seller works
   * through. `outcome`: only leads with this outcome (qualified_lead, callback_booked, ...).
   */
  async listLeads(opts: { limit: number; offset: number; outcome?: string }): Promise<LeadListItem[]> {
    const { rows } = await this.db.query<
      LeadRow & { call_id: string; direction: CallDirection; started_at: Date; ended_at: Date | null; recording_path: string | null }
    >(
      `SELECT l.call_id, l.caller_id, l.name_clip, l.need_clip, l.phone_digits, l.phone_clip, l.clips, l.slots, l.outcome, l.summary,
              l.created_at, l.updated_at, c.direction, c.started_at, c.ended_at, c.recording_path
       FROM leads l JOIN calls c ON c.id = l.call_id
       WHERE $3::text IS NULL OR l.outcome = $3
       ORDER BY l.created_at DESC, l.id DESC
       LIMIT $1 OFFSET $2`,
      [opts.limit, opts.offset, opts.outcome ?? null],
    )
    return rows.map((r) => ({
      callId: r.call_id,
      direction: r.direction,
      startedAt: r.started_at.toISOString(),
      endedAt: r.ended_at?.toISOString() ?? null,
      recordingPath: r.recording_path,
      ...toLead(r),
    }))
  }

  async getCall(id: string): Promise<CallDetail | null> {
    const [call, turns, dtmf, lead] = await Promise.all([
      this.db.query<CallRow & { rtp_stats: Record<string, unknown> | null; amd_result: string | null; amd_reason: string | null; amd_ms: number | null }>(
        `${SUMMARY_SELECT}, c.rtp_stats, c.amd_result, c.amd_reason, c.amd_ms
         FROM calls c LEFT JOIN leads l ON l.call_id = c.id
         WHERE c.id = $1`,
        [id],
      ),
      this.db.query<TurnRow>(
        `SELECT seq, who, start_ms, end_ms, text, clip_path, step, timing, interrupted, created_at
         FROM turns WHERE call_id = $1 ORDER BY seq`,
        [id],
      ),
      this.db.query<DtmfRow>('SELECT digit, at_ms, source FROM dtmf_events WHERE call_id = $1 ORDER BY at_ms, id', [id]),
      this.db.query<LeadRow>(
        `SELECT caller_id, name_clip, need_clip, phone_digits, phone_clip, clips, slots, outcome, summary,
                created_at, updated_at
         FROM leads WHERE call_id = $1`,
        [id],
      ),
    ])
    const row = call.rows[0]
    if (!row) return null
    return {
      ...toSummary(row),
      rtpStats: row.rtp_stats,
      amd: row.amd_result === null ? null : { result: row.amd_result, reason: row.amd_reason ?? '', decisionMs: row.amd_ms ?? 0 },
      turns: turns.rows.map((t) => ({
        seq: t.seq,
        who: t.who,
        startMs: t.start_ms,
        endMs: t.end_ms,
        text: t.text,
        clipPath: t.clip_path,
        step: t.step,
        timing: t.timing,
        interrupted: t.interrupted,
        createdAt: t.created_at.toISOString(),
      })),
      dtmf: dtmf.rows.map((d) => ({ digit: d.digit, atMs: d.at_ms, source: d.source })),
      lead: lead.rows[0] ? toLead(lead.rows[0]) : null,
    }
  }

  /**
   * Calls of `instanceId` that have no end: left open by a process that died. Only called at
   * start, before calls are taken, so none of them is live.
   */
  async openCalls(instanceId: string): Promise<string[]> {
    const { rows } = await this.db.query<{ id: string }>('SELECT id FROM calls WHERE instance_id = $1 AND ended_at IS NULL', [instanceId])
    return rows.map((r) => r.id)
  }

  /** True when the database answers a query. */
  async ping(): Promise<boolean> {
    try {
      await this.db.query('SELECT 1')
      return true
    } catch {
      return false
    }
  }

  close(): Promise<void> {
    return this.db.close()
  }
}

/** A driver on a transaction's connection: a nested transaction joins the outer one. */
export function inTransaction(tx: SqlExecutor): SqlDriver {
  return { ...tx, transaction: (fn) => fn(tx), close: () => Promise.resolve() }
}

function toSummary(r: CallRow): CallSummary {
  return {
    id: r.id,
    sipCallId: r.sip_call_id,
    direction: r.direction,
    fromUri: r.from_uri,
    toUri: r.to_uri,
    callerId: r.caller_id,
    codec: r.codec,
    startedAt: r.started_at.toISOString(),
    answeredAt: r.answered_at?.toISOString() ?? null,
    endedAt: r.ended_at?.toISOString() ?? null,
    result: r.result,
    endReason: r.end_reason,
    recordingPath: r.recording_path,
    recordingError: r.recording_error,
    turnCount: r.last_turn_seq,
    leadOutcome: r.lead_outcome,
  }
}

function toLead(r: LeadRow): Lead {
  return {
    callerId: r.caller_id,
    nameClip: r.name_clip,
    needClip: r.need_clip,
    phoneDigits: r.phone_digits,
    phoneClip: r.phone_clip,
    clips: r.clips,
    slots: r.slots,
    outcome: r.outcome,
    summary: r.summary,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  }
}
