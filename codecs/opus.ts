// Opus (RFC 6716, RTP payload RFC 7587) on libopus compiled to WebAssembly.
//
// The WASM build is the one the `@evan/opus` package ships (wasm/opus.wasm, with a SIMD
// variant). Its JS wrapper is not used: like the other npm bindings it hard-wires
// decode_fec = 0 and a 120 ms decode size, so it can neither read in-band FEC nor conceal
// exactly one lost frame. The module's raw exports (opus_encode, opus_decode with its
// decode_fec flag, opus_encoder_ctl_set) are called here directly instead. Nothing is built
// or downloaded at install time; the .wasm file comes inside the registry package.

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import type { AudioCodec } from './codec.ts'

interface OpusExports {
  memory: WebAssembly.Memory
  _initialize(): void
  malloc(size: number): number
  free(ptr: number): void
  opus_encoder_get_size(channels: number): number
  opus_encoder_init(st: number, rate: number, channels: number, application: number): number
  opus_encode(st: number, pcm: number, frameSize: number, data: number, maxBytes: number): number
  opus_encoder_ctl_set(st: number, request: number, value: number): number
  opus_decoder_get_size(channels: number): number
  opus_decoder_init(st: number, rate: number, channels: number): number
  opus_decode(st: number, data: number, len: number, pcm: number, frameSize: number, decodeFec: number): number
  opus_strerror(code: number): number
}

// libopus constants (opus_defines.h).
const OPUS_APPLICATION_VOIP = 2048
const OPUS_SIGNAL_VOICE = 3001
const OPUS_BANDWIDTH_WIDEBAND = 1103
const OPUS_BANDWIDTH_FULLBAND = 1105
const OPUS_SET_BITRATE = 4002
const OPUS_SET_MAX_BANDWIDTH = 4004
const OPUS_SET_COMPLEXITY = 4010
const OPUS_SET_INBAND_FEC = 4012
const OPUS_SET_PACKET_LOSS_PERC = 4014
const OPUS_SET_DTX = 4016
const OPUS_SET_SIGNAL = 4024
const OPUS_BUFFER_TOO_SMALL = -2

/** 120 ms at 48 kHz: the longest Opus packet duration. */
const MAX_FRAME = 5760
/** RFC 6716 3.4: at most 48 frames of at most 1275 bytes, plus framing. */
const MAX_PACKET = 1275 * 3 + 7

interface Lib {
  x: OpusExports
  /** Views of the WASM heap; replaced whenever the memory grows (the old ones detach). */
  u8: Uint8Array
  i16: Int16Array
}

let lib: Lib | undefined

function load(): Lib {
  if (lib) return lib
  const require = createRequire(import.meta.url)
  // Same probe the package uses: a module with one v128 instruction validates only with SIMD.
  const simd = WebAssembly.validate(Uint8Array.of(0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 10, 9, 1, 7, 0, 65, 0, 253, 15, 26, 11))
  const file = require.resolve(`@evan/opus/wasm/${simd ? 'simd' : 'opus'}.wasm`)
  const refresh = (): void => {
    const l = lib as Lib
    l.u8 = new Uint8Array(l.x.memory.buffer)
    l.i16 = new Int16Array(l.x.memory.buffer)
  }
  const noop = (): number => 0
  const instance = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(file)), {
    // libopus never does I/O; these satisfy the WASI imports of the standalone build.
    wasi_snapshot_preview1: { fd_seek: noop, fd_write: noop, fd_close: noop, proc_exit: noop },
    env: { emscripten_notify_memory_growth: refresh },
  })
  const x = instance.exports as unknown as OpusExports
  x._initialize()
  lib = { x, u8: new Uint8Array(x.memory.buffer), i16: new Int16Array(x.memory.buffer) }
  return lib
}

function opusError(l: Lib, code: number): string {
  const start = l.x.opus_strerror(code)
  let end = start
  while (l.u8[end] !== 0) end++
  return Buffer.from(l.u8.subarray(start, end)).toString('latin1')
}

/** Frees a codec's WASM allocations once the codec object is collected. */
const heapBlocks = new FinalizationRegistry<number[]>((ptrs) => {
  for (const p of ptrs) if (p !== 0) lib?.x.free(p)
})

export type OpusSampleRate = 48000 | 16000 | 8000

