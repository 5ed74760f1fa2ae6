// The behaviour every ASR adapter must show against its local protocol server: one suite, run by
// each adapter's test with the adapter's own wire checks added.
import { Writable } from 'node:stream'
import type { Test } from 'tap'
import pino, { type Logger } from 'pino'
import client from 'prom-client'
import { ProviderError, type AsrProvider, type AsrStreamOptions, type ProviderTimeouts } from '../../providers/types.ts'
import { FINAL_TEXT, collect, pcmBytes, refusedPort, startBlackhole, testPcm, type LocalServer, type Scenario, type Session } from './asr-servers.ts'

export const TEST_KEY = 'sk-test-SECRET-0123456789'

export interface AdapterUnderTest {
  start(scenario: Scenario): Promise<LocalServer>
  provider(url: string, options: { apiKey: string; registry: client.Registry; timeouts: ProviderTimeouts; logger?: Logger }): AsrProvider
  /** the adapter's URL for a bare TCP port on 127.0.0.1 */
  urlForPort(port: number): string
  /** the bytes the server should receive for this PCM (default: the PCM itself) */
  wireAudio?(pcm: Int16Array, sampleRate: number): Buffer
  /** the provider sends partials while audio flows (not so for one-shot HTTP) */
  partialsBeforeEnd: boolean
  /** adapter-specific checks of what the server received in the normal case */
  checkSession(t: Test, session: Session, options: AsrStreamOptions): void
}

// generous against a shared 2-core machine; the slow-final case below stays well inside
const TIMEOUTS: ProviderTimeouts = { connectMs: 1000, responseMs: 600 }
const OPTIONS: AsrStreamOptions = { language: 'ru-RU', sampleRate: 8000 }

function kindOf(error: unknown): string {
  return error instanceof ProviderError ? error.kind : `not a ProviderError: ${String(error)}`
}

