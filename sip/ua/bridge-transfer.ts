import type { Logger } from 'pino'
import { DialError, type DialOptions, type OutboundCall, type TransferOptions, type TransferResult } from './call-control.ts'

/** The side of an answered inbound call that the bridged fallback of a transfer needs, whatever UA serves it. */
export interface BridgedCall {
  readonly callerId: string
  /** Whether the call is still answered and up. */
  isUp(): boolean
  hangup(): Promise<void>
  once(event: 'ended', fn: () => void): unknown
}

/**
 * The REFER was refused: place the call to the target ourselves (as the caller's number) and tie
 * the two dialogs together, so that a BYE on either ends the other.
 */
export async function bridgeTransfer(
  call: BridgedCall,
  dial: (target: string, opts: DialOptions) => Promise<OutboundCall>,
  uri: string,
  bridge: NonNullable<TransferOptions['bridge']>,
  referStatus: number,
  log: Logger,
): Promise<TransferResult> {
  try {
    const leg = await dial(uri, { sdp: await bridge.offer(), fromUser: call.callerId || undefined, ringTimeoutMs: bridge.ringTimeoutMs })
    const callGone = (): TransferResult => {
      void leg.hangup()
      return { ok: false, reason: 'the call ended while the target answered' }
    }
    if (!call.isUp()) return callGone()
    const refused = await bridge.refuseAnswer?.(leg.answer)
    if (refused) {
      log.warn({ reason: refused, leg: leg.sipCallId }, 'bridged call answered with media we cannot relay: hung up')
      void leg.hangup()
      return { ok: false, reason: `REFER refused (${referStatus}) and the bridged call cannot be relayed: ${refused}`, status: referStatus }
    }
    // the caller may have hung up while the answer's media was being connected
    if (!call.isUp()) return callGone()
    leg.once('ended', () => void call.hangup())
    call.once('ended', () => void leg.hangup())
    return { ok: true, method: 'bridge', leg, referStatus }
  } catch (err) {
    const status = err instanceof DialError && typeof err.status === 'number' ? err.status : undefined
    return { ok: false, reason: `REFER refused (${referStatus}) and the bridged call failed: ${(err as Error).message}`, ...(status ? { status } : {}) }
  }
}
