// Deepgram live streaming (/v1/listen over WebSocket): binary linear16 frames in, Results
// messages out (is_final marks a segment's final), CloseStream to flush; the server then sends
// the last Results and Metadata and closes with 1000.
//
// The wire protocol is written here rather than through @deepgram/sdk 5: its socket hides the
// handshake's HTTP status (a 401 looks like any failed connect, and auth must not be retried) and
// reconnects on its own by default, which would resend nothing of the lost audio anyway.
import type { RawData } from 'ws'
import type { AsrProvider, AsrStream, AsrStreamOptions } from '../types.ts'
import { AsrContext, WsAsrSession, baseLanguage, checkUrl, parseJsonFrame, type AsrProviderOptions } from './stream-support.ts'

export interface DeepgramOptions extends AsrProviderOptions {
  apiKey: string
}

interface DeepgramResults {
  type: 'Results'
  is_final?: boolean
  start?: number
  duration?: number
  channel?: { alternatives?: Array<{ transcript?: string; confidence?: number }> }
}

export class DeepgramAsr implements AsrProvider {
  readonly name = 'deepgram'
  private readonly ctx: AsrContext
  private readonly url: string
  private readonly model: string
  private readonly apiKey: string

  constructor(options: DeepgramOptions) {
    if (!options.apiKey) throw new Error('deepgram: apiKey is required')
    this.apiKey = options.apiKey
    this.url = checkUrl(this.name, options.url ?? 'wss://api.deepgram.com/v1/listen', ['ws:', 'wss:'])
    this.model = options.model ?? 'nova-3'
    this.ctx = new AsrContext(this.name, options)
  }

  stream(streamOptions: AsrStreamOptions): AsrStream {
    const options = this.ctx.streamOptions(streamOptions)
    const url = new URL(this.url)
    const query = {
      encoding: 'linear16',
      sample_rate: String(options.sampleRate),
      channels: '1',
      // Deepgram names Russian 'ru' (no 'ru-RU'); 'en' covers en-US
      language: baseLanguage(options.language),
      model: this.model,
      interim_results: 'true',
    }
    for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value)
    // nova-3 boosts by keyterm, the older models by keywords
    const boost = this.model.startsWith('nova-3') ? 'keyterm' : 'keywords'
    for (const hint of options.hints ?? []) url.searchParams.append(boost, hint)
    return new DeepgramStream(this.ctx, url.toString(), { Authorization: `Token ${this.apiKey}` }, options.signal)
  }

  async close(): Promise<void> {}
}

class DeepgramStream extends WsAsrSession {
  protected opened(): void {}

  protected sendAudio(pcm: Int16Array): void {
    this.sendPcm(pcm)
  }

  protected sendEnd(): void {
    this.sendJson({ type: 'CloseStream' })
  }

  protected onMessage(data: RawData, isBinary: boolean): void {
    const msg = parseJsonFrame(data, isBinary)
    if (msg.type === 'Results') {
      const results = msg as unknown as DeepgramResults
      const best = results.channel?.alternatives?.[0]
      if (typeof best?.transcript !== 'string') throw new Error('Results without channel.alternatives[0].transcript')
      if (best.transcript === '') return
      const startMs = Math.round((results.start ?? 0) * 1000)
      this.emit({
        text: best.transcript,
        final: results.is_final === true,
        confidence: best.confidence,
        startMs,
        endMs: startMs + Math.round((results.duration ?? 0) * 1000),
      })
    } else if (msg.type === 'Error') {
      this.fail('protocol', `server error: ${String(msg.description ?? msg.message ?? msg.err_msg ?? 'unknown')}`)
    }
    // Metadata, SpeechStarted, UtteranceEnd: nothing for the turn loop
  }
}