export function runConformance(t: Test, adapter: AdapterUnderTest): void {
  const open = async (t: Test, scenario: Scenario) => {
    const server = await adapter.start(scenario)
    const registry = new client.Registry()
    const log: string[] = []
    const sink = new Writable({
      write(line, _enc, done) {
        log.push(String(line))
        done()
      },
    })
    const logger = pino({ level: 'debug' }, sink)
    const provider = adapter.provider(server.url, { apiKey: TEST_KEY, registry, timeouts: TIMEOUTS, logger })
    t.teardown(async () => {
      await provider.close()
      await server.close()
    })
    return { server, provider, registry, log }
  }

  t.test('normal completion: audio written before the open arrives intact and in order, partial then final', async (t) => {
    const { server, provider, registry } = await open(t, {})
    const stream = provider.stream(OPTIONS)
    const chunks = Array.from({ length: 10 }, (_, i) => testPcm(160, i * 160))
    // half of it before the connection can possibly be open
    for (const c of chunks.slice(0, 5)) stream.write(c)
    await new Promise((resolve) => setTimeout(resolve, 50))
    for (const c of chunks.slice(5)) stream.write(c)
    if (adapter.partialsBeforeEnd) {
      const it = stream.results()[Symbol.asyncIterator]()
      const first = await it.next()
      t.equal(first.value?.final, false, 'a partial arrives before the end')
    }
    stream.end()
    const { results, error } = await collect(stream)
    t.equal(error, null, 'no error')
    const last = results[results.length - 1]
    t.equal(last?.text, FINAL_TEXT, 'the final text')
    t.equal(last?.final, true, 'the last result is final')
    t.ok(
      results.slice(0, -1).every((r) => !r.final),
      'only the last one is final',
    )
    t.equal(server.sessions.length, 1, 'one connection')
    const all = new Int16Array(chunks.length * 160)
    chunks.forEach((c, i) => all.set(c, i * 160))
    const expected = adapter.wireAudio?.(all, OPTIONS.sampleRate) ?? pcmBytes(all)
    t.ok(server.sessions[0].audio.equals(expected), `audio bytes intact and in order (${server.sessions[0].audio.length} of ${expected.length})`)
    adapter.checkSession(t, server.sessions[0], OPTIONS)
    const text = await registry.metrics()
    t.match(text, /voice_asr_final_seconds_count\{provider="[^"]+"\} 1/, 'time to final observed')
  })

  t.test('an error from the server is a protocol error', async (t) => {
    const { provider, registry } = await open(t, { behaviour: 'error' })
    const stream = provider.stream(OPTIONS)
    stream.write(testPcm(160))
    stream.end()
    const { error } = await collect(stream)
    t.equal(kindOf(error), 'protocol')
    t.match(await registry.metrics(), /voice_asr_errors_total\{provider="[^"]+",kind="protocol"\} 1/, 'counted by kind')
  })

  t.test('no answer after the end: response timeout', async (t) => {
    const { provider } = await open(t, { behaviour: 'silent' })
    const stream = provider.stream(OPTIONS)
    stream.write(testPcm(160))
    stream.end()
    const { error } = await collect(stream)
    t.equal(kindOf(error), 'timeout')
  })

  t.test('a slow final within the response timeout still arrives', async (t) => {
    const { provider } = await open(t, { finalDelayMs: 100 })
    const stream = provider.stream(OPTIONS)
    stream.write(testPcm(160))
    stream.end()
    const { results, error } = await collect(stream)
    t.equal(error, null)
    t.equal(results[results.length - 1]?.text, FINAL_TEXT)
  })

  t.test('the connection dropped mid-stream: disconnected; the next stream counts a reconnect', async (t) => {
    const scenario: Scenario = { behaviour: 'drop' }
    const { provider, registry } = await open(t, scenario)
    const stream = provider.stream(OPTIONS)
    stream.write(testPcm(160))
    stream.end()
    const { error } = await collect(stream)
    t.equal(kindOf(error), 'disconnected')
    t.match(await registry.metrics(), /voice_asr_errors_total\{provider="[^"]+",kind="disconnected"\} 1/)
    scenario.behaviour = 'normal' // the server is back
    const next = provider.stream(OPTIONS)
    next.write(testPcm(160))
    next.end()
    const second = await collect(next)
    t.equal(second.error, null, 'the next stream works')
    t.match(await registry.metrics(), /voice_asr_reconnects_total\{provider="[^"]+"\} 1/)
  })

  t.test('cancel: the server sees the close, results() ends quietly', async (t) => {
    const { server, provider } = await open(t, { finalDelayMs: 5000 })
    const stream = provider.stream(OPTIONS)
    stream.write(testPcm(160))
    stream.end()
    // wait until the server has the request, then barge in
    while (server.sessions.length === 0 || server.sessions[0].audio.length === 0) await new Promise((r) => setTimeout(r, 5))
    const started = performance.now()
    stream.cancel()
    const { results, error } = await collect(stream)
    t.equal(error, null, 'no error after cancel')
    t.ok(
      results.every((r) => !r.final),
      'no final after cancel',
    )
    await server.sessions[0].closed
    t.pass(`server saw the close after ${(performance.now() - started).toFixed(1)} ms`)
  })

  t.test('rejected credentials: auth, and the key is nowhere in the error', async (t) => {
    const { provider, log } = await open(t, { rejectStatus: 401 })
    const stream = provider.stream(OPTIONS)
    stream.write(testPcm(160))
    stream.end()
    const { error } = await collect(stream)
    t.equal(kindOf(error), 'auth')
    t.notMatch(String((error as Error).message) + String((error as Error).stack), TEST_KEY)
    t.ok(
      log.some((line) => line.includes('"kind":"auth"')),
      'the failure is logged',
    )
    t.notOk(
      log.some((line) => line.includes(TEST_KEY)),
      'the key is not in the log',
    )
  })

  t.test('connection refused: connect', async (t) => {
    const registry = new client.Registry()
    const provider = adapter.provider(adapter.urlForPort(await refusedPort()), { apiKey: TEST_KEY, registry, timeouts: TIMEOUTS })
    t.teardown(() => provider.close())
    const stream = provider.stream(OPTIONS)
    stream.write(testPcm(160))
    stream.end()
    const { error } = await collect(stream)
    t.equal(kindOf(error), 'connect')
  })
}

/** A server that accepts TCP and never completes the handshake: the connect timeout fires. */
export function runConnectTimeout(t: Test, adapter: AdapterUnderTest): void {
  t.test('handshake never completes: connect timeout', async (t) => {
    const hole = await startBlackhole()
    const provider = adapter.provider(adapter.urlForPort(hole.port), { apiKey: TEST_KEY, registry: new client.Registry(), timeouts: TIMEOUTS })
    t.teardown(async () => {
      await provider.close()
      await hole.close()
    })
    const stream = provider.stream(OPTIONS)
    stream.write(testPcm(160))
    stream.end()
    const { error } = await collect(stream)
    t.equal(kindOf(error), 'connect')
  })
}
