// Requests both call directions send the same way inside a dialog: the ACK of a 2xx to our INVITE,
// and our session refresh (RFC 4028 §7.4).
import type { Logger } from 'pino'
import type { Dialog } from '../dialog/dialog.ts'
import type { Remote, SipRequest, SipResponse } from '../message/types.ts'
import { ALLOW, SUPPORTED } from './uas-checks.ts'
import type { UaContext } from './ua-context.ts'

/** The ACK of a 2xx to `invite`, sent inside `dialog` (RFC 3261 §13.2.2.4): the INVITE's CSeq number, no Contact. */
export function ackFor(dialog: Dialog, invite: SipRequest): SipRequest {
  const ack = dialog.createRequest('ACK')
  delete ack.headers.contact
  ack.headers.cseq = { seq: invite.headers.cseq.seq, method: 'ACK' }
  return ack
}

export interface RefreshingCall {
  readonly dialog: Dialog
  readonly remote: Remote
  readonly log: Logger
  /** the peer's Allow named UPDATE */
  readonly peerAllowsUpdate: boolean
  /** the description already agreed, repeated in a refreshing re-INVITE */
  readonly localSdp: string | undefined
  /** our re-INVITE is in progress (true) or over (false): a crossing re-INVITE of the peer's gets 491 meanwhile */
  invitePending(on: boolean): void
}

/**
 * Our session refresh: UPDATE without a body when the peer allows it, else a re-INVITE with the
 * description already agreed (its 2xx is ACKed, the SDP in it taken as unchanged).
 */
export function sendSessionRefresh(ctx: UaContext, call: RefreshingCall, headers: Record<string, string>): Promise<SipResponse | 'timeout'> {
  const extra = Object.fromEntries(Object.entries({ ...headers, Supported: SUPPORTED }).map(([k, v]) => [k.toLowerCase(), v]))
  if (call.peerAllowsUpdate) {
    const update = call.dialog.createRequest('UPDATE')
    Object.assign(update.headers, extra)
    call.log.info('session refresh: UPDATE')
    return ctx.request(update, call.remote)
  }
  const sdp = call.localSdp ?? ''
  const invite = call.dialog.createRequest('INVITE', sdp, sdp ? 'application/sdp' : undefined)
  Object.assign(invite.headers, extra, { allow: ALLOW })
  call.log.info('session refresh: re-INVITE')
  call.invitePending(true)
  return new Promise((resolve) => {
    ctx.invite(
      invite,
      call.remote,
      (res) => {
        if (res.status < 200) return
        call.invitePending(false)
        // every 2xx (retransmissions too) gets its ACK, RFC 3261 §13.2.2.4
        if (res.status < 300) ctx.send(ackFor(call.dialog, invite), call.remote)
        resolve(res)
      },
      () => {
        call.invitePending(false)
        resolve('timeout')
      },
    )
  })
}
