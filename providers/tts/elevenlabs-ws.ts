// ElevenLabs streaming TTS over WebSocket (/v1/text-to-speech/{voice}/stream-input). The only
// protocol here that takes text in pieces, so besides synthesize() it offers openStream(): the
// LLM's clauses go in as they come and audio comes back while later text is still being written.
import type { Registry } from 'prom-client'
import WebSocket from 'ws'
import type { ProviderTimeouts, TtsChunk, TtsProvider, TtsRequest } from '../types.ts'
import { AsyncQueue } from '../async-queue.ts'
import { PcmStream } from './pcm-stream.ts'
import { isConnectFailure, ProviderCall } from './provider-call.ts'
import { ProviderMetrics } from './provider-metrics.ts'

export interface ElevenLabsOptions {
  apiKey: string
  /** e.g. eleven_flash_v2_5 (multilingual, Russian included) */
  model: string
  /** provider voice id per request voice ('ru', 'en'); a voice not listed is passed through */
  voices?: Record<string, string>
  voiceSettings?: { stability?: number; similarity_boost?: number; style?: number; use_speaker_boost?: boolean; speed?: number }
  /** default wss://api.elevenlabs.io */
  baseURL?: string
  timeouts: ProviderTimeouts
  registry: Registry
  /** label in metrics and errors; default 'elevenlabs' */
  name?: string
}

/** Text in, in pieces; audio out as it is generated. */
export interface TtsTextStream {
  /** whole words or clauses (as the ClauseSplitter emits them): each piece is sent as ending a word */
  push(text: string): void
  /** no more text: the provider renders what it holds and finishes */
  end(): void
  /** stop now and close the connection (barge-in) */
  cancel(): void
  /** in arrival order; throws ProviderError */
  audio(): AsyncIterable<TtsChunk>
}

export type TtsStreamRequest = Omit<TtsRequest, 'text'>

// the rates ElevenLabs renders PCM at; other rates are resampled from the nearest one above
function nativeRate(rate: number): number {
  return rate === 8000 ? 16000 : rate === 48000 ? 44100 : rate
}

interface ServerFrame {
  audio?: string | null
  isFinal?: boolean | null
  error?: string
  message?: string
}

export class ElevenLabsTts implements TtsProvider {
  readonly name: string
  private readonly metrics: ProviderMetrics

  constructor(private readonly options: ElevenLabsOptions) {
    this.name = options.name ?? 'elevenlabs'
    this.metrics = new ProviderMetrics(options.registry, 'tts')
  }

  synthesize(request: TtsRequest): AsyncIterable<TtsChunk> {
    const stream = this.openStream(request)
    stream.push(request.text)
    stream.end()
    return stream.audio()
  }

  /** Connects at once, so the handshake overlaps the wait for the first text. */
  openStream(request: TtsStreamRequest): TtsTextStream {
    const { options } = this
    const call = new ProviderCall(this.name, request.signal, [options.apiKey])
    const rate = nativeRate(request.sampleRate)
    const voice = options.voices?.[request.voice] ?? request.voice
    const query = new URLSearchParams({ model_id: options.model, output_format: `pcm_${rate}` })
    const url = `${options.baseURL ?? 'wss://api.elevenlabs.io'}/v1/text-to-speech/${encodeURIComponent(voice)}/stream-input?${query}`
    const queue = new AsyncQueue<TtsChunk>()
    const pcm = new PcmStream(rate, request.sampleRate)
    const outbox: string[] = [
      JSON.stringify({ text: ' ', xi_api_key: options.apiKey, ...(options.voiceSettings ? { voice_settings: options.voiceSettings } : {}) }),
    ]
    let opened = false
    let ended = false
    let audioBytes = 0

    const ws = new WebSocket(url)
    const send = (frame: object) => {
      const text = JSON.stringify(frame)
      if (opened) ws.send(text)
      else outbox.push(text)
    }
    const finish = () => {
      const tail = pcm.end()
      if (tail) queue.push(tail)
      queue.end()
      call.finish()
      ws.close(1000)
    }
    const stallWatch = () => {
      if (ended) call.watch('timeout', options.timeouts.responseMs, audioBytes ? 'audio stalled' : 'no audio')
    }

    call.signal.addEventListener(
      'abort',
      () => {
        if (queue.done) return
        queue.fail(call.failed ?? call.fail('cancelled', 'stream closed'), call.failed?.kind === 'cancelled')
        ws.terminate()
      },
      { once: true },
    )
    call.watch('connect', options.timeouts.connectMs, 'not connected')

    ws.on('open', () => {
      opened = true
      call.clear()
      for (const text of outbox.splice(0)) ws.send(text)
      stallWatch()
    })
    ws.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0
      call.fail(status === 401 || status === 403 ? 'auth' : 'protocol', `handshake answered HTTP ${status}`)
    })
    ws.on('error', (err) => {
      call.error(err, opened ? 'disconnected' : isConnectFailure(err) ? 'connect' : 'protocol')
    })
    ws.on('message', (data, isBinary) => {
      if (queue.done) return
      let frame: ServerFrame
      try {
        frame = JSON.parse(isBinary ? '' : data.toString()) as ServerFrame
      } catch {
        return void call.fail('protocol', 'a frame that is not JSON')
      }
      if (frame.error || (frame.message && !frame.audio)) {
        const text = `${frame.error ?? 'error'}: ${frame.message ?? ''}`
        return void call.fail(/auth|api.?key|unauthori[sz]ed/i.test(text) ? 'auth' : 'protocol', text)
      }
      if (frame.audio) {
        const bytes = Buffer.from(frame.audio, 'base64')
        audioBytes += bytes.length
        const chunk = pcm.push(bytes)
        if (chunk) queue.push(chunk)
        stallWatch()
      }
      if (frame.isFinal) finish()
    })
    ws.on('close', (code, reason) => {
      if (queue.done) return
      const why = reason.toString()
      if (code === 1008) call.fail(/auth|key|unauthori[sz]ed/i.test(why) ? 'auth' : 'protocol', `closed (${code} ${why})`)
      else if (code === 1000 && ended)
        finish() // some servers close without an isFinal frame
      else call.fail(opened ? 'disconnected' : 'connect', `connection closed (${code}${why ? ` ${why}` : ''})`)
    })

    return {
      push: (text: string) => {
        if (ended || !text) return
        // the service joins pieces as written; a piece should end with a space to end a word
        send({ text: /\s$/.test(text) ? text : `${text} `, try_trigger_generation: true })
      },
      end: () => {
        if (ended) return
        ended = true
        send({ text: '' })
        if (opened) stallWatch()
      },
      cancel: () => void call.fail('cancelled', 'cancelled'),
      audio: () =>
        this.metrics.measure(
          this.name,
          closingWhenAbandoned(queue, () => call.fail('cancelled', 'the consumer stopped reading')),
        ),
    }
  }

  async close(): Promise<void> {}
}

/** A consumer that stops reading before the end closes the connection. */
async function* closingWhenAbandoned<T>(queue: AsyncQueue<T>, abandon: () => void): AsyncGenerator<T> {
  try {
    yield* queue
  } finally {
    if (!queue.done) abandon()
  }
}
