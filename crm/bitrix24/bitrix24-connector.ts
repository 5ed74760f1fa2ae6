import { readFile } from 'node:fs/promises'
import type { Logger } from 'pino'
import { basename } from 'node:path'
import type { CallDetail } from '../call-store.ts'
import type { Connector, DeliveryOutcome } from '../outbox/outbox-worker.ts'
import type { OutboxRow } from '../outbox/outbox-store.ts'
import type { SqlExecutor } from '../sql-driver.ts'
import type { Bitrix24Client, BatchCommand } from './bitrix24-client.ts'
import { runJobs, thrownOutcome } from './batch-jobs.ts'
import {
  commentAdd,
  commentList,
  dealAdd,
  dealUpdate,
  hasMarker,
  leadAdd,
  leadUpdate,
  marker,
  openDeals,
  ORIGINATOR,
  phoneOf,
  todoAdd,
  todoList,
  todoOf,
  type Client,
  type Owner,
} from './bitrix24-commands.ts'
import { finishCommand, PortalCallStore, registerCommand, statisticCommand, type PortalCall } from './bitrix24-telephony.ts'

/** The step a finished call enqueues when Bitrix24 is configured. */
export const BITRIX24_STEP = 'bitrix24.lead'

export interface Bitrix24ConnectorOptions {
  client: Bitrix24Client
  loadCall: (callId: string) => Promise<CallDetail | null>
  /**
   * Application mode with BITRIX24_USER_ID: each call also as a telephony call on the lead
   * (register, finish, the recording), as that user; the portal's CALL_ID kept in `db`.
   */
  telephony?: { userId: number; db: SqlExecutor }
  /** a missed or abandoned inbound call's "call back" to-do is due this long after the call (default an hour) */
  callbackMs?: number
  logger?: Logger
  /** CURRENCY_ID of the deals we create or give a budget (default RUB) */
  currency?: string
}

/** One row in a delivery: its call, what is known of it so far, and how it ended (once it has). */
interface Job {
  row: OutboxRow
  call: CallDetail
  /** an earlier attempt may have done some steps (its answer lost, or the process died) */
  retried: boolean
  /** a new or known caller's lead; a deal for a caller known as a contact or company */
  kind: Owner['kind']
  /** the lead or deal, once known (unset: created in the writes' batch, `$result[add]`) */
  ownerId?: string
  /** the caller as Bitrix24 knows them (a contact or company): the call goes on a deal of theirs */
  client?: Client
  /** how the lead or deal was found: ours from an earlier attempt, or the caller's (by phone, or their open deal) */
  found?: 'mine' | 'dup'
  /** the caller's existing lead or open deal as it is, to fill only its empty fields */
  current?: Record<string, unknown>
  /** a retried call's lead has no comment / to-do of this call yet */
  commentMissing?: boolean
  todoMissing?: boolean
  /** telephony: what is done of the call's record in the portal */
  portal?: PortalCall
  /** set when the job failed: the rest of its steps are skipped */
  outcome?: DeliveryOutcome
}

/**
 * Finished calls in Bitrix24, several calls per `batch` request: the caller's lead (found by phone
 * with crm.duplicate.findbycomm, else created by crm.lead.add with ORIGIN_ID = our call id, or its
 * empty fields filled), or for a caller known as a contact or company their open deal (its budget
 * filled when empty) or a new deal (crm.deal.add, ORIGIN_ID = our call id); the transcript and summary as a timeline comment, a call-back to-do, and in
 * application mode the call as a telephony call with its recording. A first attempt knows nothing
 * was done before (the row's attempt count); a retried one first looks whether an earlier attempt
 * did each part: the lead or deal by ORIGIN_ID, the comment and to-do by the call id marker in their text,
 * the telephony parts in crm_bitrix24_calls and voximplant.statistic.get.
 *
 * Requests per group of calls, each a batch of at most 50 commands: the lookups; the returning
 * callers' leads (only when the call gave fields); the writes (`$result[add]` for a new lead);
 * for retried calls the comments and to-dos not found; the telephony finishes; one request per
 * recording.
 */
