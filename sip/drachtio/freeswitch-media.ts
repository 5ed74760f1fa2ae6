// MEDIA_BACKEND=freeswitch: the caller's RTP ends in FreeSWITCH (codecs, jitter buffer, SRTP towards
// the trunk) and FreeSWITCH bridges it to a second endpoint whose far end is the Node media core, which
// sees an ordinary RTP peer on loopback. Both endpoints are made with drachtio-fsmrf: an INVITE from
// drachtio-server to FreeSWITCH's drachtio_mrf profile each (freeswitch-conf/), ESL for the rest.
import { EventEmitter } from 'node:events'
import Mrf from 'drachtio-fsmrf'
import type Srf from 'drachtio-srf'
import type { Logger } from 'pino'
import { sipErrorStatus } from './srf-message.ts'

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
/** Re-INVITEs to an endpoint answered 491 (Request Pending) before giving up, 100, 200, ... ms apart. */
const GLARE_RETRIES = 5

/** FreeSWITCH is not there to take a call's media: the caller gets 503 with Retry-After. */
export class MediaServerUnavailable extends Error {
  override readonly name = 'MediaServerUnavailable'
}

export class FreeswitchMedia extends EventEmitter<{ down: []; up: [] }> {
  /** false from the loss of the ESL link until drachtio-modesl has it back (it reconnects with backoff) */
  private up = true

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
    return this.up
  }

  /**
   * A new call's media: FreeSWITCH answers the caller's offer, or makes one for an INVITE without
   * SDP (AnchoredMedia.callerSdp goes in our 200; the ACK's answer then goes to reoffer()).
   */
  async anchor(callerOffer: string | undefined, callId: string): Promise<AnchoredMedia> {
    if (!this.up) throw new MediaServerUnavailable('FreeSWITCH ESL connection is down')
    const caller = await withTimeout(this.ms.createEndpoint(callerOffer ? { remoteSdp: callerOffer } : {}), (ep) => void ep.destroy().catch(() => {}))
    return new AnchoredMedia(this.ms, caller, this.log.child({ callId, fsCaller: caller.uuid }))
  }

  close(): void {
    this.ms.disconnect()
  }
}

/** One call's two FreeSWITCH endpoints: the caller's, and the media core's once connected. */
export class AnchoredMedia extends EventEmitter<{ ended: [] }> {
  private core: Mrf.Endpoint | undefined
  private released = false

  constructor(
    private readonly ms: Mrf.MediaServer,
    private readonly caller: Mrf.Endpoint,
    private readonly log: Logger,
  ) {
    super()
    // FreeSWITCH hung up the caller's channel (it lost the ESL link, or ran out of something)
    caller.on('destroy', () => {
      if (!this.released) this.emit('ended')
    })
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
    for (let attempt = 1; ; attempt++) {
      try {
        await this.caller.modify(callerSdp)
        return this.caller.local.sdp
      } catch (err) {
        // 491: FreeSWITCH is still in the endpoint's last offer/answer (right after an offerless
        // INVITE's ACK). The INVITE was ours, so RFC 3261 §14.1 lets us retry within 2 s
        if (sipErrorStatus(err) !== 491 || attempt >= GLARE_RETRIES) throw err
        await new Promise((r) => setTimeout(r, 100 * attempt))
      }
    }
  }

  /** The media core's offer: FreeSWITCH answers it from a second endpoint and bridges the caller to it; the answer. */
  async connectCore(coreOffer: string): Promise<string> {
    this.core = await withTimeout(this.ms.createEndpoint({ remoteSdp: coreOffer }), (ep) => void ep.destroy().catch(() => {}))
    if (this.released) {
      await this.core.destroy().catch(() => {})
      throw new Error('call ended while its media core leg was being made')
    }
    await this.caller.bridge(this.core)
    this.log.info({ fsCore: this.core.uuid }, 'caller bridged to the media core in FreeSWITCH')
    return this.core.local.sdp
  }

  /** Hangs up both endpoints (never throws: an endpoint FreeSWITCH already dropped is gone). */
  async release(): Promise<void> {
    if (this.released) return
    this.released = true
    const results = await Promise.allSettled([this.caller.destroy(), this.core?.destroy()])
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
