// RIFF/WAVE reading and writing for the formats the media path uses: 16-bit PCM and 8-bit
// G.711 (WAVE_FORMAT_ALAW = 6, WAVE_FORMAT_MULAW = 7, per Microsoft's mmreg.h registry).
import { open, type FileHandle } from 'node:fs/promises'
import { endianness } from 'node:os'
import { alawToLinear, ulawToLinear } from './g711.ts'

export type WavFormat = 'pcm16' | 'ulaw' | 'alaw'

export interface WavData {
  sampleRate: number
  channels: number
  format: WavFormat
  /** Interleaved samples, decoded to 16-bit linear whatever the stored format. */
  samples: Int16Array
}

const FORMAT_PCM = 1
const FORMAT_ALAW = 6
const FORMAT_MULAW = 7
const FORMAT_EXTENSIBLE = 0xfffe
const HEADER_BYTES = 44
const MAX_U32 = 0xffffffff

/**
 * Parses a WAV file held in memory. Chunks are walked by their declared sizes (with the RIFF
 * pad byte after odd-sized chunks), so LIST/fact/etc. chunks anywhere are skipped. A data chunk
 * whose size runs past the end of the buffer is read up to the end: that is what a recorder
 * killed before it patched its header leaves behind.
 */
export function readWav(buf: Buffer): WavData {
  if (buf.length < 12 || buf.toString('latin1', 0, 4) !== 'RIFF' || buf.toString('latin1', 8, 12) !== 'WAVE') {
    throw new Error('WAV: not a RIFF/WAVE file')
  }
  let fmt: { tag: number; channels: number; sampleRate: number; blockAlign: number; bits: number } | null = null
  let dataStart = -1
  let dataBytes = 0
  let off = 12
  while (off + 8 <= buf.length && (fmt === null || dataStart < 0)) {
    const id = buf.toString('latin1', off, off + 4)
    const size = buf.readUInt32LE(off + 4)
    const body = off + 8
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > buf.length) throw new Error(`WAV: fmt chunk too short (${size} bytes)`)
      let tag = buf.readUInt16LE(body)
      // WAVE_FORMAT_EXTENSIBLE carries the real format in the first two bytes of its SubFormat GUID.
      if (tag === FORMAT_EXTENSIBLE) {
        if (size < 40 || body + 26 > buf.length) throw new Error('WAV: truncated WAVE_FORMAT_EXTENSIBLE fmt chunk')
        tag = buf.readUInt16LE(body + 24)
      }
      fmt = {
        tag,
        channels: buf.readUInt16LE(body + 2),
        sampleRate: buf.readUInt32LE(body + 4),
        blockAlign: buf.readUInt16LE(body + 12),
        bits: buf.readUInt16LE(body + 14),
      }
    } else if (id === 'data') {
      dataStart = body
      dataBytes = Math.min(size, buf.length - body)
    }
    off = body + size + (size & 1)
  }
  if (fmt === null) throw new Error('WAV: no fmt chunk')
  if (dataStart < 0) throw new Error('WAV: no data chunk')
  if (fmt.channels === 0) throw new Error('WAV: zero channels')
  if (fmt.sampleRate === 0) throw new Error('WAV: zero sample rate')

  let format: WavFormat
  if (fmt.tag === FORMAT_PCM && fmt.bits === 16) format = 'pcm16'
  else if (fmt.tag === FORMAT_MULAW && fmt.bits === 8) format = 'ulaw'
  else if (fmt.tag === FORMAT_ALAW && fmt.bits === 8) format = 'alaw'
  else throw new Error(`WAV: unsupported format tag ${fmt.tag} with ${fmt.bits} bits per sample`)

  const bytesPerSample = format === 'pcm16' ? 2 : 1
  if (fmt.blockAlign !== bytesPerSample * fmt.channels) {
    throw new Error(`WAV: block align ${fmt.blockAlign} does not match ${fmt.channels} channels of ${format}`)
  }
  // Whole frames only: a torn last frame would shift every channel after it.
  const frames = Math.floor(dataBytes / fmt.blockAlign)
  const samples = new Int16Array(frames * fmt.channels)
  if (format === 'pcm16') {
    for (let i = 0; i < samples.length; i++) samples[i] = buf.readInt16LE(dataStart + 2 * i)
  } else {
    const decode = format === 'ulaw' ? ulawToLinear : alawToLinear
    for (let i = 0; i < samples.length; i++) samples[i] = decode(buf[dataStart + i])
  }
  return { sampleRate: fmt.sampleRate, channels: fmt.channels, format, samples }
}