export class Bitrix24Connector implements Connector {
  private readonly portalCalls?: PortalCallStore

  constructor(private readonly opts: Bitrix24ConnectorOptions) {
    if (opts.telephony) this.portalCalls = new PortalCallStore(opts.telephony.db)
  }

  async deliver(row: OutboxRow, signal: AbortSignal): Promise<DeliveryOutcome> {
    return (await this.deliverMany([row], signal))[0]
  }

  async deliverMany(rows: OutboxRow[], signal: AbortSignal): Promise<DeliveryOutcome[]> {
    const jobs: Job[] = []
    const out: DeliveryOutcome[] = []
    for (const row of rows) {
      const call = await this.opts.loadCall(row.callId)
      if (!call) out.push({ kind: 'dead', error: `call ${row.callId} not found` })
      else jobs.push({ row, call, retried: row.attempts > 1, kind: 'lead' })
    }
    if (this.portalCalls) {
      const known = await this.portalCalls.get(jobs.map((j) => j.call.id))
      for (const j of jobs) j.portal = known.get(j.call.id)
    }
    // two calls from one number in a group: the later goes after the earlier's lead exists and finds
    // it by phone (looked up side by side, a new caller's calls would each create a lead)
    const seen = new Set<string>()
    const rounds: Job[][] = [[], []]
    for (const job of jobs) {
      const phone = phoneOf(job.call)
      rounds[phone && seen.has(phone) ? 1 : 0].push(job)
      if (phone) seen.add(phone)
    }
    for (const round of rounds) if (round.length) await this.deliverJobs(round, signal)
    let j = 0
    return rows.map((row) => (jobs[j]?.row === row ? (jobs[j++].outcome ?? { kind: 'delivered' }) : out.shift()!))
  }

  private async deliverJobs(jobs: Job[], signal: AbortSignal): Promise<void> {
    await this.find(jobs, signal)
    await this.openDeal(jobs, signal)
    await this.read(jobs, signal)
    await this.write(jobs, signal)
    await this.notesNotFound(jobs, signal)
    if (this.opts.telephony) {
      await this.telephonyDone(jobs, signal)
      await this.finish(jobs, signal, this.opts.telephony.userId)
      await this.attachRecords(jobs, signal)
    }
  }

  /**
   * The caller: by phone (crm.duplicate.findbycomm over leads, contacts and companies); a contact or
   * company means a deal (theirs or a new one), else their lead or a new one. A retried call first
   * looks for the lead or deal an earlier attempt created (ORIGIN_ID = our call id).
   */
  private async find(jobs: Job[], signal: AbortSignal): Promise<void> {
    const mineOf = (kind: Owner['kind'], id: string): BatchCommand => ({
      method: `crm.${kind}.list`,
      params: { filter: { ORIGINATOR_ID: ORIGINATOR, ORIGIN_ID: id }, select: ['ID'] },
    })
    await runJobs(
      this.opts.client,
      jobs,
      signal,
      (job) => {
        const phone = phoneOf(job.call)
        return {
          ...(job.retried && { mine: mineOf('lead', job.call.id), mineDeal: mineOf('deal', job.call.id) }),
          ...(phone && { dup: { method: 'crm.duplicate.findbycomm', params: { type: 'PHONE', values: [phone] } } }),
        }
      },
      (job, r) => {
        const first = (v: unknown) => (v as Array<{ ID: string | number }> | undefined)?.[0]?.ID
        const dup = (r.dup && !Array.isArray(r.dup) ? r.dup : {}) as Partial<Record<'LEAD' | 'CONTACT' | 'COMPANY', Array<string | number>>>
        const client = dup.CONTACT?.[0] ?? dup.COMPANY?.[0]
        if (client !== undefined) [job.kind, job.client] = ['deal', { type: dup.CONTACT?.[0] !== undefined ? 'CONTACT' : 'COMPANY', id: String(client) }]
        const mine = first(r.mineDeal)
        // our own lead from an earlier attempt stays the call's lead (its call activity too)
        if (first(r.mine) !== undefined) [job.kind, job.ownerId, job.found, job.client] = ['lead', String(first(r.mine)), 'mine', undefined]
        else if (mine !== undefined) [job.kind, job.ownerId, job.found] = ['deal', String(mine), 'mine']
        else if (!job.client && dup.LEAD?.[0] !== undefined) [job.ownerId, job.found] = [String(dup.LEAD[0]), 'dup']
      },
    )
  }

