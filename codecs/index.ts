import type { AudioCodec } from './codec.ts'
import { G722Codec } from './g722.ts'
import { OpusCodec } from './opus.ts'
import { PcmaCodec } from './pcma.ts'
import { PcmuCodec } from './pcmu.ts'

export type { AudioCodec } from './codec.ts'

export type CodecName = 'PCMU' | 'PCMA' | 'G722' | 'opus'

export interface CodecSettings {
  /** Opus encoder complexity 0-10 (codecs/opus.ts has the default and what it costs). */
  opusComplexity?: number
}

/** The audio rate a codec's frames have on the line (what createCodec(name).sampleRate will be). */
export function lineRateOf(name: CodecName): number {
  return name === 'PCMU' || name === 'PCMA' ? 8000 : 16000
}

/** Creates a codec instance by its SDP encoding name. */
export function createCodec(name: CodecName, settings: CodecSettings = {}): AudioCodec {
  switch (name) {
    case 'PCMU':
      return new PcmuCodec()
    case 'PCMA':
      return new PcmaCodec()
    case 'G722':
      return new G722Codec()
    case 'opus':
      // 16 kHz PCM: the server's internal rate, so no resampling; RTP clock stays 48000.
      return new OpusCodec({ sampleRate: 16000, complexity: settings.opusComplexity })
    default:
      // Reachable from untyped callers (config files, SDP); keeps the failure explicit.
      throw new Error(`unsupported codec: ${String(name)}`)
  }
}
