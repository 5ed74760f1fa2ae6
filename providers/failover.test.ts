// Failover against providers that talk over real sockets: small local servers (HTTP streaming PCM,
// SSE chat, WebSocket recognition) that answer, stall or drop, and minimal adapter-like clients.
import t from 'tap'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import client from 'prom-client'
import WebSocket, { WebSocketServer } from 'ws'
import { FailoverAsr, FailoverError, FailoverLlm, FailoverMetrics, FailoverTts } from './failover.ts'
import { ProviderHealth } from './health.ts'
import { collect } from '../test/providers/wire-servers.ts'
import {
  ProviderError,
  type AsrProvider,
  type AsrResult,
  type AsrStream,
  type ChatEvent,
  type ChatRequest,
  type ChatToolCall,
  type LlmProvider,
  type TtsChunk,
  type TtsProvider,
  type TtsRequest,
} from './types.ts'

const TOLERANCE_MS = 150
const CHUNK = 160

function fakeClock() {
  let ms = 0
  return { now: () => ms, advance: (d: number) => (ms += d) }
}

// ------------------------------------------------------------------ servers

type Mode = 'ok' | 'stall' | 'drop' | 'slow' | 'late' | 'error'

interface TestServer {
  url: string
  requests: number
  bodies: string[]
  /** resolves when every connection the server has seen is closed */
  allClosed(): Promise<void>
  close(): Promise<void>
}

