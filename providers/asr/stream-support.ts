// What every streaming ASR adapter shares: the stream's life cycle (audio buffered until the
// transport is ready, connect and response timers, cancel, typed failures), the result queue,
// per-provider metrics, and the WebSocket transport three of the adapters speak.
import client, { type Registry } from 'prom-client'
import pino, { type Logger } from 'pino'
import WebSocket, { type RawData } from 'ws'
import { ProviderError, type AsrResult, type AsrStream, type AsrStreamOptions, type ProviderErrorKind, type ProviderTimeouts } from '../types.ts'
import { AsyncQueue } from '../async-queue.ts'

export const DEFAULT_TIMEOUTS: ProviderTimeouts = { connectMs: 3000, responseMs: 3000 }

/** Options every ASR adapter's constructor takes besides its own. */
export interface AsrProviderOptions {
  /** the provider's endpoint; each adapter has its cloud default */
  url?: string
  apiKey?: string
  model?: string
  /** for streams whose options leave the language empty (default 'ru-RU') */
  language?: string
  timeouts?: Partial<ProviderTimeouts>
  /** metrics go here (the server's registry); a private one when absent */
  registry?: Registry
  logger?: Logger
}

const LATENCY_BUCKETS = [0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5]

function metric<T>(registry: Registry, name: string, create: () => T): T {
  // Several adapters share one registry: the metric is created once and labelled by provider.
  return (registry.getSingleMetric(name) as T | undefined) ?? create()
}

/** One provider's ASR metrics, on a registry the caller owns. */
export class AsrMetrics {
  readonly firstPartial: client.Histogram<'provider'>
  readonly final: client.Histogram<'provider'>
  readonly errors: client.Counter<'provider' | 'kind'>
  readonly reconnects: client.Counter<'provider'>

  constructor(
    registry: Registry,
    readonly provider: string,
  ) {
    const registers = [registry]
    this.firstPartial = metric(
      registry,
      'voice_asr_first_result_seconds',
      () =>
        new client.Histogram({
          name: 'voice_asr_first_result_seconds',
          help: 'From the first audio written to a stream to its first partial or final result',
          labelNames: ['provider'],
          buckets: LATENCY_BUCKETS,
          registers,
        }),
    )
    this.final = metric(
      registry,
      'voice_asr_final_seconds',
      () =>
        new client.Histogram({
          name: 'voice_asr_final_seconds',
          help: "From the end of a stream's audio to its last final result",
          labelNames: ['provider'],
          buckets: LATENCY_BUCKETS,
          registers,
        }),
    )
    this.errors = metric(
      registry,
      'voice_asr_errors_total',
      () =>
        new client.Counter({
          name: 'voice_asr_errors_total',
          help: 'Failed ASR streams by error kind',
          labelNames: ['provider', 'kind'],
          registers,
        }),
    )
    this.reconnects = metric(
      registry,
      'voice_asr_reconnects_total',
      () =>
        new client.Counter({
          name: 'voice_asr_reconnects_total',
          help: 'Connections opened after the previous one dropped mid-stream',
          labelNames: ['provider'],
          registers,
        }),
    )
  }
}

/** What one provider instance hands each of its streams. */
export class AsrContext {
  readonly timeouts: ProviderTimeouts
  readonly metrics: AsrMetrics
  readonly logger: Logger
  private readonly language: string
  /** the last stream's connection dropped: the next successful connect is a reconnect */
  dropped = false
  private readonly secrets: string[]

  constructor(
    readonly provider: string,
    options: AsrProviderOptions,
    secrets: Array<string | undefined> = [options.apiKey],
  ) {
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts }
    this.metrics = new AsrMetrics(options.registry ?? new client.Registry(), provider)
    this.logger = (options.logger ?? pino({ level: 'silent' })).child({ provider })
    this.language = options.language ?? 'ru-RU'
    this.secrets = secrets.filter((s): s is string => typeof s === 'string' && s.length > 0)
  }

  /** A stream's options with the provider's default language filled in. */
  streamOptions(options: AsrStreamOptions): AsrStreamOptions {
    return options.language ? options : { ...options, language: this.language }
  }

  /** Text that may reach a log or an error message, with every credential blanked out. */
  redact(text: string): string {
    let out = text
    for (const secret of this.secrets) out = out.split(secret).join('***')
    return out
  }
}

/** 'ru-RU' -> 'ru', for providers that take ISO 639-1 codes. */
export function baseLanguage(language: string): string {
  return language.split(/[-_]/)[0].toLowerCase()
}

