// Local servers that speak the providers' wire protocols over real sockets, for the adapter tests
// and the latency probe. Each takes the behaviour as a handler; none of this runs in production.
import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import * as grpc from '@grpc/grpc-js'
import { WebSocketServer, type WebSocket } from 'ws'
import { ProviderError } from '../../providers/types.ts'
import { synthesizerService } from '../../providers/tts/yandex-speechkit.ts'

export interface LocalServer {
  /** http://127.0.0.1:port, ws://127.0.0.1:port or 127.0.0.1:port (gRPC) */
  url: string
  close(): Promise<void>
}

export type HttpHandler = (req: IncomingMessage, res: ServerResponse, body: string) => void

export async function startHttpServer(handler: HttpHandler): Promise<LocalServer> {
  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (piece: string) => (body += piece))
    req.on('end', () => handler(req, res, body))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
    },
  }
}

export async function startWsServer(onConnection: (ws: WebSocket, req: IncomingMessage) => void): Promise<LocalServer> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  server.on('connection', onConnection)
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    url: `ws://127.0.0.1:${port}`,
    close: async () => {
      for (const ws of server.clients) ws.terminate()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

export interface SynthesisRequestMessage {
  text: string
  hints: { voice?: string }[]
  outputAudioSpec?: { rawAudio?: { audioEncoding: string; sampleRateHertz: string } }
}

export type SynthesisCall = grpc.ServerWritableStream<SynthesisRequestMessage, { audioChunk: { data: Buffer } }>

/** speechkit.tts.v3.Synthesizer with UtteranceSynthesis served by `handler`. */
export async function startSynthesizerServer(handler: (call: SynthesisCall) => void): Promise<LocalServer & { server: grpc.Server }> {
  const server = new grpc.Server()
  server.addService(synthesizerService(), { utteranceSynthesis: handler })
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  )
  return {
    url: `127.0.0.1:${port}`,
    server,
    close: async () => {
      server.forceShutdown()
    },
  }
}

/** 16-bit LE PCM bytes of a ramp, distinct per sample so a dropped or swapped byte shows. */
export function rampPcm(samples: number, seed = 0): Buffer {
  const buf = Buffer.alloc(samples * 2)
  for (let i = 0; i < samples; i++) buf.writeInt16LE(((i * 37 + seed * 101) % 60000) - 30000, i * 2)
  return buf
}

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' }
export const SSE_DONE = 'data: [DONE]\n\n'

/** One chat.completion.chunk event as the OpenAI wire format streams it. */
export function chatChunk(delta: object, finishReason: string | null = null): string {
  const chunk = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 0, model: 'local', choices: [{ index: 0, delta, finish_reason: finishReason }] }
  return `data: ${JSON.stringify(chunk)}\n\n`
}

/** Every item of a stream (tests). */
export async function collect<T>(source: AsyncIterable<T>, onItem?: (item: T) => void): Promise<T[]> {
  const out: T[] = []
  for await (const item of source) {
    onItem?.(item)
    out.push(item)
  }
  return out
}

/** The ProviderError a stream ends with (tests); anything else fails the test. */
export async function failure(source: AsyncIterable<unknown>): Promise<ProviderError> {
  try {
    await collect(source)
  } catch (err) {
    if (err instanceof ProviderError) return err
    throw err
  }
  throw new Error('expected a ProviderError')
}