  /** A known client (contact or company) without our deal: their newest open deal, to update rather than twin. */
  private async openDeal(jobs: Job[], signal: AbortSignal): Promise<void> {
    await runJobs(
      this.opts.client,
      jobs.filter((j) => j.client && !j.ownerId),
      signal,
      (job) => ({ open: openDeals(job.client!) }),
      (job, r) => {
        const deal = (r.open as Array<Record<string, unknown>> | undefined)?.[0]
        if (deal) [job.ownerId, job.found, job.current] = [String(deal.ID), 'dup', deal]
      },
    )
  }

  /** A returning caller's lead as it is, when the call gave fields it may lack. */
  private async read(jobs: Job[], signal: AbortSignal): Promise<void> {
    await runJobs(
      this.opts.client,
      jobs.filter((j) => j.kind === 'lead' && j.found === 'dup' && leadUpdate(j.call, {})),
      signal,
      (job) => ({ lead: { method: 'crm.lead.get', params: { id: job.ownerId } } }),
      (job, r) => {
        job.current = r.lead as Record<string, unknown>
      },
    )
  }

  /**
   * A new caller's lead and comment; a known lead's comment (or, retried, its comment lookup), its
   * empty fields filled; the call-back to-do (or, retried, its lookup); the telephony registration.
   */
  private async write(jobs: Job[], signal: AbortSignal): Promise<void> {
    await runJobs(
      this.opts.client,
      jobs,
      signal,
      (job): Record<string, BatchCommand> => {
        const owner: Owner = { kind: job.kind, id: job.ownerId ?? '$result[add]' }
        const currency = this.opts.currency ?? 'RUB'
        const tel = this.opts.telephony
        // registered once: a register whose answer was lost gives the same CALL_ID again (Bitrix24
        // does so for 30 minutes while the call is not finished, and finish waits for the CALL_ID);
        // a deal's call goes on the client (the method takes a lead, contact or company)
        const entity = job.client ?? { type: 'LEAD' as const, id: owner.id }
        const register: Record<string, BatchCommand> = tel && !job.portal ? { register: registerCommand(job.call, entity, tel.userId) } : {}
        const todo = todoOf(job.call, this.opts.callbackMs)
        const todos: Record<string, BatchCommand> = !todo ? {} : job.retried && job.ownerId ? { todos: todoList(owner) } : todoAdd(job.call, owner, todo)
        if (!job.ownerId) {
          const add = job.client ? dealAdd(job.call, job.client, currency) : leadAdd(job.call)
          return { add: { method: `crm.${job.kind}.add`, params: add }, comment: commentAdd(job.call, owner), ...register, ...todos }
        }
        const fill = job.current && (job.kind === 'deal' ? dealUpdate(job.call, job.current, currency) : leadUpdate(job.call, job.current))
        const update: Record<string, BatchCommand> = fill ? { update: { method: `crm.${job.kind}.update`, params: { id: job.ownerId, fields: fill } } } : {}
        if (job.retried) return { comments: commentList(owner), ...update, ...register, ...todos }
        return { comment: commentAdd(job.call, owner), ...update, ...register, ...todos }
      },
      async (job, r) => {
        if (r.add !== undefined) job.ownerId = String(r.add)
        if (job.kind === 'deal') {
          const deal = r.add !== undefined ? 'new' : job.found === 'mine' ? 'ours, from an earlier attempt' : 'their open deal'
          const fields = { callId: job.call.id, dealId: job.ownerId, client: job.client, deal, budgetFilled: r.update !== undefined }
          this.opts.logger?.info(fields, 'Bitrix24: the call goes on a deal of a known client')
        }
        if (r.comments !== undefined) job.commentMissing = !hasMarker(r.comments, marker(job.call.id))
        if (r.todos !== undefined) job.todoMissing = !hasMarker(r.todos, marker(job.call.id))
        const callId = (r.register as { CALL_ID?: string } | undefined)?.CALL_ID
        if (callId) {
          await this.portalCalls!.registered(job.call.id, callId)
          job.portal = { portalCallId: callId, finished: false, recordAttached: false }
        }
      },
    )
  }

