// MEDIA_BACKEND=freeswitch: a bridged transfer put through in the media server the caller's RTP
// ends in. The seller is offered that media server's endpoint, its answer goes back to it, and the
// media server bridges the caller to the seller: the media core (the bot's session) leaves the
// audio path altogether instead of relaying it. The recording is the media server's from then on
// (a second file beside the call's, joined onto it when the call is over: the media core no longer
// sees the audio, and the media server has both parties on the caller's channel).
import { rm } from 'node:fs/promises'
import path from 'node:path'
import type { Logger } from 'pino'
import { appendWavFile } from '../../codecs/wav.ts'
import { INTERNAL_RATE } from '../../rtp/codec-pipeline.ts'
import type { AnchoredSellerLeg, MediaAnchor, OutboundCall } from '../../sip/ua/call-control.ts'
import type { Bridge, SellerMedia } from './call-media.ts'
import { bridgeRecordingOf } from './crash-recovery.ts'

/**
 * The seller's media in the media server, its endpoint made once the REFER is refused (none for a
 * REFER that works). `callRecording`: the call's WAV when it is being recorded; `leaveLine`: stops
 * the bot's media session (its RTP, its recording) once the seller is bridged.
 */
export function anchoredSeller(anchor: MediaAnchor, callRecording: string | undefined, ringTimeoutMs: number, leaveLine: () => void, log: Logger): SellerMedia {
  let seller: AnchoredSellerLeg | undefined
  // an absolute path: FreeSWITCH runs in a directory of its own
  const recording = callRecording ? { path: path.resolve(bridgeRecordingOf(callRecording)), sampleRate: INTERNAL_RATE } : undefined
  let connected = false
  return {
    options: {
      offer: async () => {
        seller = await anchor.sellerLeg()
        return seller.offer
      },
      ringTimeoutMs,
      // the seller answered: FreeSWITCH takes the answer and bridges
      refuseAnswer: async (answer) => {
        try {
          if (!seller) throw new Error('no endpoint was made for the seller')
          await seller.connect(answer, recording)
          connected = true
          return undefined
        } catch (err) {
          return `FreeSWITCH refused the answer: ${(err as Error).message}`
        }
      },
    },
    start(leg: OutboundCall): Bridge | undefined {
      if (!connected || !seller) return undefined
      leaveLine()
      const made = seller
      return { leg, bridgedIn: 'freeswitch', close: () => joinRecording(made, callRecording, recording?.path, log) }
    },
    abandon() {
      void seller?.release()
    },
  }
}

/**
 * The call is over: once the media server has closed its recording of the bridged call, it is
 * appended to the call's (caller left, seller right, as the media core records a relayed bridge)
 * and removed. Resolves with why the recording is incomplete, if it is.
 */
async function joinRecording(
  seller: AnchoredSellerLeg,
  callRecording: string | undefined,
  bridged: string | undefined,
  log: Logger,
): Promise<string | undefined> {
  await seller.closed
  if (!callRecording || !bridged) return undefined
  try {
    const seconds = await appendWavFile(callRecording, bridged)
    await rm(bridged, { force: true })
    log.info({ seconds }, "FreeSWITCH's recording of the bridged call joined to the call's")
    return undefined
  } catch (err) {
    log.error({ err, bridged }, "FreeSWITCH's recording of the bridged call could not be joined to the call's")
    return `the bridged part is missing: ${(err as Error).message}`
  }
}
