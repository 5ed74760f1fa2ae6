import type { EventEmitter } from 'node:events'
import type { Remote } from '../message/types.ts'
import type { SrtpPolicy } from '../sdp/negotiate.ts'
import type { TrunkConfig } from '../trunks/trunk.ts'
import type { RefusalReason } from '../trunks/outbound-guard.ts'

/** How an ended call ended, from the signalling point of view. */
// 'bad-answer': our offer (delayed-offer INVITE) got no usable answer in the ACK;
// 'session-expired': no session refresh came before the RFC 4028 interval ran out;
// 'prack-timeout': a reliable provisional response was never PRACKed (RFC 3262: 504 sent);
// 'media-lost': the media server carrying the call went away (MEDIA_BACKEND=freeswitch).
export type SipEndReason =
  | 'remote-bye'
  | 'local-bye'
  | 'cancelled'
  | 'rejected'
  | 'ack-timeout'
  | 'bye-failed'
  | 'shutdown'
  | 'transferred'
  | 'bad-answer'
  | 'session-expired'
  | 'prack-timeout'
  | 'media-lost'

export interface InboundCallEvents {
  /** The caller cancelled before we answered (a 487 has been sent). */
  cancel: []
  /** The caller hung up (our 200 to its BYE has been sent). */
  bye: []
  /** A re-INVITE or an UPDATE that changes the session: accept or refuse it (488) on `change`. */
  modify: [change: SessionChange]
  /** An in-dialog INFO (e.g. application/dtmf-relay); it has been answered 200. */
  info: [contentType: string, body: string]
  /** The dialog is over, whatever the cause. Emitted exactly once. */
  ended: [reason: SipEndReason]
}

/**
 * The peer asks to change the session (RFC 3261 §14 re-INVITE, RFC 3311 UPDATE). Exactly one of
 * accept and refuse counts; the other and any repeat are ignored. Without a listener for
 * `modify` an offer is refused and an offerless re-INVITE is given our last description again.
 */
export interface SessionChange {
  readonly method: 'INVITE' | 'UPDATE'
  /** The peer's offer; undefined for a re-INVITE without SDP, which asks us for an offer. */
  readonly offer?: string
  /**
   * 200 with `sdp`: our answer to `offer`, or, without one, our offer. Then it resolves with the
   * peer's answer from the ACK ('' when the ACK has none; the listener decides whether to BYE),
   * else with undefined. It never rejects: a lost ACK ends the dialog (`ended` says why).
   */
  accept(sdp: string): Promise<string | undefined>
  /** 488 Not Acceptable Here: the session stays as it was. */
  refuse(): void
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
  /**
   * 200 OK with our SDP; resolves when the ACK arrives, rejects when it never does. When the
   * INVITE had no offer (`offer` undefined, delayed offer) `sdp` is our offer and the promise
   * resolves with the ACK's body, the caller's answer ('' when the ACK has none).
   */
  answer(sdp: string): Promise<string | undefined>
  /** A final error response before the answer (486, 488, 503 ...). */
  /** `headers`: e.g. Retry-After on a 503 */
  reject(status: number, reason?: string, headers?: Record<string, string>): void
  /** BYE after the answer; before it, a 480 final response. `reason` is what `ended` reports. */
  hangup(reason?: SipEndReason): Promise<void>
  /**
   * Blind transfer of the answered call (RFC 3515 REFER, RFC 5589 §6): resolves when the
   * transferee reports the outcome, or, with `bridge`, when the fallback leg is answered.
   * Never rejects; a transfer that cannot be tried resolves `{ ok: false }`.
   */
  transfer(target: string, opts?: TransferOptions): Promise<TransferResult>
  /**
   * MEDIA_BACKEND=freeswitch, once answered: the media server the caller's RTP ends in, which puts
   * a bridged transfer's seller leg through itself. Undefined when the caller's RTP is the media core's.
   */
  readonly anchor?: MediaAnchor
}

/** A media server in front of the media core (FreeSWITCH) holding the caller's media. */
export interface MediaAnchor {
  /** A new endpoint for a transfer's seller leg; its offer goes in the INVITE to the seller. */
  sellerLeg(): Promise<AnchoredSellerLeg>
}

/** The seller's endpoint of a transfer bridged in the media server. */
export interface AnchoredSellerLeg {
  /** the media server's SDP offer to the seller */
  readonly offer: string
  /**
   * The seller's answer: the media server takes it, records the caller's channel to
   * `recording.path` (a 16-bit stereo WAV at `recording.sampleRate`: caller left, seller right) and
   * bridges the caller to the seller; the media core's leg is hung up, out of the audio path.
   * Rejects, the caller still with the media core, when the media server refuses the answer.
   */
  connect(answer: string, recording?: { path: string; sampleRate: number }): Promise<void>
  /** The transfer ended before connect: the endpoint is hung up (never throws). */
  release(): Promise<void>
  /** Resolves once the call's media is released in the media server and the bridged recording is closed. */
  readonly closed: Promise<void>
}