/** Serves one behaviour; `respond` writes the body for the modes that answer. */
async function serve(t: Tap, mode: Mode, respond: (res: ServerResponse, body: string, mode: Mode) => void): Promise<TestServer> {
  const sockets = new Set<import('node:net').Socket>()
  const closed: Promise<void>[] = []
  const state = { requests: 0, bodies: [] as string[] }
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    state.requests++
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      state.bodies.push(body)
      if (mode === 'stall') return // accept, never answer
      if (mode === 'error') return void res.writeHead(500).end('overloaded')
      respond(res, body, mode)
    })
  })
  server.on('connection', (s) => {
    sockets.add(s)
    closed.push(new Promise((resolve) => s.on('close', () => resolve())))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const ts: TestServer = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    get requests() {
      return state.requests
    },
    bodies: state.bodies,
    allClosed: async () => void (await Promise.all(closed)),
    close: () => {
      for (const s of sockets) s.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
  t.teardown(ts.close)
  return ts
}
/** the part of a tap test the servers need */
interface Tap {
  teardown(fn: () => unknown): void
}

/** Streams PCM chunks whose samples all carry `marker`, 20 ms apart. */
function pcmServer(t: Tap, mode: Mode, marker: number): Promise<TestServer> {
  return serve(t, mode, (res, _body, mode) => {
    res.writeHead(200, { 'content-type': 'audio/pcm' })
    const chunk = Buffer.from(new Int16Array(CHUNK).fill(marker).buffer)
    let sent = 0
    const tick = (): void => {
      if (mode === 'late') return void setTimeout(() => ((mode = 'ok'), tick()), 300)
      if (res.destroyed) return
      res.write(chunk)
      sent++
      if (mode === 'drop' && sent === 1) return void setTimeout(() => res.socket?.destroy(), 20)
      if (mode === 'ok' && sent === 3) return void res.end()
      setTimeout(tick, mode === 'slow' ? 50 : 20)
    }
    tick()
  })
}

/** OpenAI-style chat completions SSE: the reply's words (or whole tool calls) as deltas, then [DONE]. */
function sseServer(t: Tap, mode: Mode, reply: Array<string | ChatToolCall>): Promise<TestServer> {
  return serve(t, mode, (res, _body, mode) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    let i = 0
    const tick = () => {
      if (res.destroyed) return
      if (mode === 'drop' && i === 2) return void res.socket?.destroy()
      if (i === reply.length) return void res.end('data: [DONE]\n\n')
      const piece = reply[i++]
      const delta =
        typeof piece === 'string'
          ? { content: piece }
          : { tool_calls: [{ index: 0, id: piece.id, function: { name: piece.name, arguments: piece.arguments } }] }
      res.write(`data: ${JSON.stringify({ choices: [{ delta }] })}\n\n`)
      setTimeout(tick, 10)
    }
    tick()
  })
}

// ------------------------------------------------------------------ adapter-like clients

function providerError(name: string, err: unknown, connected: boolean): ProviderError {
  const e = err as NodeJS.ErrnoException
  if (e.name === 'AbortError') return new ProviderError(name, 'cancelled', 'aborted', { cause: err })
  return new ProviderError(name, connected ? 'disconnected' : 'connect', e.message, { cause: err })
}

/** "http-pcm": POST the text, stream the raw 16-bit PCM body back. */
class HttpPcmTts implements TtsProvider {
  constructor(
    readonly name: string,
    private readonly url: string,
  ) {}

  async *synthesize(request: TtsRequest): AsyncIterable<TtsChunk> {
    let res: IncomingMessage
    try {
      res = await new Promise((resolve, reject) => {
        const req = http.request(this.url, { method: 'POST', agent: false, signal: request.signal }, resolve)
        req.on('error', reject)
        req.end(JSON.stringify({ text: request.text }))
      })
    } catch (err) {
      throw providerError(this.name, err, false)
    }
    if (res.statusCode !== 200) {
      res.destroy()
      throw new ProviderError(this.name, 'protocol', `HTTP ${res.statusCode}`)
    }
    try {
      for await (const buf of res as AsyncIterable<Buffer>) {
        const copy = Uint8Array.from(buf)
        yield { pcm: new Int16Array(copy.buffer, 0, copy.length >> 1), sampleRate: request.sampleRate }
      }
    } catch (err) {
      throw providerError(this.name, err, true)
    } finally {
      res.destroy()
    }
  }

  async close() {}
}

/** Chat completions over SSE; a tool call comes whole in one delta. */
class SseLlm implements LlmProvider {
  constructor(
    readonly name: string,
    private readonly url: string,
  ) {}

  async *chat(request: ChatRequest): AsyncIterable<ChatEvent> {
    let res: IncomingMessage
    try {
      res = await new Promise((resolve, reject) => {
        const req = http.request(this.url, { method: 'POST', agent: false, signal: request.signal }, resolve)
        req.on('error', reject)
        req.end(JSON.stringify({ messages: request.messages, stream: true }))
      })
    } catch (err) {
      throw providerError(this.name, err, false)
    }
    let pending = ''
    try {
      for await (const buf of res as AsyncIterable<Buffer>) {
        pending += buf.toString()
        let end: number
        while ((end = pending.indexOf('\n\n')) >= 0) {
          const data = pending.slice(0, end).replace(/^data: /, '')
          pending = pending.slice(end + 2)
          if (data === '[DONE]') return yield { type: 'done', finishReason: 'stop' }
          const delta = JSON.parse(data).choices[0].delta
          if (delta.tool_calls) {
            const { id, function: f } = delta.tool_calls[0]
            yield { type: 'tool_call', call: { id, name: f.name, arguments: f.arguments } }
          } else yield { type: 'text', delta: delta.content }
        }
      }
    } catch (err) {
      throw providerError(this.name, err, true)
    } finally {
      res.destroy()
    }
    throw new ProviderError(this.name, 'disconnected', 'stream ended without [DONE]')
  }

  async close() {}
}

/**
 * A recogniser over WebSocket: binary 8 kHz PCM frames, then {"eof":1}. Its final says how many
 * samples the segment had, with timings; with `finalEvery` it closes a segment every that many
 * samples, else once at the end.
 */
async function asrServer(t: Tap, mode: 'ok' | 'stall' | 'drop', finalEvery = Infinity) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await new Promise((resolve) => wss.once('listening', resolve))
  const state = { connections: 0, samples: [] as number[], messages: [] as number[], closed: [] as Promise<void>[] }
  wss.on('connection', (ws) => {
    const i = state.connections++
    state.samples[i] = 0
    state.messages[i] = 0
    let segmentStart = 0
    const final = (end: number) => {
      ws.send(JSON.stringify({ text: `heard ${end - segmentStart}`, final: true, startMs: segmentStart / 8, endMs: end / 8 }))
      segmentStart = end
    }
    state.closed.push(new Promise((resolve) => ws.on('close', () => resolve())))
    ws.on('message', (data, binary) => {
      if (binary) {
        state.samples[i] += (data as Buffer).length / 2
        state.messages[i]++
        if (mode === 'drop' && state.samples[i] >= 4 * CHUNK) ws.terminate()
        else while (state.samples[i] - segmentStart >= finalEvery) final(segmentStart + finalEvery) // by position, as speech would be
        return
      }
      if (mode !== 'ok') return // stall: never answer
      if (state.samples[i] > segmentStart) final(state.samples[i])
      ws.close()
    })
  })
  t.teardown(() => new Promise((resolve) => wss.close(resolve)))
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, state }
}