export interface OpusOptions {
  /** Rate of the PCM that decode produces and encode takes; the RTP clock stays 48000. Default 48000. */
  sampleRate?: OpusSampleRate
  /**
   * Target bitrate in bit/s. Default 32000: at 5% expected loss libopus adds in-band FEC only
   * above a rate threshold (measured on wideband speech: none at 24000, FEC at 32000).
   */
  bitrate?: number
  /** Expected packet loss in percent; makes the encoder spend bits on in-band FEC. Default 5. */
  packetLossPercent?: number
  /** Discontinuous transmission: silence goes out as 1-2 byte packets every 400 ms. Default false. */
  dtx?: boolean
  /**
   * Encoder complexity 0-10. Default 2, the lowest that keeps in-band FEC at 32 kbit/s: libopus
   * counts complexity 0-1 as a lower effective rate and then drops FEC (the FEC test fails with
   * them). For wideband speech (SILK only) in this WASM build 2 costs about 0.19 ms per 20 ms
   * frame, 5 0.26 ms, 10 0.54 ms, 0-1 0.1 ms (test/bench/opus-encode.ts, with a spectral check
   * of the decoded audio).
   */
  complexity?: number
  /**
   * Code audio above 8 kHz. Default false: the media server works at 16 kHz inside, so there
   * is none, and wideband keeps every packet in SILK mode, where in-band FEC lives (at 48 kHz
   * the encoder would otherwise go hybrid/fullband and drop FEC at 32 kbit/s).
   */
  fullband?: boolean
}

/**
 * Opus, mono. Encoder and decoder state are separate, created on first use, so one instance
 * serves both directions of a call (or just one). Decoding never throws on packet content:
 * a corrupted packet is concealed like a lost one and counted in `invalidPackets`; DTX
 * packets (1-2 bytes) and empty payloads decode to comfort noise or concealment.
 */
export class OpusCodec implements AudioCodec {
  readonly name = 'opus'
  readonly clockRate = 48000
  readonly sampleRate: OpusSampleRate
  /** Packets libopus rejected as malformed (each was concealed instead). */
  invalidPackets = 0

  private readonly lib: Lib
  private readonly opts: Required<Omit<OpusOptions, 'sampleRate'>>
  /** WASM heap blocks: [encoder, decoder, pcm scratch, packet scratch, saved encoder]; 0 until created. */
  private readonly ptrs = [0, 0, 0, 0, 0]
  /** Bytes of encoder state: libopus keeps all of it (SILK, CELT, analysis) in the one block. */
  private encoderBytes = 0
  /** Samples in 2.5 ms, the Opus frame size granule. */
  private readonly granule: number
  /** Duration of the last packet decoded, in samples: what an empty payload stands for. */
  private lastFrame: number

  constructor(options: OpusOptions = {}) {
    const rate = options.sampleRate ?? 48000
    if (rate !== 48000 && rate !== 16000 && rate !== 8000) throw new RangeError(`opus: unsupported sample rate ${String(rate)}`)
    this.sampleRate = rate
    this.opts = {
      bitrate: options.bitrate ?? 32000,
      packetLossPercent: options.packetLossPercent ?? 5,
      dtx: options.dtx ?? false,
      complexity: options.complexity ?? 2,
      fullband: options.fullband ?? false,
    }
    this.granule = rate / 400
    this.lastFrame = rate / 50
    this.lib = load()
    const { x } = this.lib
    this.ptrs[2] = x.malloc(MAX_FRAME * 2)
    this.ptrs[3] = x.malloc(MAX_PACKET)
    heapBlocks.register(this, this.ptrs)
  }

  encode(pcm: Int16Array, out: Uint8Array): number {
    const { x } = this.lib
    const n = pcm.length
    if (n > MAX_FRAME || n % this.granule !== 0) throw new RangeError(`opus encode: ${n} samples is not an Opus frame size at ${this.sampleRate} Hz`)
    const enc = this.encoder()
    this.lib.i16.set(pcm, this.ptrs[2] >> 1)
    const bytes = x.opus_encode(enc, this.ptrs[2], n, this.ptrs[3], Math.min(out.length, MAX_PACKET))
    if (bytes < 0) throw new Error(`opus encode: ${opusError(this.lib, bytes)}`)
    const heap = this.lib.u8
    const base = this.ptrs[3]
    for (let i = 0; i < bytes; i++) out[i] = heap[base + i]
    return bytes
  }

  /**
   * A byte copy of the encoder block, put back at the same address: its SILK and CELT parts are
   * found by offsets inside the block, and the only pointers in it are to libopus's static
   * tables, so the copy is the whole state. About 43 KB, a few microseconds.
   */
  saveEncoder(): void {
    const enc = this.encoder()
    if (this.ptrs[4] === 0) this.ptrs[4] = this.lib.x.malloc(this.encoderBytes)
    this.lib.u8.copyWithin(this.ptrs[4], enc, enc + this.encoderBytes)
  }

  restoreEncoder(): void {
    if (this.ptrs[4] === 0) return // never saved: nothing encoded to take back
    this.lib.u8.copyWithin(this.ptrs[0], this.ptrs[4], this.ptrs[4] + this.encoderBytes)
  }

