// OpenAI-compatible POST /v1/audio/transcriptions (self-hosted Whisper servers: faster-whisper,
// whisper.cpp, vLLM, speaches): the utterance is buffered, sent as one WAV on end(), and the reply
// is the one final result.
//
// Plain node:http rather than the openai SDK: the SDK has a single timeout for the whole request,
// so a server that never accepts the connection looks like one that is slow to transcribe, and
// the failover decides on exactly that difference ('connect' vs 'timeout'). A keep-alive agent
// reuses the connection across turns.
import http from 'node:http'
import https from 'node:https'
import { randomUUID } from 'node:crypto'
import { encodeWav } from '../../codecs/wav.ts'
import type { AsrProvider, AsrStream, AsrStreamOptions } from '../types.ts'
import { AsrContext, AsrSession, baseLanguage, checkUrl, describeUrl, type AsrProviderOptions } from './stream-support.ts'

/** a Whisper reply is small; anything bigger is not one (and would stall JSON.parse) */
const MAX_REPLY_BYTES = 64 * 1024

export class OpenAiTranscriptionsAsr implements AsrProvider {
  readonly name = 'openai-transcriptions'
  private readonly ctx: AsrContext
  private readonly endpoint: URL
  private readonly agent: http.Agent
  private readonly model: string
  private readonly apiKey: string | undefined

  /** url: the API base, e.g. http://whisper:8000/v1 (default https://api.openai.com/v1) */
  constructor(options: AsrProviderOptions = {}) {
    const base = checkUrl(this.name, options.url ?? 'https://api.openai.com/v1', ['http:', 'https:'])
    this.endpoint = new URL(`${base.replace(/\/+$/, '')}/audio/transcriptions`)
    this.agent = this.endpoint.protocol === 'https:' ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true })
    this.model = options.model ?? 'whisper-1'
    this.apiKey = options.apiKey
    this.ctx = new AsrContext(this.name, options)
  }

  stream(streamOptions: AsrStreamOptions): AsrStream {
    const options = this.ctx.streamOptions(streamOptions)
    return new TranscriptionStream(this.ctx, {
      endpoint: this.endpoint,
      agent: this.agent,
      model: this.model,
      apiKey: this.apiKey,
      options,
    })
  }

  async close(): Promise<void> {
    this.agent.destroy()
  }
}

interface RequestPlan {
  endpoint: URL
  agent: http.Agent
  model: string
  apiKey: string | undefined
  options: AsrStreamOptions
}

class TranscriptionStream extends AsrSession {
  private chunks: Int16Array[] = []
  private request: http.ClientRequest | null = null

  constructor(
    ctx: AsrContext,
    private readonly plan: RequestPlan,
  ) {
    super(ctx, plan.options.signal)
    this.ready() // audio goes to memory until end()
  }

  protected sendAudio(pcm: Int16Array): void {
    this.chunks.push(pcm.slice())
  }

  protected sendEnd(): void {
    const { endpoint, agent, model, apiKey, options } = this.plan
    const fields: Record<string, string> = { model, language: baseLanguage(options.language), response_format: 'json' }
    if (options.hints?.length) fields.prompt = options.hints.join(', ')
    const { body, contentType } = multipart(fields, wav(concat(this.chunks), options.sampleRate))
    this.chunks = []
    const headers: Record<string, string | number> = { 'content-type': contentType, 'content-length': body.length }
    if (apiKey) headers.authorization = `Bearer ${apiKey}`
    const where = describeUrl(endpoint.toString())
    const send = endpoint.protocol === 'https:' ? https.request : http.request
    this.startConnectTimer()
    const req = send(endpoint, { method: 'POST', agent, headers })
    this.request = req
    req.on('socket', (socket) => {
      // a kept-alive socket is already connected
      if (!socket.connecting) this.connected()
      else socket.once(endpoint.protocol === 'https:' ? 'secureConnect' : 'connect', () => this.connected())
    })
    req.on('error', (err) => {
      if (this.done) return
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ECONNRESET' || code === 'EPIPE') this.fail('disconnected', `${where}: connection dropped`, err)
      else this.fail('connect', `${where}: ${err.message}`, err)
    })
    req.on('response', (res) => {
      const parts: Buffer[] = []
      let size = 0
      res.on('data', (part: Buffer) => {
        size += part.length
        if (size > MAX_REPLY_BYTES) this.fail('protocol', `${where} answered more than ${MAX_REPLY_BYTES} bytes`)
        else parts.push(part)
      })
      res.on('aborted', () => this.fail('disconnected', `${where}: reply cut off`))
      res.on('error', (err) => this.fail('disconnected', `${where}: reply cut off`, err))
      res.on('end', () => this.reply(res.statusCode ?? 0, Buffer.concat(parts).toString('utf8'), where))
    })
    req.end(body)
  }

  private reply(status: number, text: string, where: string): void {
    if (this.done) return
    if (status === 401 || status === 403) return this.fail('auth', `${where} rejected the credentials (HTTP ${status})`)
    if (status !== 200) return this.fail('protocol', `${where} answered HTTP ${status}: ${text.slice(0, 200)}`)
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      return this.fail('protocol', `${where} answered something that is not JSON: ${text.slice(0, 200)}`)
    }
    const transcript = (parsed as { text?: unknown } | null)?.text
    if (typeof transcript !== 'string') return this.fail('protocol', `${where} answered JSON without a text field`)
    const trimmed = transcript.trim()
    if (trimmed !== '') this.emit({ text: trimmed, final: true })
    this.complete()
  }

  protected override closeTransport(): void {
    this.request = null // the agent keeps the socket for the next turn
  }

  protected abortTransport(): void {
    this.chunks = []
    this.request?.destroy()
    this.request = null
  }
}

function concat(chunks: Int16Array[]): Int16Array {
  const out = new Int16Array(chunks.reduce((n, c) => n + c.length, 0))
  let at = 0
  for (const chunk of chunks) {
    out.set(chunk, at)
    at += chunk.length
  }
  return out
}

/**
 * A mono 16-bit WAV around the PCM bytes as they are (Int16Array is little-endian here). Only the
 * header comes from codecs/wav.ts: its encodeWav converts sample by sample, 7-25 ms for a 15 s
 * utterance, far too long a stall for the media loop.
 */
function wav(pcm: Int16Array, sampleRate: number): Buffer {
  const header = encodeWav(new Int16Array(0), sampleRate, 1)
  header.writeUInt32LE(header.length - 8 + pcm.byteLength, 4) // RIFF chunk size
  header.writeUInt32LE(pcm.byteLength, header.length - 4) // data chunk size
  return Buffer.concat([header, Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength)])
}

/** multipart/form-data with text fields and the audio as file "audio.wav" */
function multipart(fields: Record<string, string>, wav: Buffer): { body: Buffer; contentType: string } {
  const boundary = `----asr-${randomUUID()}`
  const parts: Buffer[] = []
  for (const [name, value] of Object.entries(fields)) {
    // a line break in a value (a hint) would end the part early
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value.replace(/[\r\n]+/g, ' ')}\r\n`))
  }
  parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="audio.wav"\r\nContent-Type: audio/wav\r\n\r\n`))
  parts.push(wav, Buffer.from(`\r\n--${boundary}--\r\n`))
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` }
}
