import type { Logger } from 'pino'
import type { Remote, SipMessage, SipRequest, SipResponse } from '../message/types.ts'
import type { LocalAddress, Dialog } from '../dialog/dialog.ts'
import type { InviteServerTransaction } from '../transaction/invite-server.ts'
import type { NonInviteServerTransaction } from '../transaction/non-invite-server.ts'
import type { SipTimers } from '../transaction/timers.ts'
import type { DialOptions, OutboundCall } from './call-control.ts'
import type { SessionTimerConfig } from './session-timer.ts'

export type ServerTx = InviteServerTransaction | NonInviteServerTransaction

/** What owns a dialog: the UA hands it the requests and ACKs that arrive inside it. */
export interface DialogUsage {
  readonly dialog: Dialog
  onRequest(rq: SipRequest, tx: ServerTx): void
  onAck(rq: SipRequest): void
  hangup(): Promise<void>
}

/** What a call's signalling needs from the user agent that owns it. */
export interface UaContext {
  readonly local: LocalAddress
  readonly timers: SipTimers
  /** RFC 4028: the interval we ask for and the least we accept */
  readonly sessionTimer: SessionTimerConfig
  readonly logger: Logger
  send(m: SipMessage, remote: Remote): void
  /** Sends a request in a non-INVITE client transaction; resolves with the final response. */
  request(rq: SipRequest, remote: Remote): Promise<SipResponse | 'timeout'>
  /** Sends an INVITE in an INVITE client transaction: every response goes to `onResponse`, Timer B to `onTimeout`. */
  invite(rq: SipRequest, remote: Remote, onResponse: (res: SipResponse) => void, onTimeout: () => void): void
  /** Places an outbound call (the bridged fallback of a transfer). */
  dial(target: string, opts: DialOptions): Promise<OutboundCall>
  /** A dialog this UA now serves (a UAC dialog once its 2xx arrived). */
  dialogCreated(usage: DialogUsage): void
  dialogGone(d: Dialog): void
}
