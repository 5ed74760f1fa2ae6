// MEDIA_BACKEND=freeswitch: the caller's RTP ends in FreeSWITCH (codecs, jitter buffer, SRTP towards
// the trunk) and FreeSWITCH bridges it to a second endpoint whose far end is the Node media core, which
// sees an ordinary RTP peer on loopback. Both endpoints are made with drachtio-fsmrf: an INVITE from
// drachtio-server to FreeSWITCH's drachtio_mrf profile each (freeswitch-conf/), ESL for the rest.
import { EventEmitter } from 'node:events'
import Mrf from 'drachtio-fsmrf'
import type Srf from 'drachtio-srf'
import type { Logger } from 'pino'

/** FREESWITCH_HOST, FREESWITCH_PORT, FREESWITCH_SECRET */
export interface FreeswitchConfig {
  host: string
  port: number
  secret: string
  /** the address FreeSWITCH reaches us at for its outbound ESL connections (loopback when it runs here) */
  callbackAddress: string
}

export class FreeswitchMedia {
  private constructor(
    private readonly ms: Mrf.MediaServer,
    private readonly log: Logger,
  ) {}

  /** Connects over ESL; resolves once FreeSWITCH's profile is known (fsmrf asks `sofia status`). */
  static async connect(srf: Srf, cfg: FreeswitchConfig, log: Logger): Promise<FreeswitchMedia> {
    const ms = await new Mrf(srf).connect({ address: cfg.host, port: cfg.port, secret: cfg.secret, listenAddress: cfg.callbackAddress })
    ms.on('error', (err) => log.error({ err: err.message }, 'FreeSWITCH connection error'))
    ms.on('end', () => log.error('FreeSWITCH ESL connection lost: calls whose media it carries end'))
    log.info({ esl: `${cfg.host}:${cfg.port}` }, 'FreeSWITCH in the media path')
    return new FreeswitchMedia(ms, log)
  }

  /** A new call's media: FreeSWITCH answers the caller's offer (AnchoredMedia.callerAnswer goes in our 200). */
  async anchor(callerOffer: string, callId: string): Promise<AnchoredMedia> {
    const caller = await this.ms.createEndpoint({ remoteSdp: callerOffer })
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

  /** FreeSWITCH's answer to the caller. */
  get callerAnswer(): string {
    return this.caller.local.sdp
  }

  /** The media core's offer: FreeSWITCH answers it from a second endpoint and bridges the caller to it; the answer. */
  async connectCore(coreOffer: string): Promise<string> {
    this.core = await this.ms.createEndpoint({ remoteSdp: coreOffer })
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
