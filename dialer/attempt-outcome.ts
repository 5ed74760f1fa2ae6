// What one campaign call came to, read from the call's own record: the same reading serves a call
// that just ended and a contact recovered after a restart (whose call's record is all there is).
import { recordedOutcome, SHUTDOWN_CANCEL, type UnansweredResult } from '../media-server/call/sip-outcome.ts'
import type { AttemptOutcome } from './retry-policy.ts'

/** The parts of a call's record the dialer reads (CallStore.getCall). */
export interface CallRecordView {
  answeredAt: string | null
  endedAt: string | null
  result: string | null
  endReason: string | null
  leadOutcome: string | null
  amd?: { result: string } | null
}

const AMD_RESULTS = ['human', 'machine', 'unknown'] as const

/** A scenario's or the agent's outcome, in the retry policy's words. */
const CONVERSATION: Record<string, string> = {
  qualified_lead: 'lead',
  qualified: 'lead',
  lead: 'lead',
  callback_booked: 'callback',
  callback: 'callback',
  transferred: 'transferred',
  not_interested: 'not-interested',
  wrong_number: 'wrong-number',
  do_not_call: 'do-not-call',
  no_answer: 'no-input',
  'no-input': 'no-input',
}

/**
 * The outcome of the attempt whose call this record is; `null` record: the call left no row (its
 * INVITE went out, then the process died before the row was written), which is a failed attempt.
 */
export function attemptOutcomeOf(call: CallRecordView | null): AttemptOutcome {
  if (!call) return { sip: 'failed' }
  const { sipResult, sipStatus } = recordedOutcome(call)
  const amd = AMD_RESULTS.find((r) => r === call.amd?.result)
  const amdPart = amd ? { amd } : {}
  // an unanswered record says busy, no-answer, rejected or failed (recordedOutcome reads nothing else)
  if (sipResult !== 'answered')
    return {
      sip: sipResult as UnansweredResult,
      ...(sipStatus !== null && { status: sipStatus }),
      ...(call.endReason === SHUTDOWN_CANCEL && { interrupted: true }),
      ...amdPart,
    }
  const lead = call.leadOutcome
  const conversation = lead ? (CONVERSATION[lead] ?? lead) : call.endedAt ? 'caller-hangup' : undefined
  return { sip: 'answered', status: 200, ...amdPart, ...(conversation && { conversation }) }
}
