// MEDIA_BACKEND=freeswitch: the caller's RTP ends in FreeSWITCH (codecs, jitter buffer, SRTP towards
// the trunk) and FreeSWITCH bridges it to a second endpoint whose far end is the Node media core, which
// sees an ordinary RTP peer on loopback. Both endpoints are made with drachtio-fsmrf: an INVITE from
// drachtio-server to FreeSWITCH's drachtio_mrf profile each (freeswitch-conf/), ESL for the rest.
import { EventEmitter } from 'node:events'
import Mrf from 'drachtio-fsmrf'
import type Srf from 'drachtio-srf'
import type { Logger } from 'pino'
import type { MediaAnchor } from '../ua/call-control.ts'
import { narrowToCallerCodec } from './core-offer.ts'
import { eslApi, modifyEndpoint } from './freeswitch-endpoint.ts'
import { FreeswitchSellerLeg } from './freeswitch-seller-leg.ts'
import { placeholderOffer } from './seller-offer.ts'

/** FREESWITCH_HOST, FREESWITCH_PORT, FREESWITCH_SECRET */
export interface FreeswitchConfig {
  host: string
  port: number
  secret: string
  /** the address FreeSWITCH reaches us at for its outbound ESL connections (loopback when it runs here) */
  callbackAddress: string
}

/** How long FreeSWITCH may take to answer for a new endpoint before the call gets 503 (a hung
 *  FreeSWITCH keeps its ESL socket open, and the INVITE to it would otherwise wait out Timer B). */
const ENDPOINT_TIMEOUT_MS = 5000

/** An endpoint in the making this long means FreeSWITCH (or this process) is behind: new calls get
 *  503 at once, so that the ones in progress finish inside ENDPOINT_TIMEOUT_MS instead of every
 *  call waiting its 4-5 s and failing alike (a healthy endpoint takes 20-60 ms on loopback). */
const BEHIND_MS = 1000

/** FreeSWITCH is not there to take a call's media: the caller gets 503 with Retry-After. */
export class MediaServerUnavailable extends Error {
  override readonly name = 'MediaServerUnavailable'
}

export class FreeswitchMedia extends EventEmitter<{ down: []; up: [] }> {
  /** false from the loss of the ESL link until drachtio-modesl has it back (it reconnects with backoff) */
  private up = true
  /** the endpoints now in the making, each with when it was asked for (performance.now()) */
  private readonly making = new Set<{ at: number }>()

  private constructor(
    private readonly ms: Mrf.MediaServer,
    private readonly log: Logger,
  ) {
    super()
    ms.on('error', (err) => log.error({ err: err.message }, 'FreeSWITCH connection error'))
    ms.on('end', () => {
      if (!this.up) return
      this.up = false
      // the calls it carries end by themselves: each endpoint's own ESL socket closes with FreeSWITCH
      log.error('FreeSWITCH ESL connection lost: new calls get 503 until it is back')
      this.emit('down')
    })
    ms.conn.on('esl::ready', () => {
      if (this.up) return
      this.up = true
      log.info('FreeSWITCH ESL connection back: taking calls again')
      this.emit('up')
    })
  }

  /** Connects over ESL; resolves once FreeSWITCH's profile is known (fsmrf asks `sofia status`). */
  static async connect(srf: Srf, cfg: FreeswitchConfig, log: Logger): Promise<FreeswitchMedia> {
    const ms = await new Mrf(srf).connect({ address: cfg.host, port: cfg.port, secret: cfg.secret, listenAddress: cfg.callbackAddress })
    log.info({ esl: `${cfg.host}:${cfg.port}` }, 'FreeSWITCH in the media path')
    return new FreeswitchMedia(ms, log)
  }

  /** Whether a new call can have its media anchored (OPTIONS and INVITE answer 503 while not). */
  get available(): boolean {
    return this.up && this.behindMs() < BEHIND_MS
  }

  /** How long the oldest endpoint now in the making has been waited for, ms (0: none). */
  private behindMs(): number {
    let oldest = Infinity
    for (const m of this.making) oldest = Math.min(oldest, m.at)
    return oldest === Infinity ? 0 : performance.now() - oldest
  }