class WsAsr implements AsrProvider {
  constructor(
    readonly name: string,
    private readonly url: string,
  ) {}

  stream(): AsrStream {
    const name = this.name
    const ws = new WebSocket(this.url)
    const queued: Array<Buffer | string> = []
    const results: AsrResult[] = []
    let outcome: { error?: ProviderError } | undefined
    let wake = () => {}
    let opened = false
    let gotFinal = false
    let ended = false
    const send = (m: Buffer | string) => (opened ? ws.send(m) : queued.push(m))
    ws.on('open', () => {
      opened = true
      for (const m of queued.splice(0)) ws.send(m)
    })
    ws.on('message', (data) => {
      const r = JSON.parse(String(data)) as AsrResult
      gotFinal ||= r.final
      results.push(r)
      wake()
    })
    ws.on('error', () => {})
    ws.on('close', () => {
      outcome ??= ended && gotFinal ? {} : { error: new ProviderError(name, opened ? 'disconnected' : 'connect', 'closed before a final') }
      wake()
    })
    return {
      write: (pcm) => send(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength)),
      end: () => {
        ended = true
        send('{"eof":1}')
      },
      cancel: () => {
        outcome ??= {}
        ws.terminate()
      },
      async *results() {
        for (;;) {
          if (results.length) yield results.shift()!
          else if (outcome?.error) throw outcome.error
          else if (outcome) return
          else await new Promise<void>((resolve) => (wake = resolve))
        }
      },
    }
  }

  async close() {}
}

// ------------------------------------------------------------------ helpers

const ttsRequest = (signal?: AbortSignal): TtsRequest => ({ text: 'Добрый день', voice: 'ru', language: 'ru-RU', sampleRate: 8000, signal })

async function counter(registry: client.Registry, name: string) {
  const m = registry.getSingleMetric(name) as client.Counter | client.Gauge
  return (await m.get()).values.map((v): Record<string, string | number> => ({ ...v.labels, value: v.value }))
}

// ------------------------------------------------------------------ TTS

// The first failover of a process pays tens of milliseconds of lazy loading and compilation (HTTP
// client, generators); pay it here so that the timings below measure the failover, not start-up.
t.before(async () => {
  const stall = await pcmServer(t, 'stall', 0)
  const ok = await pcmServer(t, 'ok', 0)
  const warm = new FailoverTts([
    { provider: new HttpPcmTts('stall', stall.url), budgetMs: 20 },
    { provider: new HttpPcmTts('ok', ok.url), budgetMs: 1000 },
  ])
  await collect(warm.synthesize(ttsRequest()))
})

/** all samples of the chunks in order (TCP may merge or split the server's writes) */
const samples = (chunks: TtsChunk[]) => Array.from(chunks.flatMap((c) => Array.from(c.pcm)))
const run = (marker: number, n: number) => new Array<number>(n).fill(marker)

