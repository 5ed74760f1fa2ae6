import { createCodec, type CodecName } from '../../codecs/index.ts'
import type { ClockSubscriber } from '../../rtp/pacing-clock.ts'
import { CodecPipeline } from '../../rtp/codec-pipeline.ts'
import { parseRtp } from '../../rtp/packet.ts'
import type { CallRecorder } from './recorder.ts'

/**
 * The call's recording goes on through a bridged transfer: the relayed RTP of both phones is
 * decoded (one decoder per direction, packets in arrival order, no jitter buffer: a recording,
 * not a playout) into the recorder, the caller left and the seller right, one frame per tick of
 * the pacing clock as while the bot talked. Only the negotiated codec is decoded; telephone-events
 * and RTCP are not audio.
 */
export class BridgeRecording implements ClockSubscriber {
  private readonly fromCaller: CodecPipeline
  private readonly fromSeller: CodecPipeline

  /** `frameSamples`: one clock tick at the recorder's (internal) rate. */
  constructor(
    private readonly recorder: CallRecorder,
    private readonly codec: { name: CodecName; payloadType: number },
    private readonly frameSamples: number,
  ) {
    this.fromCaller = new CodecPipeline(createCodec(codec.name))
    this.fromSeller = new CodecPipeline(createCodec(codec.name))
  }

  /** A datagram the bridge relayed. */
  relayed(msg: Buffer, from: 'caller' | 'seller'): void {
    const p = parseRtp(msg)
    if (typeof p === 'string' || p.payloadType !== this.codec.payloadType) return
    try {
      if (from === 'caller') this.recorder.pushCaller(this.fromCaller.decode(p.payload))
      else this.recorder.pushSeller(this.fromSeller.decode(p.payload))
    } catch {
      // a payload the codec cannot decode is relayed as it came and left out of the recording
    }
  }

  onTick(): void {
    this.recorder.bridgedTick(this.frameSamples)
  }
}
