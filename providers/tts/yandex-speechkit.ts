// Yandex SpeechKit v3 synthesis over gRPC: Synthesizer/UtteranceSynthesis streams raw LINEAR16 PCM
// at the rate we ask for, so no resampling. One channel per provider, reused by every request.
import { fileURLToPath } from 'node:url'
import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'
import type { Registry } from 'prom-client'
import type { ProviderTimeouts, TtsChunk, TtsProvider, TtsRequest } from '../types.ts'
import { PcmStream } from './pcm-stream.ts'
import { ProviderCall } from './provider-call.ts'
import { ProviderMetrics } from './provider-metrics.ts'

const PROTO = fileURLToPath(new URL('./proto/tts_service.proto', import.meta.url))

let loaded: grpc.GrpcObject | undefined
function proto(): grpc.GrpcObject {
  // longs as strings: sample_rate_hertz is int64
  loaded ??= grpc.loadPackageDefinition(protoLoader.loadSync(PROTO, { keepCase: false, longs: String, enums: String, defaults: true, oneofs: true }))
  return loaded
}

type SynthesizerClient = grpc.Client & {
  utteranceSynthesis(request: object, metadata: grpc.Metadata, options: grpc.CallOptions): grpc.ClientReadableStream<{ audioChunk?: { data: Buffer } }>
}

function synthesizerConstructor(): grpc.ServiceClientConstructor {
  const v3 = (proto().speechkit as grpc.GrpcObject).tts as grpc.GrpcObject
  return (v3.v3 as grpc.GrpcObject).Synthesizer as grpc.ServiceClientConstructor
}

/** The service definition, for a local server that speaks the same protocol. */
export function synthesizerService(): grpc.ServiceDefinition {
  return synthesizerConstructor().service
}

export interface YandexSpeechKitOptions {
  /** default tts.api.cloud.yandex.net:443 */
  endpoint?: string
  /** default true; false for a plaintext local server */
  tls?: boolean
  /** one of the two */
  apiKey?: string
  iamToken?: string
  /** sent as x-folder-id (needed with an IAM token) */
  folderId?: string
  /** provider voice per request voice ('ru' -> 'alena'); a voice not listed is passed through */
  voices?: Record<string, string>
  role?: string
  speed?: number
  timeouts: ProviderTimeouts
  registry: Registry
  /** label in metrics and errors; default 'yandex-speechkit' */
  name?: string
}

export class YandexSpeechKitTts implements TtsProvider {
  readonly name: string
  private readonly client: SynthesizerClient
  private readonly metrics: ProviderMetrics
  private readonly secret: string

  constructor(private readonly options: YandexSpeechKitOptions) {
    this.name = options.name ?? 'yandex-speechkit'
    const secret = options.apiKey ?? options.iamToken
    if (!secret) throw new Error(`${this.name}: apiKey or iamToken is required`)
    this.secret = secret
    const credentials = options.tls === false ? grpc.credentials.createInsecure() : grpc.credentials.createSsl()
    const Synthesizer = synthesizerConstructor()
    this.client = new Synthesizer(options.endpoint ?? 'tts.api.cloud.yandex.net:443', credentials) as unknown as SynthesizerClient
    this.metrics = new ProviderMetrics(options.registry, 'tts')
  }

  synthesize(request: TtsRequest): AsyncIterable<TtsChunk> {
    return this.metrics.measure(this.name, this.stream(request))
  }

  /** Connects the channel ahead of the first request. */
  warmUp(): Promise<void> {
    const call = new ProviderCall(this.name)
    return this.connect(call).finally(() => call.finish())
  }

  async close(): Promise<void> {
    this.client.close()
  }

  private connect(call: ProviderCall): Promise<void> {
    const { connectMs } = this.options.timeouts
    return new Promise((resolve, reject) =>
      this.client.waitForReady(Date.now() + connectMs, (err) => (err ? reject(call.fail('connect', `not connected within ${connectMs} ms`, err)) : resolve())),
    )
  }

  private metadata(): grpc.Metadata {
    const md = new grpc.Metadata()
    md.set('authorization', this.options.apiKey ? `Api-Key ${this.options.apiKey}` : `Bearer ${this.options.iamToken}`)
    if (this.options.folderId) md.set('x-folder-id', this.options.folderId)
    return md
  }

  private async *stream(request: TtsRequest): AsyncGenerator<TtsChunk> {
    const call = new ProviderCall(this.name, request.signal, [this.secret])
    let rpc: grpc.ClientReadableStream<{ audioChunk?: { data: Buffer } }> | undefined
    try {
      await Promise.race([this.connect(call), aborted(call.signal)])
      const hints: object[] = [{ voice: this.options.voices?.[request.voice] ?? request.voice }]
      if (this.options.role) hints.push({ role: this.options.role })
      if (this.options.speed !== undefined) hints.push({ speed: this.options.speed })
      rpc = this.client.utteranceSynthesis(
        { text: request.text, hints, outputAudioSpec: { rawAudio: { audioEncoding: 'LINEAR16_PCM', sampleRateHertz: request.sampleRate } } },
        this.metadata(),
        {},
      )
      const stream = rpc
      call.signal.addEventListener('abort', () => stream.cancel(), { once: true })
      const pcm = new PcmStream(request.sampleRate, request.sampleRate)
      const { responseMs } = this.options.timeouts
      let received = 0
      call.watch('timeout', responseMs, 'no audio')
      try {
        for await (const message of stream) {
          const data = (message as { audioChunk?: { data?: Buffer } }).audioChunk?.data
          if (!data?.length) continue
          received += data.length
          call.watch('timeout', responseMs, 'audio stalled')
          const chunk = pcm.push(data)
          if (chunk) yield chunk
        }
      } catch (err) {
        throw this.grpcError(call, err, received > 0)
      }
      call.clear()
      if (received === 0) throw call.fail('protocol', 'the stream carried no audio')
    } finally {
      call.finish()
    }
  }

  private grpcError(call: ProviderCall, err: unknown, midStream: boolean) {
    if (call.failed) return call.failed
    const status = err as Partial<grpc.StatusObject>
    const detail = `${grpc.status[status.code ?? grpc.status.UNKNOWN]}: ${status.details ?? String(err)}`
    switch (status.code) {
      case grpc.status.UNAUTHENTICATED:
      case grpc.status.PERMISSION_DENIED:
        return call.fail('auth', detail, err)
      case grpc.status.DEADLINE_EXCEEDED:
        return call.fail('timeout', detail, err)
      case grpc.status.UNAVAILABLE:
        return call.fail(midStream ? 'disconnected' : 'connect', detail, err)
      case grpc.status.CANCELLED:
      case grpc.status.INTERNAL:
        // a stream cut by the peer surfaces as one of these
        return call.fail(midStream ? 'disconnected' : 'protocol', detail, err)
      default:
        return call.fail('protocol', detail, err)
    }
  }
}

/** Rejects with the signal's reason (a ProviderError from the call) once it aborts. */
function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason)
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true })
  })
}
