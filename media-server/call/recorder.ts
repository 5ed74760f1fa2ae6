import type { WavFileWriter } from '../../codecs/wav.ts'

/** Audio that arrives as the network delivers it, taken out a frame at a time: 1 s at most
 *  (beyond that the sender's clock has drifted; the oldest goes). */
class PcmFifo {
  private readonly buf: Int16Array
  private length = 0

  constructor(samples: number) {
    this.buf = new Int16Array(samples)
  }

  push(pcm: Int16Array): void {
    const fifo = this.buf
    if (this.length + pcm.length > fifo.length) {
      const keep = Math.max(0, fifo.length - pcm.length)
      fifo.copyWithin(0, this.length - keep, this.length)
      this.length = keep
    }
    fifo.set(pcm.subarray(0, fifo.length - this.length), this.length)
    this.length += Math.min(pcm.length, fifo.length)
  }

  /** Fills `out` from the front, silence where the FIFO runs short. */
  take(out: Int16Array): void {
    const n = Math.min(out.length, this.length)
    out.set(this.buf.subarray(0, n))
    out.fill(0, n)
    this.buf.copyWithin(0, n, this.length)
    this.length -= n
  }
}

/**
 * The whole call as one stereo WAV: caller left, bot right (after a bridged transfer, the seller
 * right). The right side is driven by the pacing clock (one frame per tick); the caller side is
 * whatever arrived since the last tick, held in a small FIFO so network jitter does not misalign
 * the channels. A seller's audio arrives like the caller's and waits in a FIFO of its own.
 */
export class CallRecorder {
  private readonly caller: PcmFifo
  private seller: PcmFifo | undefined
  private readonly block: Int16Array
  private blockFill = 0
  private callerFrame = new Int16Array(0)
  private sellerFrame = new Int16Array(0)

  constructor(
    private readonly writer: WavFileWriter,
    private readonly sampleRate: number,
  ) {
    this.caller = new PcmFifo(sampleRate)
    this.block = new Int16Array(sampleRate * 2) // one second of interleaved stereo per disk write
  }

  pushCaller(pcm: Int16Array): void {
    this.caller.push(pcm)
  }

  /** The bot's frame of this tick, beside the caller's audio of the same length. */
  pushBot(frame: Int16Array): void {
    if (this.callerFrame.length !== frame.length) this.callerFrame = new Int16Array(frame.length)
    this.caller.take(this.callerFrame)
    for (let i = 0; i < frame.length; i++) {
      this.block[this.blockFill++] = this.callerFrame[i]
      this.block[this.blockFill++] = frame[i]
      if (this.blockFill === this.block.length) this.writeBlock()
    }
  }

  /** Bridged to a seller: the seller's decoded audio, as it arrives. */
  pushSeller(pcm: Int16Array): void {
    ;(this.seller ??= new PcmFifo(this.sampleRate)).push(pcm)
  }

  /** Bridged: one tick's frame of `samples`, the seller's audio on the bot's side. */
  bridgedTick(samples: number): void {
    if (this.sellerFrame.length !== samples) this.sellerFrame = new Int16Array(samples)
    ;(this.seller ??= new PcmFifo(this.sampleRate)).take(this.sellerFrame)
    this.pushBot(this.sellerFrame)
  }

  private writeBlock(): void {
    this.writer.write(this.block.subarray(0, this.blockFill)) // the writer copies
    this.blockFill = 0
  }

  /** Seconds of the call on disk (less than its length when the disk filled). */
  get seconds(): number {
    return this.writer.seconds
  }

  async close(): Promise<void> {
    if (this.blockFill) this.writeBlock()
    await this.writer.close()
  }
}