export interface TransferOptions {
  /** Host (and port) of the trunk that a bare phone number is sent to: sip:<number>@<domain>. */
  domain?: string
  /** How long to wait for the final NOTIFY after the REFER was accepted (default 30 s). */
  notifyTimeoutMs?: number
  /**
   * Fallback when the caller's UA refuses the REFER (a final 4xx-6xx other than 481): dial the
   * target from the server with this offer and tie the two dialogs together.
   * `refuseAnswer` sees the target's answer SDP before the dialogs are tied: a reason it returns
   * hangs the new leg up alone and the transfer fails with that reason (the call stays up); it may
   * connect the answer's media first (a media server's bridge), the dialogs tied once it resolves.
   */
  bridge?: {
    /**
     * Makes the offer once the REFER is refused (a media server's endpoint: none is made for a
     * REFER that works). The offer may itself wait for the route the guard chooses (DialOffer: a
     * trunk that requires SRTP gets RTP/SAVP).
     */
    offer: () => Promise<DialOffer>
    ringTimeoutMs?: number
    refuseAnswer?: (answer: string) => string | undefined | Promise<string | undefined>
  }
}

export type TransferResult =
  /** The transferee reached the target (2xx sipfrag); our leg has been hung up. */
  | { ok: true; method: 'refer' }
  /** REFER refused, the target answered our INVITE: the caller's media must be relayed to `leg.answer`. */
  | { ok: true; method: 'bridge'; leg: OutboundCall; referStatus: number }
  /** `status` is the REFER's, the sipfrag's or the fallback INVITE's final status when there was one. */
  | { ok: false; reason: string; status?: number }

export interface OutboundCallEvents {
  /** The callee hung up (our 200 to its BYE has been sent). */
  bye: []
  /** An in-dialog INFO from the callee (e.g. a key as application/dtmf-relay); answered 200. */
  info: [contentType: string, body: string]
  ended: [reason: SipEndReason]
}

/** A call the server placed (UAC side), established: the callee answered and we sent the ACK. */
export interface OutboundCall extends EventEmitter<OutboundCallEvents> {
  readonly sipCallId: string
  readonly targetUri: string
  readonly remote: Remote
  /** The callee's SDP from its 2xx. */
  readonly answer: string
  hangup(): Promise<void>
  /** An in-dialog INFO (RFC 6086), e.g. a digit as application/dtmf-relay: the final status, or
   *  'timeout'; 481 without sending when the dialog is over. */
  info(contentType: string, body: string): Promise<number | 'timeout'>
}

/** Where a dial goes, once the guard has chosen: the trunk, and the SRTP it asks for when it says. */
export interface DialRoute {
  trunk?: string
  srtp?: SrtpPolicy
}

/** Our SDP offer, or its maker, called once the route is known (a trunk may require SRTP). */
export type DialOffer = string | ((route: DialRoute) => string)

/** The offer for a dial through `trunk`; a trunk that requires SRTP never gets a plain one. */
export function offerFor(offer: DialOffer, trunk: TrunkConfig | undefined): string {
  const sdp = typeof offer === 'string' ? offer : offer({ trunk: trunk?.name, srtp: trunk?.srtp })
  if (trunk?.srtp === 'required' && !/^m=audio \d+ RTP\/SAVP /m.test(sdp))
    throw new DialError('refused', `outbound call through trunk ${trunk.name} refused: the trunk requires SRTP and the offer is plain RTP`, false, 'srtp')
  return sdp
}

export interface DialOptions {
  sdp: DialOffer
  /** User part for From and Contact (default "agent"). */
  fromUser?: string
  /** The trunk to go through, by name; else the one the URI's host names. */
  trunk?: string
  /** CANCEL when no final response comes in this time (default 60 s). */
  ringTimeoutMs?: number
  /** User part of From (and P-Asserted-Identity through a trunk) instead of the trunk's caller id. */
  callerId?: string
  /** The guard let the call out and the INVITE is on its way, with this Call-ID. */
  onInvite?: (sipCallId: string) => void
  /** A provisional response (180, 183 ...), with its SDP when it carries one (early media). */
  onProgress?: (status: number, sdp?: string) => void
  /** Aborted before the answer: CANCEL, and the dial rejects with 'cancelled'. */
  signal?: AbortSignal
}

/** An outbound INVITE that did not end in an established call. */
export class DialError extends Error {
  /** 'refused': the toll-fraud guard did not let the call out (sip/trunks/outbound-guard.ts). */
  constructor(
    readonly status: number | 'timeout' | 'cancelled' | 'refused',
    message: string,
    /** the dial's own ring timeout ended it (its CANCEL, or giving up with no provisional) */
    readonly ringTimedOut = false,
    /** why a 'refused' dial was refused: the guard's reason, or 'srtp' (a plain offer to a trunk that requires SRTP) */
    readonly refusal?: RefusalReason | 'srtp',
  ) {
    super(message)
  }
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
  readonly address: { host: string; port: number; tlsPort?: number }
  /** Places an outbound call to a sip: URI; rejects with DialError unless it is answered. */
  dial(target: string, opts: DialOptions): Promise<OutboundCall>
}