  /** An endpoint from FreeSWITCH, bounded by ENDPOINT_TIMEOUT_MS. It counts as in the making until
   *  FreeSWITCH answers or drachtio gives up on it (Timer B), not only until our bound: a FreeSWITCH
   *  that hangs keeps OPTIONS at 503, and a dispatcher sends the calls elsewhere. */
  private endpoint(opts: { remoteSdp?: string }): Promise<Mrf.Endpoint> {
    const making = { at: performance.now() }
    this.making.add(making)
    const made = this.ms.createEndpoint(opts)
    made.finally(() => this.making.delete(making)).catch(() => {})
    return withTimeout(made, (ep) => void ep.destroy().catch(() => {}))
  }

  /**
   * A new call's media: FreeSWITCH answers the caller's offer, or makes one for an INVITE without
   * SDP (AnchoredMedia.callerSdp goes in our 200; the ACK's answer then goes to reoffer()).
   */
  async anchor(callerOffer: string | undefined, callId: string): Promise<AnchoredMedia> {
    if (!this.up) throw new MediaServerUnavailable('FreeSWITCH ESL connection is down')
    const behind = this.behindMs()
    if (behind >= BEHIND_MS) throw new MediaServerUnavailable(`FreeSWITCH is behind: an endpoint has been in the making for ${Math.round(behind)} ms`)
    const caller = await this.endpoint(callerOffer ? { remoteSdp: callerOffer } : {})
    return new AnchoredMedia((opts) => this.endpoint(opts), caller, this.log.child({ callId, fsCaller: caller.uuid }))
  }

  close(): void {
    this.ms.disconnect()
  }
}

/**
 * One call's FreeSWITCH endpoints: the caller's, the media core's once connected, and after a
 * bridged transfer the seller's in the media core's place (freeswitch-seller-leg.ts).
 */
export class AnchoredMedia extends EventEmitter<{ ended: [] }> implements MediaAnchor {
  private core: Mrf.Endpoint | undefined
  private seller: Mrf.Endpoint | undefined
  /** the bridged call's recording in progress (uuid_record on the caller's channel) */
  private recording: string | undefined
  private released = false
  private releasing: Promise<void> | undefined
  private resolveClosed!: () => void
  /** resolves once release() is done: the endpoints hung up, the bridged recording closed */
  readonly closed = new Promise<void>((resolve) => (this.resolveClosed = resolve))

  constructor(
    private readonly makeEndpoint: (opts: { remoteSdp: string }) => Promise<Mrf.Endpoint>,
    private readonly caller: Mrf.Endpoint,
    private readonly log: Logger,
  ) {
    super()
    // FreeSWITCH hung up the caller's channel (it lost the ESL link, or ran out of something)
    caller.on('destroy', () => this.lost())
  }

  private lost(): void {
    if (!this.released) this.emit('ended')
  }

  /** FreeSWITCH's SDP towards the caller: its answer, or its offer when the caller sent none. */
  get callerSdp(): string {
    return this.caller.local.sdp
  }

  /**
   * The caller's new SDP given to its endpoint by a re-INVITE (a re-offer: moved media, hold, another
   * codec; or the answer an ACK brought to FreeSWITCH's offer); FreeSWITCH's SDP towards the caller after it.
   */
  async reoffer(callerSdp: string): Promise<string> {
    await modifyEndpoint(this.caller, callerSdp)
    return this.caller.local.sdp
  }

  /**
   * The media core's offer: FreeSWITCH answers it from a second endpoint and bridges the caller to
   * it; the answer. `callerAnswer` is the answer of the caller's leg (FreeSWITCH's, or the caller's
   * to FreeSWITCH's offer): the core's leg is offered only its codec, so that the bridge passes frames through.
   */
  async connectCore(coreOffer: string, callerAnswer: string): Promise<string> {
    const offer = narrowToCallerCodec(coreOffer, callerAnswer)
    this.core = await this.makeEndpoint({ remoteSdp: offer })
    if (this.released) {
      await this.core.destroy().catch(() => {})
      throw new Error('call ended while its media core leg was being made')
    }
    await this.caller.bridge(this.core)
    this.log.info({ fsCore: this.core.uuid }, 'caller bridged to the media core in FreeSWITCH')
    return this.core.local.sdp
  }