t.test('TTS: a stalled provider is abandoned at its budget, the next one speaks; then it sits out its backoff', async (t) => {
  const stall = await pcmServer(t, 'stall', 1)
  const ok = await pcmServer(t, 'ok', 2)
  const clock = fakeClock()
  const health = new ProviderHealth({ baseBackoffMs: 2000, maxBackoffMs: 60_000, now: clock.now })
  const registry = new client.Registry()
  const budgetMs = 300
  const tts = new FailoverTts(
    [
      { provider: new HttpPcmTts('stall', stall.url), budgetMs },
      { provider: new HttpPcmTts('ok', ok.url), budgetMs },
    ],
    { health, metrics: new FailoverMetrics(registry) },
  )

  const start = performance.now()
  let firstAudioMs = -1
  const chunks = await collect(tts.synthesize(ttsRequest()), () => {
    if (firstAudioMs < 0) firstAudioMs = performance.now() - start
  })
  t.ok(firstAudioMs >= budgetMs - 5, `waited out the stall's budget before switching (${firstAudioMs.toFixed(0)} ms)`)
  t.ok(firstAudioMs < budgetMs + TOLERANCE_MS, `the second provider's first audio came within the budget + ${TOLERANCE_MS} ms (${firstAudioMs.toFixed(0)} ms)`)
  t.same(samples(chunks), run(2, 3 * CHUNK), 'all the audio is from the second provider')
  await stall.allClosed()
  t.pass('the stalled provider connection was closed')
  t.same(await counter(registry, 'voice_provider_failovers_total'), [{ kind: 'tts', from: 'stall', to: 'ok', value: 1 }])
  t.same(await counter(registry, 'voice_provider_healthy'), [
    { kind: 'tts', provider: 'stall', value: 0 },
    { kind: 'tts', provider: 'ok', value: 1 },
  ])

  await collect(tts.synthesize(ttsRequest()))
  t.equal(stall.requests, 1, 'the unhealthy provider is skipped on the next request')
  t.equal(ok.requests, 2)

  clock.advance(2000)
  t.same((await counter(registry, 'voice_provider_healthy'))[0], { kind: 'tts', provider: 'stall', value: 1 }, 'healthy again once the backoff passed')
  await collect(tts.synthesize(ttsRequest()))
  t.equal(stall.requests, 2, 'after the backoff it is tried again (a probe)')
  t.equal(health.state('stall').failures, 2, 'the probe failed too')
  clock.advance(2000)
  await collect(tts.synthesize(ttsRequest()))
  t.equal(stall.requests, 2, 'the backoff doubled: still skipped 2 s later')
  clock.advance(2000)
  await collect(tts.synthesize(ttsRequest()))
  t.equal(stall.requests, 3, 'tried again after 4 s')
  t.equal(ok.requests, 5)
})

t.test('TTS: a provider that drops mid-stream is replaced and the request is synthesised again', async (t) => {
  const drop = await pcmServer(t, 'drop', 1)
  const ok = await pcmServer(t, 'ok', 2)
  const registry = new client.Registry()
  const health = new ProviderHealth()
  const tts = new FailoverTts(
    [
      { provider: new HttpPcmTts('drop', drop.url), budgetMs: 500 },
      { provider: new HttpPcmTts('ok', ok.url), budgetMs: 500 },
    ],
    { health, metrics: new FailoverMetrics(registry) },
  )
  const chunks = await collect(tts.synthesize(ttsRequest()))
  t.same(samples(chunks), [...run(1, CHUNK), ...run(2, 3 * CHUNK)], 'the first chunk, then the whole sentence from the next provider')
  t.same(JSON.parse(ok.bodies[0]), { text: 'Добрый день' }, 'the same text went to the next provider')
  t.notOk(health.isHealthy('drop'))
  t.match(health.state('drop').lastError, /drop/)
  t.same(await counter(registry, 'voice_provider_failovers_total'), [{ kind: 'tts', from: 'drop', to: 'ok', value: 1 }])
})

