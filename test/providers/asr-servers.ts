// Local servers that speak each ASR provider's wire protocol over a real socket, for the adapter
// tests and the latency probe. Each records what the adapter sent and plays one scenario.
import http, { type IncomingHttpHeaders } from 'node:http'
import net, { type AddressInfo } from 'node:net'
import grpc from '@grpc/grpc-js'
import { WebSocketServer, type WebSocket } from 'ws'
import { readWav } from '../../codecs/wav.ts'
import type { AsrResult, AsrStream } from '../../providers/types.ts'
import { loadRecognizerService } from '../../providers/asr/yandex-speechkit.ts'

export interface Scenario {
  /** normal: partial after the first audio, final after the end; error: the provider's error
   *  after the first audio; drop: the connection cut after the first audio; silent: no reply to the end */
  behaviour?: 'normal' | 'error' | 'drop' | 'silent'
  /** the server's own deliberate delay between the end of audio and the final */
  finalDelayMs?: number
  /** reject the handshake (WebSocket/HTTP status; gRPC UNAUTHENTICATED) */
  rejectStatus?: number
}

export const PARTIAL_TEXT = 'привет'
export const FINAL_TEXT = 'привет мир'

/** What one client connection sent. */
export interface Session {
  headers: IncomingHttpHeaders
  /** request path with query */
  path: string
  /** text frames / JSON control messages, in order */
  messages: unknown[]
  /** the audio bytes, concatenated in arrival order */
  audio: Buffer
  /** resolves when the client's side is gone (close frame, reset, cancel) */
  closed: Promise<void>
}

export interface LocalServer {
  url: string
  sessions: Session[]
  close(): Promise<void>
}

function newSession(headers: IncomingHttpHeaders, path: string): { session: Session; markClosed: () => void } {
  let markClosed = () => {}
  const closed = new Promise<void>((resolve) => (markClosed = resolve))
  return { session: { headers, path, messages: [], audio: Buffer.alloc(0), closed }, markClosed }
}

function later(ms: number, fn: () => void): void {
  if (ms > 0) setTimeout(fn, ms)
  else fn()
}

type WsProtocol = (ws: WebSocket, session: Session, scenario: Scenario) => void

async function startWsServer(scenario: Scenario, protocol: WsProtocol): Promise<LocalServer> {
  const sessions: Session[] = []
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    verifyClient: scenario.rejectStatus ? (_info, done) => done(false, scenario.rejectStatus) : undefined,
  })
  await new Promise<void>((resolve) => wss.once('listening', resolve))
  wss.on('connection', (ws, req) => {
    const { session, markClosed } = newSession(req.headers, req.url ?? '')
    sessions.push(session)
    ws.on('close', markClosed)
    ws.on('error', () => {})
    protocol(ws, session, scenario)
  })
  const { port } = wss.address() as AddressInfo
  return {
    url: `ws://127.0.0.1:${port}`,
    sessions,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate()
        wss.close(() => resolve())
      }),
  }
}

/** Handles one audio frame: the first one triggers error/drop/partial. */
function onAudio(ws: WebSocket, session: Session, scenario: Scenario, audio: Buffer, fail: () => void, partial: () => void): void {
  const first = session.audio.length === 0
  session.audio = Buffer.concat([session.audio, audio])
  if (!first) return
  if (scenario.behaviour === 'error') fail()
  else if (scenario.behaviour === 'drop') ws.terminate()
  else partial()
}

/** alphacep vosk-server: config text frame, binary PCM, one reply per frame, eof -> final + close */
export function startVoskServer(scenario: Scenario = {}): Promise<LocalServer> {
  return startWsServer(scenario, (ws, session) => {
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        // vosk-server's own failure mode: the handler raises and the socket closes with 1011
        onAudio(
          ws,
          session,
          scenario,
          data as Buffer,
          () => ws.close(1011, 'internal error'),
          () => {},
        )
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ partial: PARTIAL_TEXT }))
        return
      }
      const msg = JSON.parse(data.toString())
      session.messages.push(msg)
      if (msg.eof !== 1 || scenario.behaviour === 'silent') return
      later(scenario.finalDelayMs ?? 0, () => {
        ws.send(
          JSON.stringify({
            text: FINAL_TEXT,
            result: [
              { conf: 1, start: 0.12, end: 0.5, word: 'привет' },
              { conf: 0.8, start: 0.6, end: 1.04, word: 'мир' },
            ],
          }),
        )
        ws.close(1000)
      })
    })
  })
}

