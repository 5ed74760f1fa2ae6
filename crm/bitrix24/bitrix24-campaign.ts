import type { Logger } from 'pino'
import type { CampaignContactPayload } from '../outbox/campaign-outcome.ts'
import { idempotencyKey, type OutboxRow } from '../outbox/outbox-store.ts'
import type { Connector, DeliveryOutcome } from '../outbox/outbox-worker.ts'
import type { SqlExecutor } from '../sql-driver.ts'
import { runJobs, type BatchJob } from './batch-jobs.ts'
import type { Bitrix24Client, BatchCommand } from './bitrix24-client.ts'
import { commentList, hasMarker, timelineComment, type TimelineEntity } from './bitrix24-commands.ts'
import { BITRIX24_STEP } from './bitrix24-connector.ts'

/** The step a campaign contact's final state enqueues when Bitrix24 is configured. */
export const CAMPAIGN_BITRIX24_STEP = 'bitrix24.campaign-contact'

export interface Bitrix24CampaignOptions {
  client: Bitrix24Client
  /** the outbox's database: a contact's last call's own Bitrix24 step is looked up there */
  db: SqlExecutor
  /** BITRIX24_DNC_STATUS_ID: the lead status for "do not call" (unset: a comment only) */
  dncStatusId?: string
  /** BITRIX24_WRONG_NUMBER_STATUS_ID: the lead status for a wrong number (unset: a comment only) */
  wrongNumberStatusId?: string
  logger?: Logger
}

interface Job extends BatchJob {
  row: OutboxRow
  p: CampaignContactPayload
  /** where the comment goes: the lead the campaign was fed from, else the lead, contact or company with the number */
  entity?: TimelineEntity
  commentMissing?: boolean
}

const marker = (key: string) => `[voice campaign ${key}]`

/**
 * A campaign contact's outcome in Bitrix24: a timeline comment (campaign, attempts, outcome) on the
 * lead it was fed from (fields.leadId), else on the lead, contact or company with its number
 * (crm.duplicate.findbycomm, as the call steps find a caller); for "do not call" and a wrong number
 * the lead's status when one is configured. A number Bitrix24 does not know gets nothing: a cold
 * number that never answered is no lead.
 *
 * A contact whose last call has its own Bitrix24 step (the lead or comment of the call) waits until
 * that is delivered, so the campaign's comment goes on the lead the call filed. A retried row first
 * looks for its comment (by its marker) before adding it; the status update is the same every time.
 */
export class Bitrix24CampaignConnector implements Connector {
  constructor(private readonly opts: Bitrix24CampaignOptions) {}

  async deliver(row: OutboxRow, signal: AbortSignal): Promise<DeliveryOutcome> {
    return (await this.deliverMany([row], signal))[0]
  }

  async deliverMany(rows: OutboxRow[], signal: AbortSignal): Promise<DeliveryOutcome[]> {
    const jobs: Job[] = rows.map((row) => ({ row, p: row.payload as unknown as CampaignContactPayload }))
    await this.afterCallSteps(jobs)
    for (const job of jobs) {
      const leadId = job.p.contact.fields.leadId
      if (leadId && /^\d+$/.test(leadId)) job.entity = { kind: 'lead', id: leadId }
    }
    await runJobs(
      this.opts.client,
      jobs.filter((j) => !j.entity),
      signal,
      (job) => ({ dup: { method: 'crm.duplicate.findbycomm', params: { type: 'PHONE', values: [job.p.contact.phone] } } }),
      (job, r) => {
        const dup = (r.dup && !Array.isArray(r.dup) ? r.dup : {}) as Partial<Record<'LEAD' | 'CONTACT' | 'COMPANY', Array<string | number>>>
        const [kind, id] =
          dup.LEAD?.[0] !== undefined ? ['lead', dup.LEAD[0]] : dup.CONTACT?.[0] !== undefined ? ['contact', dup.CONTACT[0]] : ['company', dup.COMPANY?.[0]]
        if (id !== undefined) job.entity = { kind: kind as TimelineEntity['kind'], id: String(id) }
        else
          this.opts.logger?.info(
            { campaignId: job.p.campaign.id, contactId: job.p.contact.id },
            'Bitrix24: campaign contact unknown to the portal, nothing to note',
          )
      },
    )
    const found = jobs.filter((j) => j.entity)
    await runJobs(
      this.opts.client,
      found,
      signal,
      (job): Record<string, BatchCommand> => {
        const status = this.statusOf(job)
        const update: Record<string, BatchCommand> = status
          ? { update: { method: 'crm.lead.update', params: { id: job.entity!.id, fields: { STATUS_ID: status } } } }
          : {}
        if (job.row.attempts > 1) return { comments: commentList(job.entity!), ...update }
        return { comment: timelineComment(job.entity!, commentText(job.p, job.row.idempotencyKey)), ...update }
      },
      (job, r) => {
        if (r.comments !== undefined) job.commentMissing = !hasMarker(r.comments, marker(job.row.idempotencyKey))
      },
    )
    await runJobs(
      this.opts.client,
      found.filter((j) => j.commentMissing),
      signal,
      (job) => ({ comment: timelineComment(job.entity!, commentText(job.p, job.row.idempotencyKey)) }),
      () => {},
    )
    return jobs.map((j) => j.outcome ?? { kind: 'delivered' })
  }

  /** Jobs whose last call's own Bitrix24 step is still to be delivered wait for it (a retry). */
  private async afterCallSteps(jobs: Job[]): Promise<void> {
    const keyOf = (job: Job) => (job.p.lastCallId ? idempotencyKey(job.p.lastCallId, BITRIX24_STEP) : undefined)
    const keys = jobs.map(keyOf).filter((k): k is string => !!k)
    if (!keys.length) return
    const { rows } = await this.opts.db.query<{ idempotency_key: string }>(
      `SELECT idempotency_key FROM crm_outbox WHERE idempotency_key = ANY($1::text[]) AND state IN ('queued', 'delivering')`,
      [keys],
    )
    const pending = new Set(rows.map((r) => r.idempotency_key))
    for (const job of jobs) {
      if (pending.has(keyOf(job) ?? '')) job.outcome = { kind: 'retry', error: `waiting for call ${job.p.lastCallId}'s own Bitrix24 step` }
    }
  }

  /** The lead status the outcome asks for, when configured (only a lead has a status). */
  private statusOf(job: Job): string | undefined {
    if (job.entity?.kind !== 'lead') return undefined
    if (job.p.state === 'do-not-call' || job.p.outcome === 'do-not-call') return this.opts.dncStatusId || undefined
    if (job.p.outcome === 'wrong-number') return this.opts.wrongNumberStatusId || undefined
    return undefined
  }
}

/** The comment a seller reads: the campaign, how the contact ended, after how many calls. */
function commentText(p: CampaignContactPayload, key: string): string {
  const how = {
    done: `reached, outcome: ${p.outcome ?? 'none'}`,
    exhausted: `no answer after ${p.attempts} attempts`,
    failed: `not callable (${[p.lastResult, p.lastStatus].filter((x) => x !== null).join(' ') || 'unknown'})`,
    'do-not-call': p.outcome === 'do-not-call' ? 'asked not to be called' : 'on the do-not-call list, not called',
  }[p.state]
  const lines = [marker(key), `Campaign "${p.campaign.name}": ${how}`, `Attempts: ${p.attempts}`]
  if (p.lastCallId) lines.push(`Last call: ${p.lastCallId} (${p.lastResult ?? 'unknown'})`)
  return lines.join('\n')
}