  /** Retried calls: the comment and to-do their lookups did not find. */
  private async notesNotFound(jobs: Job[], signal: AbortSignal): Promise<void> {
    await runJobs(
      this.opts.client,
      jobs.filter((j) => j.commentMissing || j.todoMissing),
      signal,
      (job) => ({
        ...(job.commentMissing && { comment: commentAdd(job.call, { kind: job.kind, id: job.ownerId! }) }),
        ...(job.todoMissing && todoAdd(job.call, { kind: job.kind, id: job.ownerId! }, todoOf(job.call, this.opts.callbackMs)!)),
      }),
      () => {},
    )
  }

  /** Retried calls: did an earlier attempt finish the call or attach its record (its answer lost)? */
  private async telephonyDone(jobs: Job[], signal: AbortSignal): Promise<void> {
    await runJobs(
      this.opts.client,
      jobs.filter((j) => j.retried && j.portal && (!j.portal.finished || (j.call.recordingPath && !j.portal.recordAttached))),
      signal,
      (job) => ({ stat: statisticCommand(job.portal!.portalCallId) }),
      async (job, r) => {
        const row = (r.stat as Array<{ RECORD_FILE_ID?: string | number | null }> | undefined)?.[0]
        if (!row) return
        const done = { finished: true, recordAttached: Number(row.RECORD_FILE_ID) > 0 }
        await this.portalCalls!.mark(job.call.id, done)
        job.portal = { ...job.portal!, finished: true, recordAttached: job.portal!.recordAttached || done.recordAttached }
      },
    )
  }

  /** telephony.externalCall.finish: duration and our SIP result as STATUS_CODE; the call activity appears. */
  private async finish(jobs: Job[], signal: AbortSignal, userId: number): Promise<void> {
    await runJobs(
      this.opts.client,
      jobs.filter((j) => j.portal && !j.portal.finished),
      signal,
      (job) => ({ finish: finishCommand(job.call, job.portal!.portalCallId, userId) }),
      async (job) => {
        await this.portalCalls!.mark(job.call.id, { finished: true })
        job.portal!.finished = true
      },
    )
  }

  /**
   * telephony.externalCall.attachRecord with the WAV as FILE_CONTENT (base64): a self-hosted server
   * has no public RECORD_URL. One request per call, outside batches: a recording is megabytes.
   */
  private async attachRecords(jobs: Job[], signal: AbortSignal): Promise<void> {
    for (const job of jobs) {
      const path = job.call.recordingPath
      if (job.outcome || !path || !job.portal?.finished || job.portal.recordAttached) continue
      let content: string
      try {
        content = (await readFile(path)).toString('base64')
      } catch (err) {
        // the recording is gone (disk cleaned): the call and its comment are there, say why there is no audio
        job.outcome = { kind: 'dead', error: `recording ${basename(path)} unreadable: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }
        continue
      }
      try {
        await this.opts.client.call(
          'telephony.externalCall.attachRecord',
          { CALL_ID: job.portal.portalCallId, FILENAME: `${job.call.id}.wav`, FILE_CONTENT: content },
          signal,
        )
        await this.portalCalls!.mark(job.call.id, { recordAttached: true })
        job.portal.recordAttached = true
      } catch (err) {
        job.outcome = thrownOutcome(err)
      }
    }
  }
}
