// A transfer of an answered inbound call, whatever UA serves it: REFER (RFC 3515) with its implicit
// subscription, the bridged fallback when the caller refuses it, and our BYE once the transferee
// reached the target (RFC 5589 §6).
import type { Logger } from 'pino'
import type { DialOptions, OutboundCall, TransferOptions, TransferResult } from './call-control.ts'
import { bridgeTransfer, type BridgedCall } from './bridge-transfer.ts'
import { ReferSubscription } from './refer-subscription.ts'
import { transferTargetUri } from './transfer-target.ts'

const DEFAULT_NOTIFY_TIMEOUT_MS = 30_000

/** What the transfer needs of a call: the backends differ in how a REFER and a BYE go out. */
export interface ReferringCall extends BridgedCall {
  readonly log: Logger
  /** the subscription of the REFER in progress: the call hands it the NOTIFYs that arrive */
  referSub: ReferSubscription | undefined
  /** REFER in the call's dialog; its final status, or undefined when none came */
  sendRefer(headers: { 'Refer-To': string; 'Referred-By': string }): Promise<{ status: number; reason?: string } | undefined>
  /** the call is transferred: our BYE */
  endTransferred(): Promise<void>
  dial(target: string, opts: DialOptions): Promise<OutboundCall>
  off(event: 'ended', fn: () => void): unknown
}

export async function referTransfer(call: ReferringCall, referredBy: string, target: string, opts: TransferOptions): Promise<TransferResult> {
  if (call.referSub && !call.referSub.settled) return { ok: false, reason: 'a transfer is already in progress' }
  let uri: string
  try {
    uri = transferTargetUri(target, opts.domain)
  } catch (err) {
    return { ok: false, reason: (err as Error).message }
  }
  // Created before the REFER goes out: a NOTIFY may overtake the 202.
  const sub = new ReferSubscription()
  call.referSub = sub
  const onEnded = () => sub.finish({ ok: false, reason: 'the call ended during the transfer' })
  call.once('ended', onEnded)
  try {
    call.log.info({ target: uri }, 'REFER sent')
    const res = await call.sendRefer({ 'Refer-To': `<${uri}>`, 'Referred-By': `<${referredBy}>` })
    if (!res) return { ok: false, reason: 'no response to the REFER' }
    if (res.status >= 300) {
      sub.finish({ ok: false, reason: 'REFER refused', status: res.status })
      call.log.info({ status: res.status }, 'REFER refused')
      // 481: the dialog is gone on the caller's side, there is nobody left to bridge.
      if (opts.bridge && res.status !== 481 && call.isUp()) return await bridgeTransfer(call, (t, o) => call.dial(t, o), uri, opts.bridge, res.status, call.log)
      return { ok: false, reason: `REFER refused: ${res.status} ${res.reason ?? ''}`.trim(), status: res.status }
    }
    sub.accepted(opts.notifyTimeoutMs ?? DEFAULT_NOTIFY_TIMEOUT_MS)
    const outcome = await sub.outcome
    call.log.info({ outcome }, 'transfer outcome')
    if (outcome.ok) await call.endTransferred()
    return outcome
  } finally {
    call.off('ended', onEnded)
  }
}
