// The embedded eSpeak NG (worker thread) as a TtsProvider. eSpeak renders a whole clause at once;
// the PCM is then resampled and handed out in short pieces, so playback can start on the first
// piece and no single resampling step holds the event loop.
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { EspeakTts, type Voice } from './espeak-engine.ts'
import type { ProviderTimeouts, TtsChunk, TtsProvider, TtsRequest } from '../types.ts'
import { PcmStream } from './pcm-stream.ts'
import { ProviderCall } from './provider-call.ts'
import { ProviderMetrics } from './provider-metrics.ts'

const PIECE_MS = 200

export interface EspeakProviderOptions {
  /** an engine shared with other users (the prompt cache); by default the adapter owns one */
  engine?: EspeakTts
  /** responseMs bounds one synthesis; connectMs is unused (nothing to connect to) */
  timeouts: ProviderTimeouts
  registry: Registry
  /** words per minute */
  rate?: number
  logger?: Logger
}

function voiceOf(request: TtsRequest): Voice | undefined {
  for (const candidate of [request.voice, request.language.slice(0, 2)]) {
    const v = candidate.toLowerCase()
    if (v === 'ru' || v === 'en') return v
  }
  return undefined
}

export class EspeakProvider implements TtsProvider {
  readonly name = 'espeak'
  private readonly engine: EspeakTts
  private readonly owned: boolean
  private readonly metrics: ProviderMetrics

  constructor(private readonly options: EspeakProviderOptions) {
    this.owned = !options.engine
    this.engine = options.engine ?? new EspeakTts({ logger: options.logger, timeoutMs: options.timeouts.responseMs })
    this.metrics = new ProviderMetrics(options.registry, 'tts')
  }

  synthesize(request: TtsRequest): AsyncIterable<TtsChunk> {
    return this.metrics.measure(this.name, this.stream(request))
  }

  async close(): Promise<void> {
    if (this.owned) await this.engine.close()
  }

  private async *stream(request: TtsRequest): AsyncGenerator<TtsChunk> {
    const call = new ProviderCall(this.name, request.signal)
    try {
      const voice = voiceOf(request)
      if (!voice)
        throw call.fail('protocol', `no eSpeak voice for voice ${JSON.stringify(request.voice)}, language ${JSON.stringify(request.language)} (ru, en)`)
      call.watch('timeout', this.options.timeouts.responseMs, 'no audio')
      // a synthesis cannot be stopped inside the worker: on cancel we stop waiting for it
      const abandoned = new Promise<never>((_, reject) => call.signal.addEventListener('abort', () => reject(call.failed), { once: true }))
      let audio
      try {
        audio = await Promise.race([this.engine.synthesize(request.text, voice, this.options.rate), abandoned])
      } catch (err) {
        throw call.error(err, /timed out/.test(String(err)) ? 'timeout' : 'protocol')
      }
      call.clear()
      const pcm = new PcmStream(audio.sampleRate, request.sampleRate)
      const step = Math.round((audio.sampleRate * PIECE_MS) / 1000)
      for (let at = 0; at < audio.pcm.length; at += step) {
        if (call.failed) throw call.failed
        const chunk = pcm.pushSamples(audio.pcm.subarray(at, at + step))
        if (chunk) yield chunk
        await new Promise(setImmediate) // let the media clock run between pieces
      }
      if (call.failed) throw call.failed
      const tail = pcm.end()
      if (tail) yield tail
    } finally {
      call.finish()
    }
  }
}