// Canonical 44-byte header (16-byte fmt chunk, no fact chunk). Kept canonical also for G.711:
// tools that skip a fixed 44-byte header (and SIPp's rtp_stream, which only skips the header)
// read it correctly, and chunk-walking readers accept a 16-byte fmt for these formats.
function writeHeader(out: Buffer, tag: number, channels: number, sampleRate: number, bitsPerSample: number, dataBytes: number): void {
  const blockAlign = Math.max(1, Math.ceil(channels * (bitsPerSample / 8))) // G.722: 4 bits, 1-byte blocks
  out.write('RIFF', 0, 'latin1')
  out.writeUInt32LE(Math.min(36 + dataBytes, MAX_U32), 4)
  out.write('WAVE', 8, 'latin1')
  out.write('fmt ', 12, 'latin1')
  out.writeUInt32LE(16, 16)
  out.writeUInt16LE(tag, 20)
  out.writeUInt16LE(channels, 22)
  out.writeUInt32LE(sampleRate, 24)
  out.writeUInt32LE(sampleRate * blockAlign, 28)
  out.writeUInt16LE(blockAlign, 32)
  out.writeUInt16LE(bitsPerSample, 34)
  out.write('data', 36, 'latin1')
  out.writeUInt32LE(Math.min(dataBytes, MAX_U32), 40)
}

function checkLayout(sampleRate: number, channels: number): void {
  if (!Number.isInteger(sampleRate) || sampleRate <= 0 || sampleRate > MAX_U32) {
    throw new RangeError(`WAV: invalid sample rate ${sampleRate}`)
  }
  if (!Number.isInteger(channels) || channels < 1 || channels > 0xffff) {
    throw new RangeError(`WAV: invalid channel count ${channels}`)
  }
}

const LITTLE_ENDIAN_HOST = endianness() === 'LE'

function pcmToLittleEndian(samples: Int16Array, out: Buffer, offset: number): void {
  // WAV is little-endian, as the memory of every host we run on: one copy, not a call per sample
  if (LITTLE_ENDIAN_HOST) Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength).copy(out, offset)
  else for (let i = 0; i < samples.length; i++) out.writeInt16LE(samples[i], offset + 2 * i)
}

/** Builds a complete 16-bit PCM WAV file from interleaved samples. */
export function encodeWav(samples: Int16Array, sampleRate: number, channels: number): Buffer {
  checkLayout(sampleRate, channels)
  if (samples.length % channels !== 0) {
    throw new RangeError(`WAV: ${samples.length} samples is not a whole number of ${channels}-channel frames`)
  }
  const out = Buffer.alloc(HEADER_BYTES + samples.length * 2)
  writeHeader(out, FORMAT_PCM, channels, sampleRate, 16, samples.length * 2)
  pcmToLittleEndian(samples, out, HEADER_BYTES)
  return out
}

/** WAVE_FORMAT_G722_ADPCM (RFC 2361 registry); 16 kHz audio in 4 bits a sample. */
const FORMAT_G722 = 0x0065

/**
 * Wraps already-encoded G.711 or G.722 bytes in a mono WAV (used to feed SIPp's
 * rtp_stream, which sends the bytes after the header as RTP payload unchanged).
 */
export function encodeWavCoded(payload: Uint8Array, format: 'ulaw' | 'alaw' | 'g722'): Buffer {
  // Odd-sized data chunks are followed by a pad byte (RIFF rule); it is not counted in the size.
  const pad = payload.length & 1
  const out = Buffer.alloc(HEADER_BYTES + payload.length + pad)
  if (format === 'g722') writeHeader(out, FORMAT_G722, 1, 16000, 4, payload.length)
  else writeHeader(out, format === 'ulaw' ? FORMAT_MULAW : FORMAT_ALAW, 1, 8000, 8, payload.length)
  if (pad) out.writeUInt32LE(36 + payload.length + pad, 4)
  out.set(payload, HEADER_BYTES)
  return out
}

/** How much audio may follow the last header update: what a kill -9 can leave unannounced. */
const HEADER_EVERY_S = 2

/**
 * Streams 16-bit PCM to a WAV file. `write` copies the samples and queues them; one write is
 * in flight at a time, appending at a known offset, so callers on the media path never wait on
 * the disk. The RIFF and data sizes are rewritten in place after every HEADER_EVERY_S seconds of
 * audio (44 bytes into a page already cached, no fsync: a killed process loses nothing the kernel
 * has, so the file stays readable and complete up to the last update), and by `close`.
 * A failed disk write (disk full) stops recording; the header is still fixed to the whole frames
 * that did reach the disk, and the error is reported by `close` and `failure`.
 */
