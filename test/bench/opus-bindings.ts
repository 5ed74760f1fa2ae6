// Opus bindings compared: encode + decode time per 20 ms mono frame at 48 and 16 kHz.
//
//   node --import tsx test/bench/opus-bindings.ts
//
// Always measures codecs/opus.ts (libopus WASM from @evan/opus, called directly) and the
// native addon @evan/opus ships. Other bindings are measured when they resolve from the
// directory in OPUS_BENCH_FROM (default: this project), e.g. after
// `npm install --prefix /tmp/opus-bench opusscript @discordjs/opus` run with
// OPUS_BENCH_FROM=/tmp/opus-bench. All run the same settings: VoIP, 32 kbit/s, complexity 5,
// in-band FEC at 5% expected loss, wideband at most.

import { createRequire } from 'node:module'
import path from 'node:path'
import { OpusCodec } from '../../codecs/opus.ts'

const FRAMES = 1500 // 30 s of audio per measurement
const WARMUP = 200

// libopus request numbers (opus_defines.h).
const CTL = { application: 4000, bitrate: 4002, maxBandwidth: 4004, complexity: 4010, fec: 4012, loss: 4014 }
const SETTINGS: Array<[number, number]> = [
  [CTL.bitrate, 32000],
  [CTL.maxBandwidth, 1103],
  [CTL.complexity, 5],
  [CTL.fec, 1],
  [CTL.loss, 5],
]

interface Candidate {
  name: string
  /** Encodes one frame and decodes the packet. */
  make(rate: number): (pcm: Int16Array) => void
}

function speechLike(rate: number, frames: number): Int16Array {
  const s = new Int16Array((rate / 50) * frames)
  let phase = 0
  for (let i = 0; i < s.length; i++) {
    const time = i / rate
    phase += (2 * Math.PI * (140 + 30 * Math.sin(2 * Math.PI * 0.8 * time))) / rate
    let v = 0
    for (let h = 1; h <= 20 && 170 * h < rate / 2; h++) v += Math.sin(h * phase) / h
    s[i] = Math.round(6000 * (0.55 + 0.45 * Math.sin(2 * Math.PI * 3 * time)) * v)
  }
  return s
}

const from = createRequire(path.join(path.resolve(process.env.OPUS_BENCH_FROM ?? '.'), 'noop.js'))
const here = createRequire(import.meta.url)

function tryRequire(name: string): unknown {
  try {
    return from(name)
  } catch (err) {
    console.log(`${name}: not measured (${(err as Error).message.split('\n')[0]})`)
    return undefined
  }
}

const candidates: Candidate[] = [
  {
    name: 'codecs/opus.ts (@evan/opus WASM, raw calls)',
    make(rate) {
      const codec = new OpusCodec({ sampleRate: rate as 48000 | 16000 })
      const packet = new Uint8Array(1500)
      const out = new Int16Array(rate / 50)
      return (pcm) => {
        codec.decode(packet.subarray(0, codec.encode(pcm, packet)), out)
      }
    },
  },
]

type EvanCoder = { ctl(cmd: number, value: number): number; encode(b: ArrayBufferView): Uint8Array; decode(b: ArrayBufferView): Uint8Array }
interface EvanNative {
  Encoder: new (o: { channels: number; sample_rate: number; application: string }) => EvanCoder
  Decoder: new (o: { channels: number; sample_rate: number }) => EvanCoder
}
const evanNative = here('@evan/opus/node/index.js') as EvanNative
candidates.push({
  name: '@evan/opus native addon (prebuilt .node in the package)',
  make(rate) {
    const enc = new evanNative.Encoder({ channels: 1, sample_rate: rate, application: 'voip' })
    for (const [cmd, value] of SETTINGS) enc.ctl(cmd, value)
    const dec = new evanNative.Decoder({ channels: 1, sample_rate: rate })
    return (pcm) => {
      dec.decode(enc.encode(pcm))
    }
  },
})

type OpusScriptCtor = new (
  rate: number,
  channels: number,
  application: number,
) => {
  encoderCTL(ctl: number, arg: number): void
  encode(b: Buffer, frameSize: number): Buffer
  decode(b: Buffer): Buffer
}
const opusscript = tryRequire('opusscript') as OpusScriptCtor | undefined
if (opusscript) {
  candidates.push({
    name: 'opusscript (WASM)',
    make(rate) {
      const c = new opusscript(rate, 1, 2048)
      for (const [cmd, value] of SETTINGS) c.encoderCTL(cmd, value)
      return (pcm) => {
        c.decode(c.encode(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength), pcm.length))
      }
    },
  })
}

type DiscordOpus = {
  OpusEncoder: new (
    rate: number,
    channels: number,
  ) => {
    applyEncoderCTL(ctl: number, value: number): void
    encode(b: Buffer): Buffer
    decode(b: Buffer): Buffer
  }
}
const discord = tryRequire('@discordjs/opus') as DiscordOpus | undefined
if (discord) {
  candidates.push({
    name: '@discordjs/opus (native, node-gyp build)',
    make(rate) {
      const c = new discord.OpusEncoder(rate, 1)
      c.applyEncoderCTL(CTL.application, 2048) // before the first frame, as libopus requires
      for (const [cmd, value] of SETTINGS) c.applyEncoderCTL(cmd, value)
      return (pcm) => {
        c.decode(c.encode(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength)))
      }
    },
  })
}

for (const rate of [48000, 16000]) {
  const frame = rate / 50
  const signal = speechLike(rate, FRAMES)
  console.log(`\n${rate / 1000} kHz mono, 20 ms frames (${frame} samples), encode + decode:`)
  for (const c of candidates) {
    const step = c.make(rate)
    for (let k = 0; k < WARMUP; k++) step(signal.subarray(k * frame, (k + 1) * frame))
    const start = process.hrtime.bigint()
    for (let k = 0; k < FRAMES; k++) step(signal.subarray(k * frame, (k + 1) * frame))
    const us = Number(process.hrtime.bigint() - start) / 1000 / FRAMES
    // One call needs one frame each way every 20 ms.
    console.log(
      `  ${c.name.padEnd(58)} ${us.toFixed(1).padStart(7)} us/frame  ${((us / 20000) * 100).toFixed(2)}% of a core per call, ~${Math.floor(20000 / us)} calls/core`,
    )
  }
}
