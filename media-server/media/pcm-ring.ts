/**
 * A single-producer, single-consumer ring of PCM records in a SharedArrayBuffer: how a media worker
 * hands a call's audio to the main thread (the caller's audio for the VAD and the recogniser, with
 * the echo gate's verdict on it) without a message per 20 ms packet. The producer writes whole
 * records and then publishes its write index with Atomics.store; the consumer reads up to that index
 * and publishes its read index the same way, so neither ever sees half a record.
 *
 * A record: [nearEnd, n16, nLine] as int16, then n16 samples at 16 kHz and nLine samples at the
 * line's rate. Indexes count int16 slots and only grow (positions wrap through the modulo; the
 * int32 itself would take some 11 hours of a 16 kHz call to overflow); a record that would not fit
 * is dropped and counted, never overwrites unread audio.
 */
const HEADER = 3

/** Int32 control words at the front of the buffer: write index, read index, dropped records. */
const WRITE = 0
const READ = 1
const DROPPED = 2
const CONTROL_BYTES = 16

export class PcmRing {
  readonly buffer: SharedArrayBuffer
  private readonly control: Int32Array
  private readonly data: Int16Array
  /** the consumer's copies of a 16 kHz and a line-rate run that wraps round the end */
  private readonly scratch: [Int16Array, Int16Array] = [new Int16Array(0), new Int16Array(0)]

  /** `slots`: int16 capacity; one second of both streams of a 16 kHz call is about 50 000. */
  constructor(bufferOrSlots: SharedArrayBuffer | number) {
    this.buffer = typeof bufferOrSlots === 'number' ? new SharedArrayBuffer(CONTROL_BYTES + bufferOrSlots * 2) : bufferOrSlots
    this.control = new Int32Array(this.buffer, 0, CONTROL_BYTES / 4)
    this.data = new Int16Array(this.buffer, CONTROL_BYTES)
  }

  get dropped(): number {
    return Atomics.load(this.control, DROPPED)
  }

  /** Producer side. False (and counted) when the consumer has fallen a whole ring behind. */
  write(nearEnd: boolean, pcm: Int16Array, line: Int16Array): boolean {
    const size = HEADER + pcm.length + line.length
    const w = Atomics.load(this.control, WRITE)
    const r = Atomics.load(this.control, READ)
    if (w - r + size > this.data.length) {
      Atomics.add(this.control, DROPPED, 1)
      return false
    }
    let at = w
    at = this.put(at, nearEnd ? 1 : 0, pcm.length, line.length)
    at = this.copyIn(at, pcm)
    at = this.copyIn(at, line)
    Atomics.store(this.control, WRITE, at)
    return true
  }

  /**
   * Consumer side: every complete record written since the last read, in order, to `each`. Its
   * `pcm` and `line` are views valid until `each` returns: into the ring itself (the record's space
   * goes back to the producer only then), or, for a record that wraps round the ring's end, into a
   * scratch copy reused by the next one. A copy per record was most of the main thread's cost of a
   * call's audio.
   */
  read(each: (nearEnd: boolean, pcm: Int16Array, line: Int16Array) => void): void {
    const w = Atomics.load(this.control, WRITE)
    let r = Atomics.load(this.control, READ)
    while (r < w) {
      const nearEnd = this.at(r) === 1
      const n16 = this.at(r + 1)
      const nLine = this.at(r + 2)
      const pcm = this.view(r + HEADER, n16, 0)
      const line = this.view(r + HEADER + n16, nLine, 1)
      r += HEADER + n16 + nLine
      try {
        each(nearEnd, pcm, line)
      } finally {
        Atomics.store(this.control, READ, r)
      }
    }
  }

  private at(i: number): number {
    return this.data[i % this.data.length]
  }

  private put(at: number, ...values: number[]): number {
    for (const v of values) this.data[at++ % this.data.length] = v
    return at
  }

  private copyIn(at: number, src: Int16Array): number {
    const start = at % this.data.length
    const first = Math.min(src.length, this.data.length - start)
    // whole (the usual case) without a subarray: a view per record was garbage on every tick
    if (first === src.length) this.data.set(src, start)
    else {
      this.data.set(src.subarray(0, first), start)
      this.data.set(src.subarray(first), 0)
    }
    return at + src.length
  }

  /** `n` samples from `at`: in place, or through scratch `k` when they wrap round the end. */
  private view(at: number, n: number, k: 0 | 1): Int16Array {
    const start = at % this.data.length
    const first = this.data.length - start
    if (n <= first) return this.data.subarray(start, start + n)
    if (this.scratch[k].length < n) this.scratch[k] = new Int16Array(n)
    const out = this.scratch[k].subarray(0, n)
    out.set(this.data.subarray(start))
    out.set(this.data.subarray(0, n - first), first)
    return out
  }
}