export class WavFileWriter {
  private queue: Buffer[] = []
  private writtenBytes = 0
  private headerBytes = 0
  private readonly headerEvery: number
  private draining: Promise<void> | null = null
  private error: Error | null = null
  private closed = false

  private constructor(
    private readonly fh: FileHandle,
    private readonly sampleRate: number,
    private readonly channels: number,
  ) {
    this.headerEvery = HEADER_EVERY_S * sampleRate * channels * 2
  }

  static async open(path: string, sampleRate: number, channels: number): Promise<WavFileWriter> {
    checkLayout(sampleRate, channels)
    const fh = await open(path, 'w')
    try {
      const header = Buffer.alloc(HEADER_BYTES)
      writeHeader(header, FORMAT_PCM, channels, sampleRate, 16, 0)
      await fh.write(header, 0, HEADER_BYTES, 0)
    } catch (err) {
      await fh.close()
      throw err
    }
    return new WavFileWriter(fh, sampleRate, channels)
  }

  /** The write error that stopped the recording (disk full), or null. */
  get failure(): Error | null {
    return this.error
  }

  /** Seconds of audio on disk (whole frames). */
  get seconds(): number {
    return this.frameBytes() / (2 * this.channels * this.sampleRate)
  }

  write(samples: Int16Array): void {
    if (this.closed) throw new Error('WavFileWriter: write after close')
    if (samples.length % this.channels !== 0) {
      throw new RangeError(`WavFileWriter: ${samples.length} samples is not whole ${this.channels}-channel frames`)
    }
    if (this.error !== null || samples.length === 0) return
    const chunk = Buffer.allocUnsafe(samples.length * 2)
    pcmToLittleEndian(samples, chunk, 0)
    this.queue.push(chunk)
    if (this.draining === null) this.draining = this.drain()
  }

  /** Resolves when everything written so far is on its way to the disk (or failed). */
  async flush(): Promise<void> {
    while (this.draining !== null) await this.draining
  }

  async close(): Promise<void> {
    if (this.closed) throw new Error('WavFileWriter: already closed')
    this.closed = true
    await this.flush()
    try {
      // Rewriting 44 bytes in place needs no new blocks, so it works on a full disk too.
      await this.patchHeader()
    } finally {
      await this.fh.close()
    }
    if (this.error !== null) throw this.error
  }

  private frameBytes(): number {
    const frame = 2 * this.channels
    return this.writtenBytes - (this.writtenBytes % frame)
  }

  private async patchHeader(): Promise<void> {
    const header = Buffer.alloc(HEADER_BYTES)
    const bytes = this.frameBytes()
    writeHeader(header, FORMAT_PCM, this.channels, this.sampleRate, 16, bytes)
    await this.fh.write(header, 0, HEADER_BYTES, 0)
    this.headerBytes = bytes
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        // Coalesce whatever piled up while the previous write was in flight.
        const chunk = this.queue.length === 1 ? this.queue[0] : Buffer.concat(this.queue)
        this.queue = []
        // A nearly full disk takes part of a write and refuses the rest on the next call.
        for (let done = 0; done < chunk.length;) {
          const { bytesWritten } = await this.fh.write(chunk, done, chunk.length - done, HEADER_BYTES + this.writtenBytes)
          if (bytesWritten === 0) throw Object.assign(new Error('WavFileWriter: the disk took no bytes'), { code: 'ENOSPC' })
          done += bytesWritten
          this.writtenBytes += bytesWritten
        }
        if (this.writtenBytes - this.headerBytes >= this.headerEvery) await this.patchHeader()
      }
    } catch (err) {
      this.error = err instanceof Error ? err : new Error(String(err))
      this.queue = []
    } finally {
      this.draining = null
    }
  }
}

/**
 * Rewrites the RIFF and data sizes of a WAV file from its length, for a file whose writer never
 * closed it (a crash). The data chunk is taken to run to the end of the file, in whole frames.
 * Returns the seconds of audio the file now declares, or null when it is not a WAV file.
 */
