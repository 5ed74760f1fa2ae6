import type { Logger } from 'pino'
import {
  createPinnedOffer,
  negotiate,
  newLegKeying,
  pinnedCrypto,
  readAnswer,
  readPinnedAnswer,
  type LocalMedia,
  type PinnedAnswerResult,
  type StreamFormat,
} from '../../sip/sdp/negotiate.ts'
import type { SrtpKeying } from '../../rtp/srtp/crypto-suite.ts'
import type { DialRoute, InboundCall, OutboundCall, SessionChange, TransferOptions } from '../../sip/ua/call-control.ts'
import { transferTarget, type Config } from '../config.ts'
import type { ClosedSession, MediaPlane, MediaSession } from '../media/media-session.ts'
import type { Metrics } from '../metrics.ts'
import { anchoredSeller } from './anchored-transfer.ts'

/** How a transfer to the seller went, for the lead: the CRM shows how the caller got there. */
export type TransferRecord =
  | { target: string; method: 'refer' }
  /** the caller's phone refused the REFER with referStatus; the server called the seller and relays
   *  (or FreeSWITCH, holding the caller's media, bridges: `bridgedIn`) */
  | { target: string; method: 'bridge'; referStatus: number; sellerCallId: string; bridgedIn?: 'freeswitch' }
  | { target: string; failed: string; status?: number }

/** The seller's leg of a bridged transfer, while the two talk. */
export interface Bridge {
  leg: OutboundCall
  /** the seller leg's port pair when the media session relays (MEDIA_BACKEND=native) */
  port?: number
  /** where the relay sends the seller's RTP, as its answer said */
  remote?: { address: string; port: number }
  /** the media server in front of the media core bridges the two itself */
  bridgedIn?: 'freeswitch'
  /** the call is over: the bridge's media let go; resolves with why the recording is incomplete, if it is */
  close(): Promise<string | undefined>
}

/** Where a bridged transfer's media runs: relayed by the media session, or bridged in FreeSWITCH (anchored-transfer.ts). */
export interface SellerMedia {
  /** the offer to the seller, and what takes its answer */
  readonly options: NonNullable<TransferOptions['bridge']>
  /** the seller answered and its answer was taken: the bot leaves the line; undefined when it was not taken */
  start(leg: OutboundCall): Bridge | undefined
  /** no bridge came of the transfer */
  abandon(): void
}

export interface CallMediaDeps {
  config: Config
  metrics: Metrics
  /** RTP ports for the seller's leg when a refused REFER falls back to a bridge */
  media: MediaPlane
}

/**
 * A call's media side: its media session (ports, RTP, the pacing clock, the recording), the stream
 * as negotiated, the SDP it answers later (a re-INVITE or UPDATE with an offer, our offer for one
 * without, and the answer in its ACK), and the transfer: REFER, or the seller's leg bridged to the
 * caller's sockets. The turn loop (Call) plays, holds and listens through `session`.
 */
export class CallMedia {
  private sdpVersion = 1
  private bridge: Bridge | undefined
  /** the media session closing: at the end of the call, or when the bot left a bridge in FreeSWITCH */
  private sessionClosed: Promise<ClosedSession> | undefined
  /** the seller leg's port while the transfer is being tried */
  private transferPort: number | undefined
  /** how the transfer went, for the lead */
  transferred: TransferRecord | undefined
  /** the recording's file while it is being written */
  recordingPath: string | undefined
  /** why the recording is missing or cut short, for the record */
  recordingError: string | undefined

  constructor(
    readonly session: MediaSession,
    /** the caller's stream as negotiated: what a bridged seller leg is offered */
    readonly format: StreamFormat,
    private readonly local: LocalMedia,
    private readonly sip: InboundCall,
    private readonly deps: CallMediaDeps,
    private readonly log: Logger,
  ) {}

  get codec(): string {
    return this.format.codec.name
  }

  /** the seller's leg once bridged: the caller's INFO goes to it */
  get sellerLeg(): OutboundCall | undefined {
    return this.bridge?.leg
  }

  /** The port of the seller's leg, from the transfer's start (ringing the seller) while relayed:
   *  it belongs to this call too. */
  get bridgePort(): number | undefined {
    return this.bridge?.port ?? this.transferPort
  }

  /**
   * The call's folder and recording. A folder that cannot be written (permissions, disk full) must
   * not cost the call: it goes on unrecorded, and the record says why (/health reports the folder).
   */
  async openRecording(dir: string): Promise<void> {
    try {
      await this.session.record(`${dir}/call.wav`)
      this.recordingPath = `${dir}/call.wav`
    } catch (err) {
      this.recordingError = `not recorded: ${(err as Error).message}`
      this.deps.metrics.recordingFailures.labels('open').inc()
      this.log.error({ err, dir }, 'recording could not be started: the call goes on without it')
    }
  }