  decode(payload: Uint8Array, out: Int16Array): number {
    const n = payload.length === 0 ? -1 : this.run(payload, out, Math.min(out.length, MAX_FRAME), 0)
    if (n < 0) return this.conceal(out, Math.min(this.lastFrame, out.length - (out.length % this.granule)))
    this.lastFrame = n
    return n
  }

  /**
   * Recovers the frame lost just before `nextPayload` from that packet's in-band FEC,
   * filling all of `out` (its length is the lost frame's duration, a multiple of 2.5 ms).
   * Without FEC data in the packet libopus conceals instead. `nextPayload` must still be
   * decoded normally afterwards.
   */
  decodeFec(nextPayload: Uint8Array, out: Int16Array): number {
    const samples = this.checkLength(out.length, out.length)
    if (nextPayload.length === 0) return this.conceal(out, samples)
    const n = this.run(nextPayload, out, samples, 1)
    return n < 0 ? this.conceal(out, samples) : n
  }

  /** Decoder packet loss concealment: `samples` (a multiple of 2.5 ms) continue the signal into `out`. */
  conceal(out: Int16Array, samples: number): number {
    const frame = this.checkLength(samples, out.length)
    const { x } = this.lib
    const n = x.opus_decode(this.decoder(), 0, 0, this.ptrs[2], frame, 0)
    if (n < 0) throw new Error(`opus conceal: ${opusError(this.lib, n)}`)
    this.copyOut(out, n)
    return n
  }

  /** Decodes `payload` into `out`; a negative result is a libopus error on the packet's content. */
  private run(payload: Uint8Array, out: Int16Array, maxSamples: number, fec: 0 | 1): number {
    const { x } = this.lib
    const dec = this.decoder()
    if (payload.length > MAX_PACKET) {
      this.invalidPackets++
      return -1
    }
    this.lib.u8.set(payload, this.ptrs[3])
    const n = x.opus_decode(dec, this.ptrs[3], payload.length, this.ptrs[2], maxSamples, fec)
    if (n === OPUS_BUFFER_TOO_SMALL) throw new RangeError(`opus decode: output holds ${out.length} samples, the packet has more`)
    if (n < 0) {
      this.invalidPackets++
      return n
    }
    this.copyOut(out, n)
    return n
  }

  private checkLength(samples: number, room: number): number {
    if (samples <= 0 || samples > MAX_FRAME || samples % this.granule !== 0 || samples > room) {
      throw new RangeError(`opus: ${samples} samples is not a frame size at ${this.sampleRate} Hz that fits ${room}`)
    }
    return samples
  }

  private copyOut(out: Int16Array, n: number): void {
    const heap = this.lib.i16
    const base = this.ptrs[2] >> 1
    for (let i = 0; i < n; i++) out[i] = heap[base + i]
  }

  private encoder(): number {
    if (this.ptrs[0] !== 0) return this.ptrs[0]
    const { x } = this.lib
    this.encoderBytes = x.opus_encoder_get_size(1)
    const st = x.malloc(this.encoderBytes)
    this.ptrs[0] = st
    const check = (what: string, code: number): void => {
      if (code < 0) throw new Error(`opus encoder ${what}: ${opusError(this.lib, code)}`)
    }
    check('init', x.opus_encoder_init(st, this.sampleRate, 1, OPUS_APPLICATION_VOIP))
    check('bitrate', x.opus_encoder_ctl_set(st, OPUS_SET_BITRATE, this.opts.bitrate))
    check('bandwidth', x.opus_encoder_ctl_set(st, OPUS_SET_MAX_BANDWIDTH, this.opts.fullband ? OPUS_BANDWIDTH_FULLBAND : OPUS_BANDWIDTH_WIDEBAND))
    check('complexity', x.opus_encoder_ctl_set(st, OPUS_SET_COMPLEXITY, this.opts.complexity))
    check('signal', x.opus_encoder_ctl_set(st, OPUS_SET_SIGNAL, OPUS_SIGNAL_VOICE))
    check('inband FEC', x.opus_encoder_ctl_set(st, OPUS_SET_INBAND_FEC, 1))
    check('packet loss', x.opus_encoder_ctl_set(st, OPUS_SET_PACKET_LOSS_PERC, this.opts.packetLossPercent))
    check('DTX', x.opus_encoder_ctl_set(st, OPUS_SET_DTX, this.opts.dtx ? 1 : 0))
    return st
  }

  private decoder(): number {
    if (this.ptrs[1] !== 0) return this.ptrs[1]
    const { x } = this.lib
    const st = x.malloc(x.opus_decoder_get_size(1))
    this.ptrs[1] = st
    const code = x.opus_decoder_init(st, this.sampleRate, 1)
    if (code < 0) throw new Error(`opus decoder init: ${opusError(this.lib, code)}`)
    return st
  }
}