/** The URL, checked at construction so a bad configuration fails at start-up, not mid-call. */
export function checkUrl(provider: string, url: string, schemes: string[]): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new Error(`${provider}: the configured url is not a URL`)
  }
  if (!schemes.includes(parsed.protocol)) throw new Error(`${provider}: url must start with ${schemes.map((s) => `${s}//`).join(' or ')}`)
  return url
}

/** scheme://host:port/path of a URL, never its query or user info (where keys may sit). */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}${u.pathname}`
  } catch {
    return 'an invalid URL'
  }
}

/**
 * The life cycle of one ASR stream, whatever the transport. A subclass starts its connection in
 * its constructor, calls connected() and ready() as it gets there, emit() for results, complete()
 * when the provider has said its last word and fail() otherwise.
 */
export abstract class AsrSession implements AsrStream {
  private readonly queue = new AsyncQueue<AsrResult>()
  private pending: Int16Array[] = []
  private isReady = false
  private isConnected = false
  protected ended = false
  protected done = false
  private firstWriteAt = 0
  private endAt = 0
  private sawResult = false
  private sawFinal = false
  private connectTimer: NodeJS.Timeout | null = null
  private responseTimer: NodeJS.Timeout | null = null
  private readonly onAbort = () => this.cancel()

  constructor(
    protected readonly ctx: AsrContext,
    private readonly signal?: AbortSignal,
  ) {
    if (signal?.aborted) queueMicrotask(this.onAbort)
    else signal?.addEventListener('abort', this.onAbort, { once: true })
  }

  write(pcm: Int16Array): void {
    if (this.done) return
    if (this.ended) {
      this.ctx.logger.warn('audio written after end() dropped')
      return
    }
    if (this.firstWriteAt === 0) this.firstWriteAt = performance.now()
    if (this.isReady) this.sendAudio(pcm)
    else this.pending.push(pcm.slice()) // the caller may reuse its buffer
  }

  end(): void {
    if (this.done || this.ended) return
    this.ended = true
    this.endAt = performance.now()
    if (this.isReady) this.sendEnd()
    this.startResponseClock()
  }

  cancel(): void {
    if (this.done) return
    this.settle()
    this.ctx.logger.debug('stream cancelled')
    this.abortTransport()
    this.queue.end()
  }

  results(): AsyncIterable<AsrResult> {
    return this.queue
  }

  /** transport: send audio now (the transport is ready) */
  protected abstract sendAudio(pcm: Int16Array): void
  /** transport: tell the provider the audio is over */
  protected abstract sendEnd(): void
  /** transport: drop the connection at once (cancel, failure) */
  protected abstract abortTransport(): void
  /** transport: close politely after the last result; defaults to the abrupt way */
  protected closeTransport(): void {
    this.abortTransport()
  }

  protected startConnectTimer(): void {
    const { connectMs } = this.ctx.timeouts
    this.connectTimer = setTimeout(() => this.fail('connect', `no connection within ${connectMs} ms`), connectMs)
  }

  protected connected(): void {
    if (this.connectTimer) clearTimeout(this.connectTimer)
    this.connectTimer = null
    if (this.ctx.dropped) this.ctx.metrics.reconnects.labels(this.ctx.provider).inc()
    this.ctx.dropped = false
    this.isConnected = true
    this.startResponseClock()
  }

  /** The transport takes audio now: what was written meanwhile goes first, in order. */
  protected ready(): void {
    if (this.done || this.isReady) return
    this.isReady = true
    const pending = this.pending
    this.pending = []
    for (const pcm of pending) this.sendAudio(pcm)
    if (this.ended) this.sendEnd()
    this.startResponseClock()
  }

  /**
   * The response timer runs once the end has gone out over a live connection: until then the
   * connect timer is the one that speaks.
   */
  private startResponseClock(): void {
    if (this.ended && this.isReady && this.isConnected && !this.done && this.responseTimer === null) this.armResponseTimer()
  }

  protected emit(result: AsrResult): void {
    if (this.done) return
    // a result is the useful response the timer waits for (keep-alives and bookkeeping are not)
    if (this.ended) this.armResponseTimer()
    const now = performance.now()
    if (!this.sawResult && this.firstWriteAt > 0) {
      this.ctx.metrics.firstPartial.labels(this.ctx.provider).observe((now - this.firstWriteAt) / 1000)
    }
    this.sawResult = true
    if (result.final) this.sawFinal = true
    this.queue.push(result)
  }

  /** The provider has finished: results() ends after what was emitted. */
  protected complete(): void {
    if (this.done) return
    this.settle()
    if (this.sawFinal && this.endAt > 0) {
      this.ctx.metrics.final.labels(this.ctx.provider).observe((performance.now() - this.endAt) / 1000)
    }
    this.closeTransport()
    this.queue.end()
  }

  protected fail(kind: ProviderErrorKind, message: string, cause?: unknown): void {
    if (this.done) return
    this.settle()
    const text = this.ctx.redact(message)
    this.ctx.metrics.errors.labels(this.ctx.provider, kind).inc()
    if (kind === 'disconnected') this.ctx.dropped = true
    this.ctx.logger.warn({ kind }, `ASR stream failed: ${text}`)
    this.abortTransport()
    this.queue.fail(new ProviderError(this.ctx.provider, kind, text, { cause }))
  }

  private armResponseTimer(): void {
    if (this.responseTimer) clearTimeout(this.responseTimer)
    const { responseMs } = this.ctx.timeouts
    this.responseTimer = setTimeout(() => this.fail('timeout', `no response within ${responseMs} ms`), responseMs)
  }

  /** the stream is over, whichever way: nothing may fire for it any more */
  private settle(): void {
    this.done = true
    if (this.connectTimer) clearTimeout(this.connectTimer)
    if (this.responseTimer) clearTimeout(this.responseTimer)
    this.connectTimer = this.responseTimer = null
    this.signal?.removeEventListener('abort', this.onAbort)
  }
}

/**
 * An ASR stream over one WebSocket: the handshake's HTTP status tells auth failures apart, a
 * close frame with an error code is the server's error, a close without one is a drop.
 */
export abstract class WsAsrSession extends AsrSession {
  protected readonly ws: WebSocket

  constructor(ctx: AsrContext, url: string, headers: Record<string, string>, signal?: AbortSignal) {
    super(ctx, signal)
    const where = describeUrl(url)
    this.startConnectTimer()
    this.ws = new WebSocket(url, { headers, perMessageDeflate: false })
    this.ws.on('unexpected-response', (req, res) => {
      const status = res.statusCode ?? 0
      res.resume()
      req.destroy()
      if (status === 401 || status === 403) this.fail('auth', `${where} rejected the credentials (HTTP ${status})`)
      else this.fail('protocol', `${where} refused the WebSocket upgrade (HTTP ${status})`)
    })
    let isOpen = false
    this.ws.on('error', (err) => {
      // Before the open this is the connect failing; after it a 'close' always follows.
      if (!isOpen) this.fail('connect', `connect to ${where} failed: ${err.message}`, err)
    })
    this.ws.on('open', () => {
      isOpen = true
      if (this.done) return
      this.connected()
      this.opened()
      this.ready()
    })
    this.ws.on('message', (data, isBinary) => {
      if (this.done) return
      try {
        this.onMessage(data, isBinary)
      } catch (err) {
        this.fail('protocol', `unreadable message: ${(err as Error).message}`, err)
      }
    })
    this.ws.on('close', (code, reason) => this.onClose(code, reason.toString()))
  }

  /** after the open, before any audio: the provider's configuration message */
  protected abstract opened(): void
  protected abstract onMessage(data: RawData, isBinary: boolean): void

  /** whether the provider closes the socket after its last result (Vosk, Deepgram) */
  protected readonly serverClosesWhenDone: boolean = true

  /** A clean close after end() may be the provider's last word; a close with an error code is its error. */
  private onClose(code: number, reason: string): void {
    if (this.done) return
    const clean = code === 1000 || code === 1005
    if (clean && this.ended && this.serverClosesWhenDone) this.complete()
    else if (clean || code === 1001 || code === 1006) this.fail('disconnected', `connection closed mid-stream (${code})`)
    else this.fail('protocol', `server closed the stream: ${code} ${reason}`)
  }

  protected sendJson(message: unknown): void {
    this.ws.send(JSON.stringify(message))
  }

  protected sendPcm(pcm: Int16Array): void {
    // PCM16LE on the wire; Int16Array is little-endian on every platform Node runs on here.
    this.ws.send(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength))
  }

  protected override abortTransport(): void {
    if (this.ws.readyState === WebSocket.OPEN) {
      // The close frame tells the server at once; the socket goes soon after even if it never answers.
      this.ws.close(1000)
      setTimeout(() => this.ws.terminate(), 1000).unref()
    } else {
      this.ws.terminate()
    }
  }
}

/** A JSON text frame as an object; anything else is a protocol error. */
export function parseJsonFrame(data: RawData, isBinary: boolean): Record<string, unknown> {
  if (isBinary) throw new Error('binary frame where JSON was expected')
  const value: unknown = JSON.parse(data.toString())
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('JSON frame is not an object')
  return value as Record<string, unknown>
}
