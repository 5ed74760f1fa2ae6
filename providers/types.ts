// The boundary between the call and the speech/language providers. Every adapter implements one of
// these; the turn loop and the failover wrapper only ever see these types.

/** Why a provider call failed; the failover wrapper decides on this, not on message text. */
export type ProviderErrorKind =
  | 'connect' // could not connect or the connect timeout passed
  | 'timeout' // connected but the first response (or the next one) did not come in time
  | 'protocol' // the server answered something we do not understand, or an error frame
  | 'auth' // rejected credentials (not retried against the same provider)
  | 'disconnected' // the connection dropped mid-stream
  | 'cancelled' // we cancelled it (barge-in); never counted as unhealthy

export class ProviderError extends Error {
  constructor(
    readonly provider: string,
    readonly kind: ProviderErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${provider}: ${message}`, options)
    this.name = 'ProviderError'
  }
}

/** Timeouts every adapter honours, in milliseconds. */
export interface ProviderTimeouts {
  /** to open the connection (TCP + TLS + WebSocket/HTTP/gRPC handshake) */
  connectMs: number
  /** from the request (or the end of input, for ASR) to the first useful response */
  responseMs: number
}

// ---------------------------------------------------------------- ASR

export interface AsrResult {
  text: string
  /** true for a final hypothesis of a segment; partials may be revised */
  final: boolean
  /** 0..1 when the provider reports it */
  confidence?: number
  /** offsets from the start of the audio sent on this stream, in ms, when the provider reports them */
  startMs?: number
  endMs?: number
}

export interface AsrStreamOptions {
  /** 'ru-RU', 'en-US' */
  language: string
  /** rate of the PCM that write() receives; adapters resample only if the provider insists */
  sampleRate: 8000 | 16000
  /** phrases to boost, when the provider supports it */
  hints?: string[]
  signal?: AbortSignal
}

/** One utterance (or one turn's audio) streamed to the recogniser. */
export interface AsrStream {
  /** 16-bit mono PCM at the stream's sampleRate; never blocks, buffers until connected */
  write(pcm: Int16Array): void
  /** no more audio: the provider should finalise */
  end(): void
  /** stop now, close the connection, reject nothing further (barge-in or hang-up) */
  cancel(): void
  /** partial and final results in arrival order; ends after the last final, throws ProviderError */
  results(): AsyncIterable<AsrResult>
}

export interface AsrProvider {
  readonly name: string
  /** open a stream; connection reuse/pre-warming is the adapter's business */
  stream(options: AsrStreamOptions): AsrStream
  close(): Promise<void>
}

// ---------------------------------------------------------------- TTS

export interface TtsRequest {
  text: string
  /** 'ru', 'en' or a provider voice name */
  voice: string
  language: string
  /** the rate the caller wants PCM in; adapters ask the provider for it or resample */
  sampleRate: 8000 | 16000 | 24000 | 48000
  signal?: AbortSignal
}

export interface TtsChunk {
  pcm: Int16Array
  sampleRate: number
}

export interface TtsProvider {
  readonly name: string
  /** PCM as the provider sends it: the first chunk as soon as it arrives; throws ProviderError */
  synthesize(request: TtsRequest): AsyncIterable<TtsChunk>
  close(): Promise<void>
}

// ---------------------------------------------------------------- LLM

export interface ChatToolCall {
  id: string
  name: string
  /** JSON text, as the model produced it */
  arguments: string
}

export type ChatMessage =
  | { role: 'system' | 'user'; content: string }
  | { role: 'assistant'; content: string | null; toolCalls?: ChatToolCall[] }
  | { role: 'tool'; toolCallId: string; content: string }

export interface ChatTool {
  name: string
  description: string
  /** JSON Schema of the arguments */
  parameters: Record<string, unknown>
}

export interface ChatRequest {
  messages: ChatMessage[]
  tools?: ChatTool[]
  signal?: AbortSignal
}

/** Streamed pieces of one reply: text deltas as they come, tool calls once complete, then done. */
export type ChatEvent = { type: 'text'; delta: string } | { type: 'tool_call'; call: ChatToolCall } | { type: 'done'; finishReason: string }

export interface LlmProvider {
  readonly name: string
  chat(request: ChatRequest): AsyncIterable<ChatEvent>
  close(): Promise<void>
}
