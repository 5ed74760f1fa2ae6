// OpenAI-compatible speech synthesis (POST /v1/audio/speech, response_format "pcm"), also served by
// local TTS servers. The body is 24 kHz 16-bit LE mono PCM, passed on as it arrives.
import type OpenAI from 'openai'
import type { Registry } from 'prom-client'
import type { ProviderTimeouts, TtsChunk, TtsProvider, TtsRequest } from '../types.ts'
import { sdkClient, sdkError } from './openai-sdk-errors.ts'
import { PcmStream } from './pcm-stream.ts'
import { ProviderCall } from './provider-call.ts'
import { ProviderMetrics } from './provider-metrics.ts'

const PCM_RATE = 24000

export interface OpenAiSpeechOptions {
  /** e.g. https://api.openai.com/v1 or a local server's http://host:port/v1 */
  baseURL: string
  apiKey: string
  model: string
  /** provider voice per request voice ('ru', 'en'); a voice not listed is passed through as is */
  voices?: Record<string, string>
  /** passed as `speed` when set */
  speed?: number
  timeouts: ProviderTimeouts
  registry: Registry
  /** label in metrics and errors; default 'openai-speech' */
  name?: string
}

export class OpenAiSpeechTts implements TtsProvider {
  readonly name: string
  private readonly client: OpenAI
  private readonly metrics: ProviderMetrics

  constructor(private readonly options: OpenAiSpeechOptions) {
    this.name = options.name ?? 'openai-speech'
    this.client = sdkClient(options)
    this.metrics = new ProviderMetrics(options.registry, 'tts')
  }

  synthesize(request: TtsRequest): AsyncIterable<TtsChunk> {
    return this.metrics.measure(this.name, this.stream(request))
  }

  async close(): Promise<void> {}

  private async *stream(request: TtsRequest): AsyncGenerator<TtsChunk> {
    const { connectMs, responseMs } = this.options.timeouts
    const call = new ProviderCall(this.name, request.signal, [this.options.apiKey])
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined
    try {
      call.watch('timeout', connectMs + responseMs, 'no response')
      let response: Response
      try {
        response = await this.client.audio.speech.create(
          {
            model: this.options.model,
            voice: this.options.voices?.[request.voice] ?? request.voice,
            input: request.text,
            response_format: 'pcm',
            ...(this.options.speed !== undefined ? { speed: this.options.speed } : {}),
          },
          { signal: call.signal },
        )
      } catch (err) {
        throw sdkError(call, err, false)
      }
      if (!response.body) throw call.fail('protocol', 'response has no body')
      reader = response.body.getReader()
      const pcm = new PcmStream(PCM_RATE, request.sampleRate)
      let bytes = 0
      for (;;) {
        call.watch('timeout', responseMs, bytes ? 'audio stalled' : 'no audio')
        let read: ReadableStreamReadResult<Uint8Array>
        try {
          read = await reader.read()
        } catch (err) {
          throw sdkError(call, err, true)
        }
        if (read.done) break
        bytes += read.value.length
        const chunk = pcm.push(read.value)
        if (chunk) yield chunk
      }
      call.clear()
      if (bytes === 0) throw call.fail('protocol', 'response carried no audio')
      const tail = pcm.end()
      if (tail) yield tail
    } finally {
      call.finish()
      reader?.cancel().catch(() => {})
    }
  }
}
