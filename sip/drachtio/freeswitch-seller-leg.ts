// MEDIA_BACKEND=freeswitch: the seller's leg of a bridged transfer ends in FreeSWITCH, as the
// caller's does, and FreeSWITCH bridges the two; the media core leaves the audio path. Much as
// jambonz's feature-server dials out from an anchored call: an endpoint's SDP goes to the seller,
// the seller's answer goes back to the endpoint by a re-INVITE, and only then is the caller's
// endpoint bridged to it (the endpoint is made from an offer of ours, not without SDP as jambonz
// does: see seller-offer.ts).
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

  /** FreeSWITCH's SDP for the seller: plain RTP, the caller's codec (seller-offer.ts) */
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
