// Vosk server (alphacep/vosk-server) WebSocket protocol: a config text frame, binary PCM16LE
// frames, one JSON reply per frame ({"partial"} or a final {"text","result"}), {"eof":1} to
// finish; the server answers eof with the last final and closes.
import type { RawData } from 'ws'
import type { AsrProvider, AsrResult, AsrStream, AsrStreamOptions } from '../types.ts'
import { AsrContext, WsAsrSession, checkUrl, parseJsonFrame, type AsrProviderOptions } from './stream-support.ts'

export type VoskOptions = Omit<AsrProviderOptions, 'apiKey' | 'model' | 'language'>

interface VoskWord {
  conf: number
  start: number
  end: number
  word: string
}

export class VoskAsr implements AsrProvider {
  readonly name = 'vosk'
  private readonly ctx: AsrContext
  private readonly url: string

  constructor(options: VoskOptions = {}) {
    this.url = checkUrl(this.name, options.url ?? 'ws://127.0.0.1:2700', ['ws:', 'wss:'])
    this.ctx = new AsrContext(this.name, options)
  }

  stream(options: AsrStreamOptions): AsrStream {
    return new VoskStream(this.ctx, this.url, options)
  }

  async close(): Promise<void> {}
}

class VoskStream extends WsAsrSession {
  constructor(
    ctx: AsrContext,
    url: string,
    private readonly options: AsrStreamOptions,
  ) {
    super(ctx, url, {}, options.signal)
  }

  protected opened(): void {
    // Hints are not sent: Vosk's phrase_list does not boost, it restricts the grammar to the list.
    this.sendJson({ config: { sample_rate: this.options.sampleRate, words: 1 } })
  }

  protected sendAudio(pcm: Int16Array): void {
    this.sendPcm(pcm)
  }

  protected sendEnd(): void {
    this.sendJson({ eof: 1 })
  }

  protected onMessage(data: RawData, isBinary: boolean): void {
    const msg = parseJsonFrame(data, isBinary)
    if (typeof msg.error === 'string') this.fail('protocol', `server error: ${msg.error}`)
    else if (typeof msg.partial === 'string') {
      if (msg.partial !== '') this.emit({ text: msg.partial, final: false })
    } else if (typeof msg.text === 'string') {
      if (msg.text !== '') this.emit(finalResult(msg.text, msg.result))
    } else {
      throw new Error(`neither partial nor text in ${JSON.stringify(msg).slice(0, 200)}`)
    }
  }
}

function finalResult(text: string, words: unknown): AsrResult {
  const result: AsrResult = { text, final: true }
  if (Array.isArray(words) && words.length > 0) {
    const list = words as VoskWord[]
    result.confidence = list.reduce((sum, w) => sum + w.conf, 0) / list.length
    result.startMs = Math.round(list[0].start * 1000)
    result.endMs = Math.round(list[list.length - 1].end * 1000)
  }
  return result
}