  /** MediaAnchor: a transfer's seller leg, an endpoint whose SDP goes to the seller (seller-offer.ts). */
  async sellerLeg(): Promise<FreeswitchSellerLeg> {
    if (this.released) throw new Error('the call ended before its seller leg was made')
    const offer = placeholderOffer(this.caller.local.sdp)
    const ep = await this.makeEndpoint({ remoteSdp: offer })
    return new FreeswitchSellerLeg(ep, this, this.log.child({ fsSeller: ep.uuid }))
  }

  /**
   * The seller's endpoint has the seller's answer: FreeSWITCH records the caller's channel from
   * now on (RECORD_STEREO: what the caller sends left, what it hears, the seller, right; at the
   * media core's recording rate so that the two files join), bridges the caller to the seller, and
   * the media core's endpoint is hung up: the media core is out of the audio path.
   */
  async bridgeSeller(seller: Mrf.Endpoint, recording: { path: string; sampleRate: number } | undefined): Promise<void> {
    if (this.released) throw new Error('the call ended while the seller answered')
    if (recording) await this.record(recording.path, recording.sampleRate)
    try {
      await this.caller.bridge(seller)
    } catch (err) {
      await this.stopRecording()
      throw err
    }
    this.seller = seller
    // from here a seller endpoint FreeSWITCH drops ends the call as the caller's would
    seller.on('destroy', () => this.lost())
    const core = this.core
    this.core = undefined
    void core?.destroy().catch((err: Error) => this.log.warn({ err: err.message }, "the media core's FreeSWITCH endpoint not released cleanly"))
    this.log.info({ fsSeller: seller.uuid, recording: this.recording }, 'caller bridged to the seller in FreeSWITCH: the media core left the audio path')
  }

  /** uuid_record on the caller's channel: an API command, since a bridged channel runs no queued application. */
  private async record(path: string, rate: number): Promise<void> {
    try {
      await eslApi(this.caller, 'uuid_setvar', [this.caller.uuid, 'RECORD_STEREO', 'true'])
      await eslApi(this.caller, 'uuid_setvar', [this.caller.uuid, 'record_sample_rate', String(rate)])
      await eslApi(this.caller, 'uuid_record', [this.caller.uuid, 'start', path])
      this.recording = path
    } catch (err) {
      // the transfer is worth more than its recording: the call goes on, the record says what is missing
      this.log.error({ err: (err as Error).message, path }, 'FreeSWITCH did not start recording the bridged call')
    }
  }

  /** Stops the bridged recording, so that its file is complete (never throws). */
  private async stopRecording(): Promise<void> {
    const path = this.recording
    if (!path) return
    this.recording = undefined
    await eslApi(this.caller, 'uuid_record', [this.caller.uuid, 'stop', path]).catch((err: Error) =>
      this.log.warn({ err: err.message }, 'FreeSWITCH did not stop the bridged recording (it closes with the channel)'),
    )
  }

  /** Hangs up every endpoint (never throws: an endpoint FreeSWITCH already dropped is gone); the
   *  bridged recording is stopped first, so its file is complete when `closed` resolves. */
  release(): Promise<void> {
    this.releasing ??= this.releaseAll().finally(() => this.resolveClosed())
    return this.releasing
  }

  private async releaseAll(): Promise<void> {
    this.released = true
    await this.stopRecording()
    const results = await Promise.allSettled([this.caller.destroy(), this.core?.destroy(), this.seller?.destroy()])
    for (const r of results) if (r.status === 'rejected') this.log.warn({ err: (r.reason as Error).message }, 'FreeSWITCH endpoint not released cleanly')
  }
}

/** An endpoint FreeSWITCH has not made within ENDPOINT_TIMEOUT_MS: MediaServerUnavailable, and one that comes later is hung up. */
function withTimeout(made: Promise<Mrf.Endpoint>, late: (ep: Mrf.Endpoint) => void): Promise<Mrf.Endpoint> {
  let timer: NodeJS.Timeout | undefined
  let timedOut = false
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true
      reject(new MediaServerUnavailable(`FreeSWITCH made no endpoint within ${ENDPOINT_TIMEOUT_MS} ms`))
    }, ENDPOINT_TIMEOUT_MS)
  })
  made.then((ep) => timedOut && late(ep)).catch(() => {})
  return Promise.race([made, timeout]).finally(() => clearTimeout(timer))
}