  /** A re-INVITE or UPDATE from the caller: hold, resume, a new address, a session refresh. */
  onModify(change: SessionChange, ended: () => boolean): void {
    if (this.bridge) return change.refuse() // the relay forwards between the endpoints it started with
    const local = { ...this.local, sessionVersion: ++this.sdpVersion, keying: this.format.srtp }
    if (change.offer === undefined) {
      // a re-INVITE without SDP asks for our offer: the stream as it is, its codec under its
      // payload type (the media session cannot switch codecs); the answer comes in the ACK
      const offer = createPinnedOffer(local, this.format)
      void change.accept(offer).then((answer) => answer !== undefined && !ended() && this.applyAnswer(answer))
      return
    }
    const neg = negotiate(change.offer, local)
    const rekey = neg.ok && this.srtpChange(neg.srtp)
    if (!neg.ok || rekey) {
      this.log.warn({ reason: neg.ok ? rekey : neg.reason, method: change.method }, 'session change refused')
      return change.refuse()
    }
    this.session.update(neg.remote, neg.direction)
    this.log.info({ direction: neg.direction, onHold: neg.onHold, method: change.method }, 'session change accepted')
    void change.accept(neg.answer)
  }

  /** The caller's answer (in an ACK) to the offer we made for an offerless re-INVITE. */
  private applyAnswer(answer: string): void {
    const srtp = this.format.srtp
    const neg = readAnswer(answer, { ...this.local, codecs: [this.format.codec.name] }, srtp && [pinnedCrypto(srtp)])
    const unusable = !neg.ok
      ? neg.reason
      : neg.codec.payloadType !== this.format.codec.payloadType
        ? `payload type ${neg.codec.payloadType}`
        : this.srtpChange(neg.srtp)
    if (!neg.ok || unusable) {
      // RFC 3261 §13.3.1.4: an answer we cannot use ends the session
      this.log.warn({ reason: unusable }, 'no usable answer to our re-INVITE offer: BYE')
      void this.sip.hangup('bad-answer')
      return
    }
    this.session.update(neg.remote, neg.direction)
    this.log.info({ direction: neg.direction, onHold: neg.onHold }, 'session change (our offer) accepted')
  }

  /**
   * Why a new description's SRTP cannot be taken: the media session keeps the keys it started
   * with, so a change of the peer's key, suite or of SRTP itself is refused (RFC 4568 lets a
   * re-offer re-key; we do not). Undefined when nothing changes.
   */
  private srtpChange(next: SrtpKeying | undefined): string | undefined {
    const now = this.format.srtp
    if (!now && !next) return undefined
    if (!now || !next) return now ? 'SRTP cannot be turned off in a call' : 'SRTP cannot be turned on in a call'
    if (now.suite !== next.suite || now.remote !== next.remote) return 'SRTP re-keying in a call is not supported'
    return undefined
  }

  /**
   * Transfer to the seller: REFER first. Should the caller's phone refuse it, the server calls the
   * seller itself: on a fresh port pair, offering only the caller's codec, relaying the packets
   * between the two phones unchanged (a seller that answers another codec is hung up and the bot
   * carries on; without a free port pair only the REFER is tried); or, when FreeSWITCH holds the
   * caller's media, from a FreeSWITCH endpoint that FreeSWITCH bridges to the caller's. `name`: a
   * scenario's transfer target (TRANSFER_TARGETS), else TRANSFER_TARGET.
   */
  async transfer(reason: string, name: string | undefined, ended: boolean): Promise<boolean> {
    const { metrics, config } = this.deps
    const { domain, ringTimeoutMs } = config.transfer
    const target = transferTarget(config, name)
    if (!target || ended) {
      this.log.info({ reason, name }, 'transfer asked for, but no TRANSFER_TARGET is configured')
      return false
    }
    const seller = this.sip.anchor
      ? anchoredSeller(this.sip.anchor, this.recordingPath, ringTimeoutMs, () => void this.closeSession(), this.log)
      : await this.relayedSeller(ringTimeoutMs)
    const result = await this.sip.transfer(target, { domain: domain || undefined, ...(seller && { bridge: seller.options }) })
    const bridge = result.ok && result.method === 'bridge' ? seller?.start(result.leg) : undefined
    if (result.ok && result.method === 'bridge' && bridge) {
      this.bridge = bridge
      this.transferred = {
        target,
        method: 'bridge',
        referStatus: result.referStatus,
        sellerCallId: result.leg.sipCallId,
        ...(bridge.bridgedIn && { bridgedIn: bridge.bridgedIn }),
      }
      this.log.info({ reason, ...this.transferred, ...(bridge.remote && { seller: bridge.remote }) }, 'transfer: REFER refused, the seller is bridged')
      metrics.transfers.labels('bridge').inc()
      return true
    }
    seller?.abandon()
    this.transferred = result.ok
      ? { target, method: 'refer' }
      : { target, failed: result.reason, ...(result.status !== undefined && { status: result.status }) }
    this.log.info({ reason, ...this.transferred }, result.ok ? 'transfer: REFER carried out' : 'transfer failed: the call stays with the bot')
    metrics.transfers.labels(result.ok ? 'refer' : 'failed').inc()
    return result.ok
  }