t.test('TTS: the caller aborting stops the stalled provider and the one that took over', async (t) => {
  const stall = await pcmServer(t, 'stall', 1)
  const slow = await pcmServer(t, 'slow', 2)
  const health = new ProviderHealth()
  const tts = new FailoverTts(
    [
      { provider: new HttpPcmTts('stall', stall.url), budgetMs: 200 },
      { provider: new HttpPcmTts('slow', slow.url), budgetMs: 200 },
    ],
    { health },
  )
  const ac = new AbortController()
  let received = 0
  const err = await collect(tts.synthesize(ttsRequest(ac.signal)), () => {
    if (++received === 2) ac.abort()
  }).catch((e) => e)
  t.ok(err instanceof ProviderError && err.kind === 'cancelled', 'iteration ends with a cancellation')
  t.equal(received, 2)
  await Promise.all([stall.allClosed(), slow.allClosed()])
  t.pass('both connections were closed')
  t.ok(health.isHealthy('slow'), 'our cancellation does not count against the provider')
  t.notOk(health.isHealthy('stall'))

  // aborting during the first provider's stall: the second is never asked
  const stall2 = await pcmServer(t, 'stall', 1)
  const ok2 = await pcmServer(t, 'ok', 2)
  const tts2 = new FailoverTts([
    { provider: new HttpPcmTts('stall', stall2.url), budgetMs: 1000 },
    { provider: new HttpPcmTts('ok', ok2.url), budgetMs: 1000 },
  ])
  const ac2 = new AbortController()
  setTimeout(() => ac2.abort(), 100)
  const err2 = await collect(tts2.synthesize(ttsRequest(ac2.signal))).catch((e) => e)
  t.equal((err2 as ProviderError).kind, 'cancelled')
  await stall2.allClosed()
  t.equal(ok2.requests, 0, 'no failover after a cancellation')

  // a consumer that stops reading closes the provider too
  const slow3 = await pcmServer(t, 'slow', 3)
  const tts3 = new FailoverTts([{ provider: new HttpPcmTts('slow', slow3.url), budgetMs: 500 }])
  for await (const _chunk of tts3.synthesize(ttsRequest())) break
  await slow3.allClosed()
  t.pass('breaking out of the loop closed the connection')
})