/** Deepgram /v1/listen: binary linear16, interim Results, CloseStream -> final Results, Metadata, close */
export function startDeepgramServer(scenario: Scenario = {}): Promise<LocalServer> {
  const results = (isFinal: boolean, transcript: string) =>
    JSON.stringify({
      type: 'Results',
      is_final: isFinal,
      speech_final: isFinal,
      start: 0.1,
      duration: 0.9,
      channel: { alternatives: [{ transcript, confidence: isFinal ? 0.93 : 0.6 }] },
    })
  return startWsServer(scenario, (ws, session) => {
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        onAudio(
          ws,
          session,
          scenario,
          data as Buffer,
          () => ws.close(1008, 'DATA-0000: invalid audio'),
          () => ws.send(results(false, PARTIAL_TEXT)),
        )
        return
      }
      const msg = JSON.parse(data.toString())
      session.messages.push(msg)
      if (msg.type !== 'CloseStream' || scenario.behaviour === 'silent') return
      later(scenario.finalDelayMs ?? 0, () => {
        ws.send(results(true, FINAL_TEXT))
        ws.send(JSON.stringify({ type: 'Metadata', request_id: 'local' }))
        ws.close(1000)
      })
    })
  })
}

/** OpenAI Realtime transcription session: session.update, base64 appends, commit -> deltas, completed */
export function startRealtimeServer(scenario: Scenario = {}): Promise<LocalServer> {
  return startWsServer(scenario, (ws, session) => {
    const send = (event: Record<string, unknown>) => ws.send(JSON.stringify(event))
    send({ type: 'session.created', session: { type: 'transcription' } })
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString())
      if (msg.type === 'input_audio_buffer.append') {
        onAudio(
          ws,
          session,
          scenario,
          Buffer.from(msg.audio, 'base64'),
          () => send({ type: 'error', error: { type: 'invalid_request_error', code: 'invalid_value', message: 'bad audio' } }),
          () => {},
        )
        return
      }
      session.messages.push(msg)
      if (msg.type === 'session.update') send({ type: 'session.updated', session: msg.session })
      if (msg.type !== 'input_audio_buffer.commit' || scenario.behaviour === 'silent') return
      send({ type: 'input_audio_buffer.committed', item_id: 'item_1' })
      later(scenario.finalDelayMs ?? 0, () => {
        send({ type: 'conversation.item.input_audio_transcription.delta', item_id: 'item_1', delta: 'привет' })
        send({ type: 'conversation.item.input_audio_transcription.delta', item_id: 'item_1', delta: ' мир' })
        send({ type: 'conversation.item.input_audio_transcription.completed', item_id: 'item_1', transcript: FINAL_TEXT })
      })
    })
  })
}

