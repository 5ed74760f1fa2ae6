// OpenAI Realtime API, transcription session over WebSocket (?intent=transcription). Our own
// endpointing cuts the turn, so the server's VAD is off: audio goes in as base64 PCM16 at 24 kHz
// (input_audio_buffer.append), end() commits the buffer, and the committed item's transcript
// arrives as conversation.item.input_audio_transcription.delta events, then .completed.
import type { RawData } from 'ws'
import { REALTIME, Resampler } from '../../codecs/resample.ts'
import type { AsrProvider, AsrStream, AsrStreamOptions } from '../types.ts'
import { AsrContext, WsAsrSession, baseLanguage, checkUrl, parseJsonFrame, type AsrProviderOptions } from './stream-support.ts'

/** the only input rate the Realtime API takes for PCM */
const REALTIME_RATE = 24000

export interface OpenAiRealtimeOptions extends AsrProviderOptions {
  /**
   * wss://host/v1/realtime, or the API base as OPENAI_BASE_URL has it (https://host/v1): http(s)
   * becomes ws(s) and /realtime is added. Default wss://api.openai.com/v1/realtime.
   */
  url?: string
  /** optional for a local server that wants none */
  apiKey?: string
}

export class OpenAiRealtimeAsr implements AsrProvider {
  readonly name = 'openai-realtime'
  private readonly ctx: AsrContext
  private readonly url: string
  private readonly model: string
  private readonly headers: Record<string, string>

  constructor(options: OpenAiRealtimeOptions = {}) {
    this.headers = options.apiKey ? { Authorization: `Bearer ${options.apiKey}` } : {}
    const url = new URL(checkUrl(this.name, options.url ?? 'wss://api.openai.com/v1/realtime', ['ws:', 'wss:', 'http:', 'https:']))
    url.protocol = url.protocol === 'https:' || url.protocol === 'wss:' ? 'wss:' : 'ws:'
    if (!url.pathname.endsWith('/realtime')) url.pathname = `${url.pathname.replace(/\/+$/, '')}/realtime`
    url.searchParams.set('intent', 'transcription')
    this.url = url.toString()
    this.model = options.model ?? 'gpt-4o-transcribe'
    this.ctx = new AsrContext(this.name, options)
  }

  stream(streamOptions: AsrStreamOptions): AsrStream {
    const options = this.ctx.streamOptions(streamOptions)
    return new RealtimeStream(this.ctx, this.url, this.headers, this.model, options)
  }

  async close(): Promise<void> {}
}

class RealtimeStream extends WsAsrSession {
  // the server keeps the session open after the transcript: a close is a drop
  protected override readonly serverClosesWhenDone = false
  private readonly resampler: Resampler
  /** deltas of the committed item so far: each partial carries the whole text */
  private text = ''

  constructor(
    ctx: AsrContext,
    url: string,
    headers: Record<string, string>,
    private readonly model: string,
    private readonly options: AsrStreamOptions,
  ) {
    super(ctx, url, headers, options.signal)
    this.resampler = new Resampler(options.sampleRate, REALTIME_RATE, REALTIME)
  }

  protected opened(): void {
    const transcription: Record<string, string> = { model: this.model, language: baseLanguage(this.options.language) }
    if (this.options.hints?.length) transcription.prompt = this.options.hints.join(', ')
    this.sendJson({
      type: 'session.update',
      session: {
        type: 'transcription',
        audio: { input: { format: { type: 'audio/pcm', rate: REALTIME_RATE }, transcription, turn_detection: null } },
      },
    })
  }

  protected sendAudio(pcm: Int16Array): void {
    this.append(this.resampler.process(pcm))
  }

  protected sendEnd(): void {
    this.append(this.resampler.flush())
    this.sendJson({ type: 'input_audio_buffer.commit' })
  }

  private append(pcm: Int16Array): void {
    if (pcm.length === 0) return
    const audio = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength).toString('base64')
    this.sendJson({ type: 'input_audio_buffer.append', audio })
  }

  protected onMessage(data: RawData, isBinary: boolean): void {
    const msg = parseJsonFrame(data, isBinary)
    switch (msg.type) {
      case 'conversation.item.input_audio_transcription.delta':
        if (typeof msg.delta !== 'string') throw new Error('transcription delta without a delta')
        this.text += msg.delta
        if (this.text !== '') this.emit({ text: this.text, final: false })
        break
      case 'conversation.item.input_audio_transcription.completed':
        if (typeof msg.transcript !== 'string') throw new Error('completed transcription without a transcript')
        if (msg.transcript !== '') this.emit({ text: msg.transcript, final: true })
        // one committed buffer, one item: its transcript is the stream's last word
        if (this.ended) this.complete()
        break
      case 'conversation.item.input_audio_transcription.failed':
        this.fail('protocol', `transcription failed: ${errorText(msg.error)}`)
        break
      case 'error': {
        const code = (msg.error as { code?: unknown } | undefined)?.code
        this.fail(code === 'invalid_api_key' ? 'auth' : 'protocol', `server error: ${errorText(msg.error)}`)
        break
      }
      // session.created/updated, input_audio_buffer.committed, conversation.item.*: bookkeeping
    }
  }
}

function errorText(error: unknown): string {
  const e = (error ?? {}) as { code?: unknown; message?: unknown }
  return [e.code, e.message].filter((part) => typeof part === 'string').join(': ') || 'unknown'
}