export async function repairWavHeader(path: string): Promise<{ seconds: number; repaired: boolean } | null> {
  const fh = await open(path, 'r+')
  try {
    const { size } = await fh.stat()
    const head = Buffer.alloc(Math.min(size, 4096))
    await fh.read(head, 0, head.length, 0)
    if (head.length < 12 || head.toString('latin1', 0, 4) !== 'RIFF' || head.toString('latin1', 8, 12) !== 'WAVE') return null
    let off = 12
    let blockAlign = 0
    let byteRate = 0
    while (off + 8 <= head.length) {
      const id = head.toString('latin1', off, off + 4)
      const chunkSize = head.readUInt32LE(off + 4)
      if (id === 'fmt ' && off + 8 + 16 <= head.length) {
        byteRate = head.readUInt32LE(off + 16)
        blockAlign = head.readUInt16LE(off + 20)
      } else if (id === 'data') {
        if (!blockAlign) return null
        const body = off + 8
        const avail = Math.max(0, size - body)
        const dataBytes = Math.min(avail - (avail % blockAlign), MAX_U32)
        const riffSize = Math.min(body - 8 + dataBytes, MAX_U32)
        const repaired = chunkSize !== dataBytes || head.readUInt32LE(4) !== riffSize
        if (repaired) {
          const b = Buffer.alloc(4)
          b.writeUInt32LE(dataBytes, 0)
          await fh.write(b, 0, 4, off + 4)
          b.writeUInt32LE(riffSize, 0)
          await fh.write(b, 0, 4, 4)
        }
        return { seconds: byteRate ? dataBytes / byteRate : 0, repaired }
      }
      off += 8 + chunkSize + (chunkSize & 1)
    }
    return null
  } finally {
    await fh.close()
  }
}

/** Where a WAV file's 16-bit PCM data starts, and its layout, from the chunks in its first 4 KiB. */
async function pcmDataOf(fh: FileHandle): Promise<{ start: number; sampleRate: number; channels: number }> {
  const head = Buffer.alloc(4096)
  const { bytesRead } = await fh.read(head, 0, head.length, 0)
  if (bytesRead < 12 || head.toString('latin1', 0, 4) !== 'RIFF' || head.toString('latin1', 8, 12) !== 'WAVE') throw new Error('WAV: not a RIFF/WAVE file')
  let fmt: { sampleRate: number; channels: number } | undefined
  for (let off = 12; off + 8 <= bytesRead;) {
    const id = head.toString('latin1', off, off + 4)
    const size = head.readUInt32LE(off + 4)
    if (id === 'fmt ' && off + 24 <= bytesRead) {
      const tag = head.readUInt16LE(off + 8)
      if (tag !== FORMAT_PCM || head.readUInt16LE(off + 22) !== 16) throw new Error(`WAV: format tag ${tag}, not 16-bit PCM`)
      fmt = { channels: head.readUInt16LE(off + 10), sampleRate: head.readUInt32LE(off + 12) }
    } else if (id === 'data') {
      if (!fmt) throw new Error('WAV: data before fmt')
      return { start: off + 8, ...fmt }
    }
    off += 8 + size + (size & 1)
  }
  throw new Error('WAV: no data chunk in the first 4 KiB')
}

/**
 * Appends the audio of the WAV file `source` to the WAV file `target` (both 16-bit PCM of the same
 * rate and channels, `target` closed by its writer), streamed, and rewrites `target`'s sizes. The
 * source's data is taken to run to its end (a writer that never patched its header, a killed one,
 * still counts). Returns the seconds appended.
 */
export async function appendWavFile(target: string, source: string): Promise<number> {
  let seconds = 0
  const src = await open(source, 'r')
  try {
    const dst = await open(target, 'r+')
    try {
      const [from, to] = await Promise.all([pcmDataOf(src), pcmDataOf(dst)])
      if (from.sampleRate !== to.sampleRate || from.channels !== to.channels)
        throw new Error(`WAV: ${from.channels} channels at ${from.sampleRate} Hz cannot join ${to.channels} at ${to.sampleRate} Hz`)
      const frame = 2 * to.channels
      const srcBytes = (await src.stat()).size - from.start
      const bytes = srcBytes - (srcBytes % frame)
      // the target's audio ends where its data chunk says, in whole frames
      const size = Buffer.alloc(4)
      await dst.read(size, 0, 4, to.start - 4)
      const dstBytes = Math.min(size.readUInt32LE(0), (await dst.stat()).size - to.start)
      let at = to.start + dstBytes - (dstBytes % frame)
      const chunk = Buffer.alloc(1 << 16)
      for (let done = 0; done < bytes;) {
        const { bytesRead } = await src.read(chunk, 0, Math.min(chunk.length, bytes - done), from.start + done)
        if (bytesRead === 0) break
        await dst.write(chunk, 0, bytesRead, at)
        at += bytesRead
        done += bytesRead
      }
      await dst.truncate(at)
      seconds = bytes / (frame * to.sampleRate)
    } finally {
      await dst.close()
    }
  } finally {
    await src.close()
  }
  await repairWavHeader(target)
  return seconds
}
