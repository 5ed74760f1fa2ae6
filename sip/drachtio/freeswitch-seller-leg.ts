// MEDIA_BACKEND=freeswitch: the seller's leg of a bridged transfer ends in FreeSWITCH, as the
// caller's does, and FreeSWITCH bridges the two; the media core leaves the audio path. The way
// jambonz's feature-server dials out from an anchored call: an endpoint made without a remote SDP
// (3pcc) offers, the offer goes to the seller, the seller's answer goes back to the endpoint by a
// re-INVITE, and only then is the caller's endpoint bridged to it.
import type Mrf from 'drachtio-fsmrf'
import type { Logger } from 'pino'
import type { AnchoredSellerLeg } from '../ua/call-control.ts'
import { modifyEndpoint } from './freeswitch-endpoint.ts'
import type { AnchoredMedia } from './freeswitch-media.ts'

export class FreeswitchSellerLeg implements AnchoredSellerLeg {
  private connected = false

  constructor(
    private readonly ep: Mrf.Endpoint,
    private readonly call: AnchoredMedia,
    private readonly log: Logger,
  ) {}

  /** FreeSWITCH's offer (its codecs and telephone-event, plain RTP): it transcodes when the seller picks another codec than the caller's. */
  get offer(): string {
    return this.ep.local.sdp
  }

  get closed(): Promise<void> {
    return this.call.closed
  }

  async connect(answer: string, recording?: { path: string; sampleRate: number }): Promise<void> {
    try {
      await modifyEndpoint(this.ep, answer)
      await this.call.bridgeSeller(this.ep, recording)
      this.connected = true
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "FreeSWITCH did not take the seller's answer: the caller stays with the media core")
      await this.release()
      throw err
    }
  }

  /** Before connect the endpoint is this leg's; after it, the call's (AnchoredMedia.release hangs it up). */
  async release(): Promise<void> {
    if (this.connected) return
    await this.ep.destroy().catch((err: Error) => this.log.warn({ err: err.message }, "the seller's FreeSWITCH endpoint not released cleanly"))
  }
}