  /**
   * The seller's leg relayed by the media session: a port pair near the call's session (the same
   * media worker relays both legs), offered the caller's codec only; undefined without a free pair.
   */
  private async relayedSeller(ringTimeoutMs: number): Promise<SellerMedia | undefined> {
    const { media, config } = this.deps
    const port = await media.allocate(this.session)
    if (port === null) {
      this.log.warn('no RTP port pair left for a bridged transfer: REFER only')
      return undefined
    }
    this.transferPort = port
    let seller: PinnedAnswerResult | undefined
    // The seller's leg has keys of its own: SRTP when its route requires it, else plain RTP; the
    // relay unprotects what one phone sends and protects it again for the other as each leg needs.
    let sellerFormat: StreamFormat = { ...this.format, srtp: undefined }
    const done = () => {
      this.transferPort = undefined
      media.release(port)
    }
    return {
      options: {
        offer: async () => (route: DialRoute) => {
          const srtp = (route.srtp ?? config.srtp) === 'required' ? newLegKeying(this.format.srtp?.suite) : undefined
          sellerFormat = { ...this.format, srtp }
          return createPinnedOffer({ address: config.publicIp, port, sessionId: String(Date.now()), sessionVersion: 1 }, sellerFormat)
        },
        ringTimeoutMs,
        refuseAnswer: (answer: string) => {
          seller = readPinnedAnswer(answer, sellerFormat)
          return seller.ok ? undefined : seller.reason
        },
      },
      start: (leg) => {
        if (!seller?.ok) return undefined
        this.startRelay(leg, port, seller)
        this.transferPort = undefined // the bridge holds it now
        return {
          leg,
          port,
          remote: seller.remote,
          close: () => {
            done()
            this.log.info({ sellerCallId: leg.sipCallId }, 'bridge ended')
            return Promise.resolve(undefined)
          },
        }
      },
      abandon: done,
    }
  }

  /** The bot leaves the line: its media session relays the caller's packets to the seller's leg. */
  private startRelay(leg: OutboundCall, port: number, seller: Extract<PinnedAnswerResult, { ok: true }>): void {
    const codec = this.format.codec.payloadType
    const te = this.format.telephoneEvent?.payloadType
    this.session.bridge({
      sellerPort: port,
      seller: {
        rtp: { address: seller.remote.address, port: seller.remote.port },
        rtcp: { address: seller.remote.address, port: seller.remote.rtcpPort },
        signallingAddress: leg.remote.address,
        rtcpMux: seller.rtcpMux,
        payloadTypes: seller.telephoneEvent && te !== undefined ? [codec, te] : [codec],
        srtp: seller.srtp,
      },
      caller: { rtcpMux: !!this.format.rtcpMux, payloadTypes: te === undefined ? [codec] : [codec, te] },
      codec: this.format.codec,
    })
  }

  /** The media session's end, once (a second close would wait forever on a media worker). */
  private closeSession(): Promise<ClosedSession> {
    this.sessionClosed ??= this.session.close()
    return this.sessionClosed
  }

  /** Stops the media, closes the recording and frees the seller's leg: the final statistics. */
  async close(): Promise<ClosedSession> {
    const closed = await this.closeSession()
    const recording = closed.recording
    if (recording?.error) {
      this.recordingError = `truncated at ${recording.seconds.toFixed(1)} s: ${recording.error}`
      this.deps.metrics.recordingFailures.labels('write').inc()
      this.log.error({ error: recording.error, seconds: recording.seconds }, 'recording cut short')
    }
    // after the session's recording is closed: FreeSWITCH's of a bridge in it joins on
    const bridgeError = await this.bridge?.close()
    if (bridgeError && !this.recordingError) {
      this.recordingError = bridgeError
      this.deps.metrics.recordingFailures.labels('write').inc()
    }
    return closed
  }
}
