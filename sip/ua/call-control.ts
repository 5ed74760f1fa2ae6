import type { EventEmitter } from 'node:events'
import type { Remote } from '../message/types.ts'

/** How an ended call ended, from the signalling point of view. */
export type SipEndReason = 'remote-bye' | 'local-bye' | 'cancelled' | 'rejected' | 'ack-timeout' | 'bye-failed' | 'shutdown'

export interface InboundCallEvents {
  /** The caller cancelled before we answered (a 487 has been sent). */
  cancel: []
  /** The caller hung up (our 200 to its BYE has been sent). */
  bye: []
  /** A re-INVITE: call `reply` with our answer SDP, or with null to refuse it (488). */
  reinvite: [offer: string | undefined, reply: (answer: string | null) => void]
  /** An in-dialog INFO (e.g. application/dtmf-relay); it has been answered 200. */
  info: [contentType: string, body: string]
  /** The dialog is over, whatever the cause. Emitted exactly once. */
  ended: [reason: SipEndReason]
}

/** One inbound call as the signalling side exposes it to the media server. */
export interface InboundCall extends EventEmitter<InboundCallEvents> {
  readonly sipCallId: string
  readonly fromUri: string
  readonly toUri: string
  /** User part of From (or P-Asserted-Identity), what a seller would dial back. */
  readonly callerId: string
  /** Where the signalling came from. */
  readonly remote: Remote
  readonly offer: string | undefined
  /** 180 Ringing (or 183 with early media SDP). */
  progress(status?: 180 | 183, sdp?: string): void
  /** 200 OK with our SDP; resolves when the ACK arrives, rejects when it never does. */
  answer(sdp: string): Promise<void>
  /** A final error response before the answer (486, 488, 503 ...). */
  reject(status: number, reason?: string): void
  /** BYE after the answer; before it, a 480 final response. */
  hangup(): Promise<void>
}

export interface CallControlEvents {
  call: [call: InboundCall]
}

/**
 * The boundary between the media server and whatever speaks SIP: the embedded stack
 * (default) or, later, drachtio-srf in front of drachtio-server.
 */
export interface CallControl extends EventEmitter<CallControlEvents> {
  start(): Promise<void>
  stop(): Promise<void>
  /** Where SIP actually listens (the port is resolved when SIP_PORT is 0). */
  readonly address: { host: string; port: number }
}
