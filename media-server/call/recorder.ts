import type { WavFileWriter } from '../../codecs/wav.ts'

/**
 * The whole call as one stereo WAV: caller left, bot right. The bot side is driven by
 * the pacing clock (one frame per tick); the caller side is whatever arrived since the
 * last tick, held in a small FIFO so network jitter does not misalign the channels.
 */
export class CallRecorder {
  private readonly callerFifo: Int16Array
  private fifoLength = 0
  private readonly block: Int16Array
  private blockFill = 0

  constructor(private readonly writer: WavFileWriter, sampleRate: number) {
    this.callerFifo = new Int16Array(sampleRate) // 1 s: beyond that the caller's clock drifts, drop the oldest
    this.block = new Int16Array(sampleRate * 2) // one second of interleaved stereo per disk write
  }

  pushCaller(pcm: Int16Array): void {
    const fifo = this.callerFifo
    if (this.fifoLength + pcm.length > fifo.length) {
      const keep = Math.max(0, fifo.length - pcm.length)
      fifo.copyWithin(0, this.fifoLength - keep, this.fifoLength)
      this.fifoLength = keep
    }
    fifo.set(pcm.subarray(0, fifo.length - this.fifoLength), this.fifoLength)
    this.fifoLength += Math.min(pcm.length, fifo.length)
  }

  pushBot(frame: Int16Array): void {
    const take = Math.min(frame.length, this.fifoLength)
    for (let i = 0; i < frame.length; i++) {
      this.block[this.blockFill++] = i < take ? this.callerFifo[i] : 0
      this.block[this.blockFill++] = frame[i]
      if (this.blockFill === this.block.length) this.writeBlock()
    }
    this.callerFifo.copyWithin(0, take, this.fifoLength)
    this.fifoLength -= take
  }

  private writeBlock(): void {
    this.writer.write(this.block.subarray(0, this.blockFill)) // the writer copies
    this.blockFill = 0
  }

  async close(): Promise<void> {
    if (this.blockFill) this.writeBlock()
    await this.writer.close()
  }
}
