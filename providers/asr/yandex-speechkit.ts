// Yandex SpeechKit v3 streaming recognition: gRPC speechkit.stt.v3.Recognizer/RecognizeStreaming.
// The first request carries the session options, then audio chunks; half-closing the call asks
// for the last final, after which the server ends the call with OK. One gRPC channel per
// provider, so every turn's stream reuses the same HTTP/2 connection.
import { fileURLToPath } from 'node:url'
import grpc from '@grpc/grpc-js'
import protoLoader from '@grpc/proto-loader'
import type { AsrProvider, AsrResult, AsrStream, AsrStreamOptions } from '../types.ts'
import { AsrContext, AsrSession, checkUrl, describeUrl, type AsrProviderOptions } from './stream-support.ts'

const STT_V3_PROTO = fileURLToPath(new URL('./proto/stt_v3.proto', import.meta.url))
/** keepCase and plain numbers for int64, as the messages below are written */
const STT_V3_LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: Number, enums: String, defaults: false, oneofs: true }

export interface YandexSpeechKitOptions extends AsrProviderOptions {
  /** https://host:port for TLS (default https://stt.api.cloud.yandex.net:443), http://host:port for plaintext */
  url?: string
  /** an API key ("Api-Key ..."); or iamToken */
  apiKey?: string
  /** an IAM token ("Bearer ..."), when there is no API key */
  iamToken?: string
  /** x-folder-id: needed with IAM tokens of user accounts */
  folderId?: string
  /** text normalisation ("двадцать пять" -> "25"): finals then come from the refinement, a little later */
  normalize?: boolean
}

interface Alternative {
  text?: string
  start_time_ms?: number
  end_time_ms?: number
  confidence?: number
}

interface StreamingResponse {
  partial?: { alternatives?: Alternative[] }
  final?: { alternatives?: Alternative[] }
  final_refinement?: { normalized_text?: { alternatives?: Alternative[] } }
}

type RecognizerClient = grpc.Client & {
  RecognizeStreaming(metadata: grpc.Metadata): grpc.ClientDuplexStream<unknown, StreamingResponse>
}

export function loadRecognizerService(): grpc.ServiceClientConstructor {
  const definition = protoLoader.loadSync(STT_V3_PROTO, STT_V3_LOADER_OPTIONS)
  const pkg = grpc.loadPackageDefinition(definition) as unknown as { speechkit: { stt: { v3: { Recognizer: grpc.ServiceClientConstructor } } } }
  return pkg.speechkit.stt.v3.Recognizer
}

export class YandexSpeechKitAsr implements AsrProvider {
  readonly name = 'yandex-speechkit'
  private readonly ctx: AsrContext
  private readonly client: RecognizerClient
  private readonly where: string
  private readonly authorization: string
  private readonly folderId: string | undefined
  private readonly model: string
  private readonly normalize: boolean

  constructor(options: YandexSpeechKitOptions) {
    if (!options.apiKey && !options.iamToken) throw new Error('yandex-speechkit: apiKey or iamToken is required')
    this.authorization = options.apiKey ? `Api-Key ${options.apiKey}` : `Bearer ${options.iamToken}`
    const url = new URL(checkUrl(this.name, options.url ?? 'https://stt.api.cloud.yandex.net:443', ['http:', 'https:']))
    const tls = url.protocol === 'https:'
    const Recognizer = loadRecognizerService()
    this.client = new Recognizer(
      `${url.hostname}:${url.port || (tls ? 443 : 80)}`,
      tls ? grpc.credentials.createSsl() : grpc.credentials.createInsecure(),
    ) as unknown as RecognizerClient
    this.where = describeUrl(url.toString())
    this.folderId = options.folderId
    this.model = options.model ?? 'general'
    this.normalize = options.normalize ?? false
    this.ctx = new AsrContext(this.name, options, [options.apiKey, options.iamToken])
  }

  stream(streamOptions: AsrStreamOptions): AsrStream {
    const options = this.ctx.streamOptions(streamOptions)
    const metadata = new grpc.Metadata()
    metadata.set('authorization', this.authorization)
    if (this.folderId) metadata.set('x-folder-id', this.folderId)
    const sessionOptions = {
      recognition_model: {
        model: this.model,
        audio_format: { raw_audio: { audio_encoding: 'LINEAR16_PCM', sample_rate_hertz: options.sampleRate, audio_channel_count: 1 } },
        text_normalization: { text_normalization: this.normalize ? 'TEXT_NORMALIZATION_ENABLED' : 'TEXT_NORMALIZATION_DISABLED' },
        language_restriction: { restriction_type: 'WHITELIST', language_code: [options.language] },
      },
    }
    return new SpeechKitStream(this.ctx, this.client, this.where, metadata, sessionOptions, this.normalize, options.signal)
  }

