// What became of a call we placed, in the terms a sales floor uses (and later the retry policy):
// the SIP final response mapped to busy, no-answer, rejected or failed, with its status code.
import { DialError } from '../../sip/ua/call-control.ts'

/** 'calling': the INVITE is out, nothing above 100 came back yet. */
export type OutboundState = 'calling' | 'ringing' | 'answered' | 'busy' | 'no-answer' | 'rejected' | 'failed'
export type UnansweredResult = Extract<OutboundState, 'busy' | 'no-answer' | 'rejected' | 'failed'>

export interface DialOutcome {
  result: UnansweredResult
  /** the final status code the callee or the trunk sent (487 after our CANCEL); none when nothing came */
  status?: number
  /** the record's end reason: starts with the status code when there is one */
  reason: string
}

/** The end reason of an INVITE our own shutdown cancelled (a campaign owes that callee no attempt). */
export const SHUTDOWN_CANCEL = '487 cancelled: the server stopped'

const BUSY = new Set([486, 600])
/** 408 Request Timeout and 480 Temporarily Unavailable: the phone did not pick up or is off. */
const NO_ANSWER = new Set([408, 480])

/**
 * `aborted`: the server cancelled the INVITE (shutdown). The dial's own ring timeout is no answer
 * (with 487 when its CANCEL got one); a 'timeout' without it heard nothing at all (Timer B).
 */
export function dialOutcome(err: unknown, how: { aborted: boolean; ringTimeoutS: number }): DialOutcome {
  if (!(err instanceof DialError)) return { result: 'failed', reason: `error: ${(err as Error)?.message ?? String(err)}` }
  const s = err.status
  const cancelled = s === 'cancelled'
  if (cancelled && how.aborted) return { result: 'failed', status: 487, reason: SHUTDOWN_CANCEL }
  if (err.ringTimedOut)
    return { result: 'no-answer', ...(cancelled && { status: 487 }), reason: `${cancelled ? '487 ' : ''}ring timeout (${how.ringTimeoutS} s)` }
  if (cancelled) return { result: 'failed', status: 487, reason: `487 ${err.message}` }
  if (s === 'timeout') return { result: 'failed', reason: `timeout: ${err.message}` }
  if (s === 'refused') return { result: 'failed', reason: `refused: ${err.message}` }
  const phrase = /answered \d{3} (.*)$/.exec(err.message)?.[1] ?? ''
  const reason = `${s}${phrase ? ` ${phrase}` : ''}`
  if (BUSY.has(s)) return { result: 'busy', status: s, reason }
  if (NO_ANSWER.has(s) || s === 487) return { result: 'no-answer', status: s, reason }
  if (s >= 500 && s < 600) return { result: 'failed', status: s, reason }
  return { result: 'rejected', status: s, reason }
}

/** The SIP result of a finished outbound call as its record holds it: answered, else the result column
 *  with the status code at the start of the end reason. */
export function recordedOutcome(row: { answeredAt: string | null; result: string | null; endReason: string | null }): {
  sipResult: OutboundState
  sipStatus: number | null
} {
  if (row.answeredAt) return { sipResult: 'answered', sipStatus: 200 }
  const known: OutboundState[] = ['busy', 'no-answer', 'rejected', 'failed']
  const sipResult = known.includes(row.result as OutboundState) ? (row.result as OutboundState) : 'failed'
  const status = /^(\d{3})\b/.exec(row.endReason ?? '')?.[1]
  return { sipResult, sipStatus: status ? Number(status) : null }
}
