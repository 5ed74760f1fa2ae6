import type { CallDetail } from '../call-store.ts'
import type { Connector, DeliveryOutcome } from '../outbox/outbox-worker.ts'
import type { OutboxRow } from '../outbox/outbox-store.ts'
import { Bitrix24Client, Bitrix24Error } from './bitrix24-client.ts'

/** The step a finished call enqueues when BITRIX24_WEBHOOK_URL is set. */
export const BITRIX24_STEP = 'bitrix24.lead'
/** ORIGINATOR_ID of the leads we create: with ORIGIN_ID = our call id it finds them again. */
export const ORIGINATOR = 'voice-agent'

export interface Bitrix24ConnectorOptions {
  client: Bitrix24Client
  loadCall: (callId: string) => Promise<CallDetail | null>
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v.trim() : typeof v === 'number' ? String(v) : undefined)

/**
 * One finished call in Bitrix24 (webhook mode): the caller's lead (found by phone with
 * crm.duplicate.findbycomm, else created by crm.lead.add with ORIGIN_ID = our call id), then the
 * transcript and summary as a timeline comment. Each part first looks whether an earlier attempt
 * did it: the lead by crm.lead.list on ORIGIN_ID, the comment by the call id marker in its text.
 */
export class Bitrix24Connector implements Connector {
  constructor(private readonly opts: Bitrix24ConnectorOptions) {}

  async deliver(row: OutboxRow, signal: AbortSignal): Promise<DeliveryOutcome> {
    const call = await this.opts.loadCall(row.callId)
    if (!call) return { kind: 'dead', error: `call ${row.callId} not found` }
    try {
      const leadId = await this.lead(call, signal)
      await this.comment(call, leadId, signal)
      return { kind: 'delivered' }
    } catch (err) {
      if (!(err instanceof Bitrix24Error)) throw err // network, timeout: the worker retries
      // the portal's rate limit: back off longer than the bucket's pace
      if (err.retryAfterMs !== undefined) return { kind: 'retry', error: err.message, retryAfterMs: err.retryAfterMs }
      if (err.status >= 500 || err.status === 429 || err.status === 408) return { kind: 'retry', error: err.message }
      return { kind: 'dead', error: err.message }
    }
  }

  private async lead(call: CallDetail, signal: AbortSignal): Promise<string> {
    const b = this.opts.client
    // a retried add after a lost answer: the lead is there already
    const mine = await b.call<Array<{ ID: string }>>('crm.lead.list', { filter: { ORIGINATOR_ID: ORIGINATOR, ORIGIN_ID: call.id }, select: ['ID'] }, signal)
    if (mine.length) return String(mine[0].ID)
    const phone = phoneOf(call)
    if (phone) {
      const found = await b.call<{ LEAD?: Array<number | string> } | []>(
        'crm.duplicate.findbycomm',
        { type: 'PHONE', values: [phone], entity_type: 'LEAD' },
        signal,
      )
      const ids = Array.isArray(found) ? [] : (found.LEAD ?? [])
      if (ids.length) return String(ids[0])
    }
    const f = call.lead?.slots ?? {}
    const name = str(f.name)
    const budget = Number(f.budget)
    const id = await b.call<number | string>(
      'crm.lead.add',
      {
        fields: {
          TITLE: `Call ${phone ?? call.callerId}${name ? `: ${name}` : ''}`,
          ...(name && { NAME: name }),
          ...(str(f.company) && { COMPANY_TITLE: str(f.company) }),
          ...(phone && { PHONE: [{ VALUE: phone, VALUE_TYPE: 'WORK' }] }),
          ...(str(f.email) && { EMAIL: [{ VALUE: str(f.email), VALUE_TYPE: 'WORK' }] }),
          COMMENTS: [str(f.need) && `Need: ${str(f.need)}`, call.lead?.summary].filter(Boolean).join('\n') || undefined,
          ...(Number.isFinite(budget) && budget > 0 && { OPPORTUNITY: budget }),
          SOURCE_ID: 'CALL',
          ORIGINATOR_ID: ORIGINATOR,
          ORIGIN_ID: call.id,
        },
        params: { REGISTER_SONET_EVENT: 'Y' },
      },
      signal,
    )
    return String(id)
  }

  private async comment(call: CallDetail, leadId: string, signal: AbortSignal): Promise<void> {
    const b = this.opts.client
    const marker = `[voice call ${call.id}]`
    const existing = await b.call<Array<{ COMMENT?: string }>>(
      'crm.timeline.comment.list',
      { filter: { ENTITY_ID: Number(leadId), ENTITY_TYPE: 'lead' }, select: ['ID', 'COMMENT'] },
      signal,
    )
    if (existing.some((c) => c.COMMENT?.includes(marker))) return
    const lines = [marker, `${call.direction} call, ${call.startedAt}, result: ${call.result ?? 'unknown'}`]
    if (call.lead?.summary) lines.push('', call.lead.summary)
    if (call.turns.length) {
      lines.push('')
      for (const t of call.turns) lines.push(`${t.who === 'bot' ? 'Bot' : 'Caller'}: ${t.text ?? '(audio clip)'}`)
    }
    if (call.recordingPath) lines.push('', `Recording: ${call.recordingPath}`)
    await b.call('crm.timeline.comment.add', { fields: { ENTITY_ID: Number(leadId), ENTITY_TYPE: 'lead', COMMENT: lines.join('\n') } }, signal)
  }
}

/** The number to look the caller up by: what they gave, else the caller id; digits and a leading +. */
export function phoneOf(call: CallDetail): string | undefined {
  const raw = call.lead?.phoneDigits ?? str(call.lead?.slots.phone) ?? call.callerId
  const p = raw?.replace(/[^\d+]/g, '')
  return p && /\d{5,}/.test(p) ? p : undefined
}