  async close(): Promise<void> {
    this.client.close()
  }
}

class SpeechKitStream extends AsrSession {
  private call: grpc.ClientDuplexStream<unknown, StreamingResponse> | null = null

  constructor(
    ctx: AsrContext,
    client: RecognizerClient,
    private readonly where: string,
    metadata: grpc.Metadata,
    sessionOptions: unknown,
    private readonly normalize: boolean,
    signal?: AbortSignal,
  ) {
    super(ctx, signal)
    this.startConnectTimer()
    this.whenReady(client, () => {
      this.connected()
      const call = client.RecognizeStreaming(metadata)
      this.call = call
      call.on('data', (response: StreamingResponse) => this.onResponse(response))
      call.on('error', (error: grpc.ServiceError) => this.onError(error))
      call.on('status', (status: grpc.StatusObject) => {
        if (status.code !== grpc.status.OK || this.done) return
        if (this.ended) this.complete()
        else this.fail('disconnected', 'the server ended the stream before the audio did')
      })
      call.write({ session_options: sessionOptions })
      this.ready()
    })
  }

  /**
   * Waits for the shared channel to be READY (at once when it already is). Unlike waitForReady,
   * a connect attempt that fails (refused, reset) fails the stream now rather than at the deadline,
   * so the failover moves on; the connect timer covers a handshake that never ends.
   */
  private whenReady(client: grpc.Client, start: () => void): void {
    const channel = client.getChannel()
    const deadline = Date.now() + this.ctx.timeouts.connectMs
    let attempted = false
    const check = () => {
      if (this.done) return
      const state = channel.getConnectivityState(true)
      if (state === grpc.connectivityState.READY) return start()
      if (state === grpc.connectivityState.CONNECTING) attempted = true
      // a failure left over from before our attempt is waited out (the channel retries after its backoff)
      if (state === grpc.connectivityState.TRANSIENT_FAILURE && attempted) return this.fail('connect', `connect to ${this.where} failed`)
      channel.watchConnectivityState(state, deadline, (err) => (err ? undefined : check())) // the connect timer reports the deadline
    }
    check()
  }

  protected sendAudio(pcm: Int16Array): void {
    // copied: grpc-js may serialise after write() returns, and the caller reuses its buffer
    this.call?.write({ chunk: { data: Buffer.from(pcm.slice().buffer) } })
  }

  protected sendEnd(): void {
    this.call?.end()
  }

  protected abortTransport(): void {
    this.call?.cancel()
    this.call = null
  }

  protected override closeTransport(): void {
    this.call = null // already finished with OK
  }

  private onResponse(response: StreamingResponse): void {
    if (this.done) return
    if (response.partial) this.emitBest(response.partial.alternatives, false)
    // with normalisation on, the raw final is only a preview of the refined one
    else if (response.final) this.emitBest(response.final.alternatives, !this.normalize)
    else if (response.final_refinement?.normalized_text && this.normalize) this.emitBest(response.final_refinement.normalized_text.alternatives, true)
    // status_code: keep-alive
  }

  private emitBest(alternatives: Alternative[] | undefined, final: boolean): void {
    const best = alternatives?.[0]
    if (!best?.text) return
    const result: AsrResult = { text: best.text, final }
    // the v3 API documents confidence as "currently not used": 0 means absent
    if (best.confidence) result.confidence = best.confidence
    if (best.start_time_ms !== undefined) result.startMs = best.start_time_ms
    if (best.end_time_ms !== undefined) result.endMs = best.end_time_ms
    this.emit(result)
  }

  private onError(error: grpc.ServiceError): void {
    if (this.done) return
    const text = `${this.where}: ${grpc.status[error.code] ?? error.code} ${error.details ?? ''}`.trim()
    switch (error.code) {
      case grpc.status.UNAUTHENTICATED:
      case grpc.status.PERMISSION_DENIED:
        return this.fail('auth', text, error)
      case grpc.status.UNAVAILABLE:
      case grpc.status.CANCELLED:
        return this.fail('disconnected', text, error)
      case grpc.status.DEADLINE_EXCEEDED:
        return this.fail('timeout', text, error)
      default:
        return this.fail('protocol', text, error)
    }
  }
}
