import { createHmac } from 'node:crypto'
import type { CallDetail } from '../call-store.ts'
import type { Connector, DeliveryOutcome } from './outbox-worker.ts'
import type { OutboxRow } from './outbox-store.ts'

/** The step a finished call enqueues when CRM_WEBHOOK_URL is set. */
export const WEBHOOK_STEP = 'webhook.lead'
/** The step a campaign contact's final state enqueues (crm/outbox/campaign-outcome.ts); its body is the row's payload. */
export const CAMPAIGN_WEBHOOK_STEP = 'webhook.campaign-contact'

/** The JSON body POSTed to CRM_WEBHOOK_URL for each finished call (README "CRM"). */
export interface WebhookLeadPayload {
  schema: 'voice.lead.v1'
  event: 'call.finished'
  callId: string
  idempotencyKey: string
  direction: 'inbound' | 'outbound'
  /** the caller's number (From user part or caller id) */
  callerNumber: string
  from: string
  to: string
  startedAt: string
  answeredAt: string | null
  endedAt: string | null
  durationSeconds: number | null
  /** completed, caller-hangup, failed, ... */
  result: string | null
  endReason: string | null
  lead: {
    outcome: string
    /** the number the caller gave (DTMF or speech), when any */
    phone: string | null
    /** what the scenario or agent collected: name, company, need, budget, callbackTime, ... */
    fields: Record<string, unknown>
    /** answer clips by question (paths on the server) */
    clips: Record<string, string>
    summary: string | null
  } | null
  transcript: Array<{ seq: number; who: 'bot' | 'caller'; startMs: number; endMs: number; text: string | null }>
  recording: { path: string; url: string | null } | null
}

/** The lead of a finished call, as the webhook sends it. */
export function leadPayload(call: CallDetail, idempotencyKey: string, recordingBaseUrl?: string): WebhookLeadPayload {
  const duration = call.answeredAt && call.endedAt ? (Date.parse(call.endedAt) - Date.parse(call.answeredAt)) / 1000 : null
  const l = call.lead
  return {
    schema: 'voice.lead.v1',
    event: 'call.finished',
    callId: call.id,
    idempotencyKey,
    direction: call.direction,
    callerNumber: call.callerId,
    from: call.fromUri,
    to: call.toUri,
    startedAt: call.startedAt,
    answeredAt: call.answeredAt,
    endedAt: call.endedAt,
    durationSeconds: duration,
    result: call.result,
    endReason: call.endReason,
    lead: l && {
      outcome: l.outcome,
      phone: l.phoneDigits ?? (typeof l.slots.phone === 'string' ? l.slots.phone : null),
      fields: l.slots,
      clips: l.clips,
      summary: l.summary,
    },
    transcript: call.turns.map((t) => ({ seq: t.seq, who: t.who, startMs: t.startMs, endMs: t.endMs, text: t.text })),
    recording: call.recordingPath
      ? { path: call.recordingPath, url: recordingBaseUrl ? `${recordingBaseUrl.replace(/\/$/, '')}/${encodeURIComponent(call.id)}/call.wav` : null }
      : null,
  }
}

/** `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`: what X-Voice-Signature carries. */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')
}

/** Retry-After as ms: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

export interface WebhookConnectorOptions {
  /** CRM_WEBHOOK_SECRET; without it the body goes unsigned (no X-Voice-Signature) */
  secret?: string
  /** the call record, read at delivery so that a retry sends what the database holds */
  loadCall: (callId: string) => Promise<CallDetail | null>
  recordingBaseUrl?: string
}

/**
 * POSTs the finished call's lead (or, for a campaign step, the contact's `campaign.contact` event
 * as enqueued) to the row's target (CRM_WEBHOOK_URL). Every attempt of a step
 * carries the same Idempotency-Key (call id + step): the receiver is asked to dedupe on it, which is
 * how a retry after a lost 2xx is not applied twice. 2xx delivered; 408, 429, 5xx, timeouts and
 * network errors retry (Retry-After honoured); any other 4xx is dead with the receiver's body.
 */
export class WebhookConnector implements Connector {
  constructor(private readonly opts: WebhookConnectorOptions) {}

  async deliver(row: OutboxRow, signal: AbortSignal): Promise<DeliveryOutcome> {
    let body: string
    if (row.step === CAMPAIGN_WEBHOOK_STEP) body = JSON.stringify({ ...row.payload, idempotencyKey: row.idempotencyKey })
    else {
      const call = await this.opts.loadCall(row.callId)
      if (!call) return { kind: 'dead', error: `call ${row.callId} not found` }
      body = JSON.stringify(leadPayload(call, row.idempotencyKey, this.opts.recordingBaseUrl))
    }
    const timestamp = String(Math.floor(Date.now() / 1000))
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'voice-agent-crm-webhook/1',
      'x-voice-timestamp': timestamp,
      'idempotency-key': row.idempotencyKey,
    }
    if (this.opts.secret) headers['x-voice-signature'] = signWebhook(this.opts.secret, timestamp, body)
    let res: Response
    try {
      res = await fetch(row.target, { method: 'POST', headers, body, signal, redirect: 'manual' })
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } }
      return { kind: 'retry', error: `POST failed: ${e.cause?.code ?? e.cause?.message ?? e.message}` }
    }
    const text = (await res.text().catch(() => '')).slice(0, 1000)
    if (res.status >= 200 && res.status < 300) return { kind: 'delivered' }
    const error = `HTTP ${res.status}${text ? `: ${text}` : ''}`
    if (res.status === 408 || res.status === 429 || res.status >= 500) {
      return { kind: 'retry', error, retryAfterMs: parseRetryAfter(res.headers.get('retry-after')) }
    }
    return { kind: 'dead', error }
  }
}