t.test('TTS: when every provider fails the error names each one and why', async (t) => {
  const refused = await pcmServer(t, 'ok', 0)
  await refused.close() // nothing listens on its port any more
  const stall = await pcmServer(t, 'stall', 1)
  const broken = await pcmServer(t, 'error', 2)
  const registry = new client.Registry()
  const tts = new FailoverTts(
    [
      { provider: new HttpPcmTts('refused', refused.url), budgetMs: 200 },
      { provider: new HttpPcmTts('stall', stall.url), budgetMs: 200 },
      { provider: new HttpPcmTts('broken', broken.url), budgetMs: 200 },
    ],
    { metrics: new FailoverMetrics(registry) },
  )
  const err = await collect(tts.synthesize(ttsRequest())).catch((e) => e)
  t.ok(err instanceof FailoverError)
  t.match(err.message, /^tts-failover: all 3 providers failed: /)
  t.match(err.message, /refused \(connect: .*ECONNREFUSED/)
  t.match(err.message, /stall \(timeout: no first audio within 200 ms\)/)
  t.match(err.message, /broken \(protocol: HTTP 500\)/)
  t.same(
    err.failures.map((f: { provider: string }) => f.provider),
    ['refused', 'stall', 'broken'],
  )
  t.same(
    (await counter(registry, 'voice_provider_failovers_total')).map((c) => `${c.from}>${c.to}`),
    ['refused>stall', 'stall>broken', 'broken>none'],
  )
})

t.test('TTS: the last provider left is waited for past its budget: late audio beats none', async (t) => {
  const late = await pcmServer(t, 'late', 4)
  const tts = new FailoverTts([{ provider: new HttpPcmTts('late', late.url), budgetMs: 100 }])
  const chunks = await collect(tts.synthesize(ttsRequest()))
  t.same(samples(chunks), run(4, 3 * CHUNK))
})

t.test('a failover list is refused when it is empty, has duplicate names or no budget', async (t) => {
  const p = new HttpPcmTts('a', 'http://127.0.0.1:1/')
  t.throws(() => new FailoverTts([]), /at least one provider/)
  t.throws(
    () =>
      new FailoverTts([
        { provider: p, budgetMs: 1 },
        { provider: p, budgetMs: 1 },
      ]),
    /two providers named "a"/,
  )
  t.doesNotThrow(
    () =>
      new FailoverTts([
        { provider: p, budgetMs: 1 },
        { provider: p, budgetMs: 1, name: 'a2' },
      ]),
  )
  t.throws(() => new FailoverTts([{ provider: p, budgetMs: 0 }]), /budgetMs must be positive/)
})

// ------------------------------------------------------------------ LLM

const chat = (signal?: AbortSignal): ChatRequest => ({ messages: [{ role: 'user', content: 'Привет' }], signal })

t.test('LLM: a provider that sends headers and then nothing is replaced within its budget', async (t) => {
  const stall = await sseServer(t, 'stall', [])
  const ok = await sseServer(t, 'ok', ['Здравствуйте', '!'])
  const budgetMs = 300
  const llm = new FailoverLlm([
    { provider: new SseLlm('stall', stall.url), budgetMs },
    { provider: new SseLlm('ok', ok.url), budgetMs },
  ])
  const start = performance.now()
  let firstMs = -1
  const events = await collect(llm.chat(chat()), () => {
    if (firstMs < 0) firstMs = performance.now() - start
  })
  t.ok(firstMs >= budgetMs - 5 && firstMs < budgetMs + TOLERANCE_MS, `first token ${firstMs.toFixed(0)} ms after the request, budget ${budgetMs}`)
  t.same(events, [
    { type: 'text', delta: 'Здравствуйте' },
    { type: 'text', delta: '!' },
    { type: 'done', finishReason: 'stop' },
  ])
  await stall.allClosed()
  t.pass('the stalled stream was closed')
})

t.test('LLM: a reply cut mid-stream is continued by the next provider from the text already sent', async (t) => {
  const drop = await sseServer(t, 'drop', ['Меня ', 'зовут ', 'Анна'])
  const ok = await sseServer(t, 'ok', ['Анна', '.'])
  const llm = new FailoverLlm([
    { provider: new SseLlm('drop', drop.url), budgetMs: 500 },
    { provider: new SseLlm('ok', ok.url), budgetMs: 500 },
  ])
  const events = await collect(llm.chat(chat()))
  const text = events.flatMap((e) => (e.type === 'text' ? [e.delta] : [])).join('')
  t.equal(text, 'Меня зовут Анна.', 'the two parts join into one reply')
  t.same(events.at(-1), { type: 'done', finishReason: 'stop' })
  t.same(JSON.parse(ok.bodies[0]).messages, [
    { role: 'user', content: 'Привет' },
    { role: 'assistant', content: 'Меня зовут ' },
  ])
})

t.test('LLM: a reply cut after a tool call ends there, for the caller to run the tool', async (t) => {
  const call = { id: 'call_1', name: 'book_callback', arguments: '{"time":"15:00"}' }
  const drop = await sseServer(t, 'drop', ['Записываю.', call, 'never sent'])
  const ok = await sseServer(t, 'ok', ['unused'])
  const health = new ProviderHealth()
  const llm = new FailoverLlm(
    [
      { provider: new SseLlm('drop', drop.url), budgetMs: 500 },
      { provider: new SseLlm('ok', ok.url), budgetMs: 500 },
    ],
    { health },
  )
  t.same(await collect(llm.chat(chat())), [
    { type: 'text', delta: 'Записываю.' },
    { type: 'tool_call', call },
    { type: 'done', finishReason: 'tool_calls' },
  ])
  t.equal(ok.requests, 0, 'no second provider asked')
  t.notOk(health.isHealthy('drop'))
})

// ------------------------------------------------------------------ ASR

const asrOptions = { language: 'ru-RU', sampleRate: 8000 as const }

t.test('ASR: a recogniser that drops mid-stream is replaced and hears the whole buffered audio', async (t) => {
  const drop = await asrServer(t, 'drop')
  const ok = await asrServer(t, 'ok')
  const health = new ProviderHealth()
  const asr = new FailoverAsr(
    [
      { provider: new WsAsr('drop', drop.url), budgetMs: 500 },
      { provider: new WsAsr('ok', ok.url), budgetMs: 500 },
    ],
    { health },
  )
  const stream = asr.stream(asrOptions)
  const results = collect(stream.results())
  const frame = new Int16Array(CHUNK)
  for (let i = 0; i < 10; i++) {
    frame.fill(i) // the same buffer every time, as a media loop would
    stream.write(frame)
    await sleep(10)
  }
  stream.end()
  t.same(await results, [{ text: 'heard 1600', final: true, startMs: 0, endMs: 200 }], 'one final from the second recogniser, over all the audio')
  t.ok(drop.state.samples[0] >= 4 * CHUNK && drop.state.samples[0] < 10 * CHUNK, 'the first recogniser was cut mid-stream')
  t.same(ok.state.samples, [10 * CHUNK])
  t.ok(ok.state.messages[0] < 10, `the replay went in blocks, not frame by frame (${ok.state.messages[0]} audio messages)`)
  t.notOk(health.isHealthy('drop'))
  t.ok(health.isHealthy('ok'))
})

t.test('ASR: after a replay, finals that were already delivered are not delivered again', async (t) => {
  const drop = await asrServer(t, 'drop', 2 * CHUNK)
  const ok = await asrServer(t, 'ok', 2 * CHUNK)
  const asr = new FailoverAsr([
    { provider: new WsAsr('drop', drop.url), budgetMs: 500 },
    { provider: new WsAsr('ok', ok.url), budgetMs: 500 },
  ])
  const stream = asr.stream(asrOptions)
  const results = collect(stream.results())
  for (let i = 0; i < 10; i++) {
    stream.write(new Int16Array(CHUNK))
    await sleep(10)
  }
  stream.end()
  const got = await results
  t.same(
    got.map((r) => `${r.startMs}-${r.endMs}`),
    ['0-40', '40-80', '80-120', '120-160', '160-200'],
    'each 40 ms segment once',
  )
  t.equal(ok.state.samples[0], 10 * CHUNK, 'the replacement heard everything, the first segment included')
})

t.test('ASR: no result within the budget after end() switches to the next recogniser with a replay', async (t) => {
  const stall = await asrServer(t, 'stall')
  const ok = await asrServer(t, 'ok')
  const budgetMs = 300
  const asr = new FailoverAsr([
    { provider: new WsAsr('stall', stall.url), budgetMs },
    { provider: new WsAsr('ok', ok.url), budgetMs },
  ])
  const stream = asr.stream(asrOptions)
  for (let i = 0; i < 5; i++) stream.write(new Int16Array(CHUNK))
  await sleep(50)
  const ended = performance.now()
  stream.end()
  let finalMs = -1
  const results = await collect(stream.results(), () => (finalMs = performance.now() - ended))
  t.same(
    results.map((r) => r.text),
    ['heard 800'],
  )
  t.ok(finalMs >= budgetMs - 5 && finalMs < budgetMs + TOLERANCE_MS, `final ${finalMs.toFixed(0)} ms after end(), budget ${budgetMs}`)
  await Promise.all(stall.state.closed)
  t.same(stall.state.samples, [800])
  t.pass('the stalled recogniser connection was closed')
})

t.test('ASR: cancel() closes the recogniser and ends the results quietly; all failing names each', async (t) => {
  const stall = await asrServer(t, 'stall')
  const asr = new FailoverAsr([{ provider: new WsAsr('stall', stall.url), budgetMs: 5000 }])
  const stream = asr.stream(asrOptions)
  stream.write(new Int16Array(CHUNK))
  const results = collect(stream.results())
  await sleep(50)
  stream.cancel()
  t.same(await results, [])
  await Promise.all(stall.state.closed)

  const drop1 = await asrServer(t, 'drop')
  const drop2 = await asrServer(t, 'drop')
  const failing = new FailoverAsr([
    { provider: new WsAsr('one', drop1.url), budgetMs: 500 },
    { provider: new WsAsr('two', drop2.url), budgetMs: 500 },
  ])
  const s = failing.stream(asrOptions)
  const err = collect(s.results()).catch((e) => e)
  for (let i = 0; i < 4; i++) s.write(new Int16Array(CHUNK))
  const e = await err
  t.ok(e instanceof FailoverError)
  t.match(e.message, /asr-failover: all 2 providers failed: one \(disconnected: closed before a final\); two \(disconnected: closed before a final\)/)
})
