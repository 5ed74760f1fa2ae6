// A campaign contact's final state as CRM steps: enqueued in the transaction that writes that state,
// so an outcome is never lost nor sent for a state that was rolled back.
import { CAMPAIGN_BITRIX24_STEP } from '../bitrix24/bitrix24-campaign.ts'
import type { SqlExecutor } from '../sql-driver.ts'
import { enqueueSteps, type OutboxStep } from './outbox-store.ts'
import { CAMPAIGN_WEBHOOK_STEP } from './webhook.ts'

/** The states a contact is never called again from. */
export const FINAL_CONTACT_STATES = ['done', 'failed', 'exhausted', 'do-not-call'] as const
export type FinalContactState = (typeof FINAL_CONTACT_STATES)[number]

/** The parts of a campaign contact (dialer/campaign-store.ts Contact) its outcome is told from. */
export interface CampaignContactView {
  id: string
  phone: string
  name?: string
  fields: Record<string, string>
  /** pending or dialing: no outcome yet, no step */
  state: string
  attempts: number
  lastCallId: string | null
  lastResult: string | null
  lastStatus: number | null
  lastRule: string | null
  outcome: string | null
}

/** Which connectors are on: the same targets as the call steps (CRM_WEBHOOK_URL, the Bitrix24 portal). */
export interface CampaignCrmTargets {
  webhookUrl?: string
  bitrix24Portal?: string
  /** as the call steps': the call's own lead goes first (its summary is written after the hang-up) */
  delayMs?: number
}

/**
 * The `campaign.contact` event (README "CRM"): the webhook's body with `idempotencyKey` added, and
 * the payload of every campaign step.
 */
export interface CampaignContactPayload {
  schema: 'voice.campaign.v1'
  event: 'campaign.contact'
  campaign: { id: string; name: string }
  /** fields: the contact's own columns, e.g. leadId and company for a campaign fed from Bitrix24 leads */
  contact: { id: string; phone: string; name: string | null; fields: Record<string, string> }
  /** done: a conversation came to an outcome; failed: not callable (invalid number, declined);
   *  exhausted: no answer after `attempts` calls; do-not-call: the callee asked, or the number is on the list */
  state: FinalContactState
  /** the conversation's outcome: lead, callback, not-interested, wrong-number, do-not-call, transferred, ... */
  outcome: string | null
  attempts: number
  /** the last call (GET /api/calls/:id); null when none was placed (the number was on the do-not-call list) */
  lastCallId: string | null
  /** the last call's SIP result (answered, busy, no-answer, rejected, failed) and status */
  lastResult: string | null
  lastStatus: number | null
  /** the retry-policy rule that settled the contact (exhausted, do-not-call-list, ...) */
  rule: string | null
  finishedAt: string
}

const isFinal = (state: string): state is FinalContactState => (FINAL_CONTACT_STATES as readonly string[]).includes(state)

/** The CRM steps of a contact's final state (none while it is still pending or dialing). */
export function campaignOutcomeSteps(
  campaign: { id: string; name: string },
  contact: CampaignContactView,
  targets: CampaignCrmTargets,
  at: Date,
): OutboxStep[] {
  if (!isFinal(contact.state)) return []
  const payload: CampaignContactPayload = {
    schema: 'voice.campaign.v1',
    event: 'campaign.contact',
    campaign: { id: campaign.id, name: campaign.name },
    contact: { id: contact.id, phone: contact.phone, name: contact.name ?? null, fields: contact.fields },
    state: contact.state,
    outcome: contact.outcome,
    attempts: contact.attempts,
    lastCallId: contact.lastCallId,
    lastResult: contact.lastResult,
    lastStatus: contact.lastStatus,
    rule: contact.lastRule,
    finishedAt: at.toISOString(),
  }
  const delayMs = targets.delayMs
  return [
    ...(targets.webhookUrl ? [{ step: CAMPAIGN_WEBHOOK_STEP, target: targets.webhookUrl, payload: { ...payload }, delayMs }] : []),
    ...(targets.bitrix24Portal ? [{ step: CAMPAIGN_BITRIX24_STEP, target: targets.bitrix24Portal, payload: { ...payload }, delayMs }] : []),
  ]
}

/**
 * Enqueues a contact's outcome on `tx`, the transaction that wrote its final state. `settledBy` is
 * the id of the claim that settled it (finishAttempt's call id, or Claimed.callId for a number found
 * on the do-not-call list): a new one per claim, so the key (`<settledBy>:<step>`) is one per final
 * state, and a settle replayed after a restart enqueues nothing twice.
 */
export async function enqueueCampaignOutcome(
  tx: SqlExecutor,
  settledBy: string,
  campaign: { id: string; name: string },
  contact: CampaignContactView,
  targets: CampaignCrmTargets,
  at: Date,
): Promise<void> {
  await enqueueSteps(tx, settledBy, campaignOutcomeSteps(campaign, contact, targets, at))
}