/** POST /v1/audio/transcriptions: multipart with a WAV; the fields and the file land in the session */
export async function startTranscriptionsServer(scenario: Scenario = {}): Promise<LocalServer> {
  const sessions: Session[] = []
  const server = http.createServer((req, res) => {
    const { session, markClosed } = newSession(req.headers, req.url ?? '')
    sessions.push(session)
    res.on('close', markClosed)
    const parts: Buffer[] = []
    req.on('data', (part: Buffer) => parts.push(part))
    req.on('end', () => {
      const body = Buffer.concat(parts)
      const fields: Record<string, string> = {}
      for (const m of body.toString('latin1').matchAll(/name="([^"]+)"\r\n\r\n([^\r]*)\r\n/g)) fields[m[1]] = Buffer.from(m[2], 'latin1').toString('utf8')
      session.messages.push(fields)
      const wavAt = body.indexOf('RIFF')
      if (wavAt >= 0) {
        // the file part runs up to the closing boundary; a WAV reader must accept it
        const file = readWav(body.subarray(wavAt, body.lastIndexOf('\r\n--')))
        fields.wavSampleRate = String(file.sampleRate)
        session.audio = pcmBytes(file.samples)
      }
      if (scenario.rejectStatus) return res.writeHead(scenario.rejectStatus).end('{"error":"bad key"}')
      if (scenario.behaviour === 'drop') return req.socket.destroy()
      if (scenario.behaviour === 'error') return res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"model crashed"}}')
      if (scenario.behaviour === 'silent') return
      later(scenario.finalDelayMs ?? 0, () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ text: FINAL_TEXT })))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/v1`,
    sessions,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** speechkit.stt.v3.Recognizer/RecognizeStreaming over plaintext gRPC */
export async function startSpeechKitServer(scenario: Scenario = {}): Promise<LocalServer> {
  const sessions: Session[] = []
  const service = loadRecognizerService().service
  const alt = (text: string) => ({ alternatives: [{ text, start_time_ms: 120, end_time_ms: 1040, confidence: 0 }] })
  let server: grpc.Server
  const handlers = {
    RecognizeStreaming(call: grpc.ServerDuplexStream<Record<string, any>, unknown>) {
      const headers: IncomingHttpHeaders = {}
      for (const [key, value] of Object.entries(call.metadata.getMap())) headers[key] = String(value)
      const { session, markClosed } = newSession(headers, '/speechkit.stt.v3.Recognizer/RecognizeStreaming')
      sessions.push(session)
      call.on('cancelled', markClosed)
      call.on('error', () => {})
      if (scenario.rejectStatus) return call.emit('error', { code: grpc.status.UNAUTHENTICATED, details: 'bad key' })
      call.on('data', (request) => {
        if (request.session_options) return void session.messages.push(request.session_options)
        const first = session.audio.length === 0
        session.audio = Buffer.concat([session.audio, request.chunk.data])
        if (!first) return
        if (scenario.behaviour === 'error') call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: 'unsupported sample rate' })
        else if (scenario.behaviour === 'drop')
          void restart() // grpc-js has no way to cut one call's connection but this
        else call.write({ partial: alt(PARTIAL_TEXT) })
      })
      call.on('end', () => {
        markClosed()
        if (scenario.behaviour === 'silent') return
        later(scenario.finalDelayMs ?? 0, () => {
          call.write({ final: alt(FINAL_TEXT) })
          call.write({ final_refinement: { final_index: 0, normalized_text: alt('привет, мир') } })
          call.end()
        })
      })
    },
  }
  const serve = (port: number) => {
    server = new grpc.Server()
    server.addService(service, handlers)
    return new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    )
  }
  const port = await serve(0)
  const restart = async () => {
    server.forceShutdown()
    await serve(port)
  }
  return { url: `http://127.0.0.1:${port}`, sessions, close: async () => void server.forceShutdown() }
}

/** A port that refuses connections (a server bound, then closed). */
export async function refusedPort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** Accepts TCP connections and never says a word: handshakes hang. */
export async function startBlackhole(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

/** n samples of a recognisable ramp, so reordering or loss shows up in the bytes */
export function testPcm(n: number, from = 0): Int16Array {
  const pcm = new Int16Array(n)
  for (let i = 0; i < n; i++) pcm[i] = (((from + i) * 37) % 30000) - 15000
  return pcm
}

export function pcmBytes(...chunks: Int16Array[]): Buffer {
  return Buffer.concat(chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)))
}

/** Every result of a stream, and the error it ended with (if any). */
export async function collect(stream: AsrStream): Promise<{ results: AsrResult[]; error: unknown }> {
  const results: AsrResult[] = []
  try {
    for await (const result of stream.results()) results.push(result)
    return { results, error: null }
  } catch (error) {
    return { results, error }
  }
}
