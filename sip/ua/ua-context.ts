import type { Logger } from 'pino'
import type { Remote, SipMessage, SipRequest, SipResponse } from '../message/types.ts'
import type { LocalAddress, Dialog } from '../dialog/dialog.ts'
import type { SipTimers } from '../transaction/timers.ts'

/** What a call's signalling needs from the user agent that owns it. */
export interface UaContext {
  readonly local: LocalAddress
  readonly timers: SipTimers
  readonly logger: Logger
  send(m: SipMessage, remote: Remote): void
  /** Sends a request in a non-INVITE client transaction; resolves with the final response. */
  request(rq: SipRequest, remote: Remote): Promise<SipResponse | 'timeout'>
  dialogGone(d: Dialog): void
}
