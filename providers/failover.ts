// An ordered list of providers of one kind behind the same interface as one provider. The first
// healthy provider is tried; one that fails before its first output, or gives none within its
// budget, is abandoned (its request aborted), marked unhealthy and replaced by the next, so the
// caller waits at most one budget for a failing provider. The last provider left gets no deadline
// from us (late output beats none; its adapter's timeouts bound it). Failures after output are
// handled per kind (see each class). Unhealthy providers are still tried, last, when nothing
// healthy is left.
import client, { type Registry } from 'prom-client'
import type { Logger } from 'pino'
import { ProviderHealth } from './health.ts'
import { AsyncQueue } from './async-queue.ts'
import {
  ProviderError,
  type AsrProvider,
  type AsrResult,
  type AsrStream,
  type AsrStreamOptions,
  type ChatEvent,
  type ChatRequest,
  type LlmProvider,
  type ProviderErrorKind,
  type TtsChunk,
  type TtsProvider,
  type TtsRequest,
} from './types.ts'

export type ProviderKind = 'asr' | 'tts' | 'llm'

export interface FailoverMember<P> {
  provider: P
  /** how long the caller may wait for this provider's first output (TTS audio, LLM event, ASR result after end()) */
  budgetMs: number
  /** label for health, metrics and errors; defaults to provider.name, must be unique within the list */
  name?: string
}

export interface FailoverOptions {
  /** shared health of this kind's providers; a fresh one (2 s doubling to 60 s) by default */
  health?: ProviderHealth
  metrics?: FailoverMetrics
  logger?: Logger
}

/** Failover metrics of every kind, on the caller's registry (create one per registry). */
export class FailoverMetrics {
  readonly failovers: client.Counter<'kind' | 'from' | 'to'>
  readonly healthy: client.Gauge<'kind' | 'provider'>
  private readonly tracked: Array<{ kind: ProviderKind; names: string[]; health: ProviderHealth }> = []

  constructor(registry: Registry) {
    const tracked = this.tracked
    this.failovers = new client.Counter({
      name: 'voice_provider_failovers_total',
      help: 'Switches from a failed or late provider to the next one ("none" when all had failed)',
      labelNames: ['kind', 'from', 'to'],
      registers: [registry],
    })
    this.healthy = new client.Gauge({
      name: 'voice_provider_healthy',
      help: '1 when the provider is in use, 0 while it sits out a backoff after a failure',
      labelNames: ['kind', 'provider'],
      registers: [registry],
      // read at scrape time: a backoff ends by the clock, not by an event
      collect() {
        for (const { kind, names, health } of tracked) {
          for (const provider of names) this.set({ kind, provider }, health.isHealthy(provider) ? 1 : 0)
        }
      },
    })
  }

  track(kind: ProviderKind, names: string[], health: ProviderHealth): void {
    this.tracked.push({ kind, names, health })
  }
}

/** Every provider failed; `failures` holds each one's error in the order they were tried. */
export class FailoverError extends ProviderError {
  constructor(
    name: string,
    readonly failures: Array<{ provider: string; error: unknown }>,
  ) {
    const last = failures.at(-1)?.error
    const kind: ProviderErrorKind = last instanceof ProviderError ? last.kind : 'connect'
    const list = failures.map((f) => describe(f.provider, f.error)).join('; ')
    super(name, kind, `all ${failures.length} providers failed: ${list}`)
    this.name = 'FailoverError'
  }
}

function describe(label: string, error: unknown): string {
  if (!(error instanceof Error)) return `${label} (${String(error)})`
  const own = error instanceof ProviderError && error.message.startsWith(`${error.provider}: `)
  const text = own ? error.message.slice((error as ProviderError).provider.length + 2) : error.message
  return error instanceof ProviderError ? `${label} (${error.kind}: ${text})` : `${label} (${text})`
}

/** What the three wrappers share: the list, its order of preference, health and metrics. */
class Failover<P extends { readonly name: string; close(): Promise<void> }> {
  readonly name: string
  protected readonly health: ProviderHealth
  private readonly metrics?: FailoverMetrics
  private readonly logger?: Logger

  constructor(
    protected readonly kind: ProviderKind,
    protected readonly members: FailoverMember<P>[],
    opts: FailoverOptions,
  ) {
    if (!members.length) throw new Error(`${kind} failover needs at least one provider`)
    const names = members.map(label)
    const dup = names.find((n, i) => names.indexOf(n) !== i)
    if (dup) throw new Error(`${kind} failover: two providers named "${dup}"; give one a distinct name`)
    for (const m of members) {
      if (!(m.budgetMs > 0)) throw new Error(`${kind} provider ${label(m)}: budgetMs must be positive, got ${m.budgetMs}`)
    }
    this.name = `${kind}-failover`
    this.health = opts.health ?? new ProviderHealth()
    this.metrics = opts.metrics
    this.logger = opts.logger
    this.metrics?.track(kind, names, this.health)
  }

  /** healthy providers in configured order, then the unhealthy ones as a last resort */
  protected order(): FailoverMember<P>[] {
    const healthy = this.members.filter((m) => this.health.isHealthy(label(m)))
    return [...healthy, ...this.members.filter((m) => !healthy.includes(m))]
  }

  protected failed(member: FailoverMember<P>, error: unknown, next: FailoverMember<P> | undefined): void {
    const from = label(member)
    const to = next ? label(next) : 'none'
    this.health.failure(from, error)
    this.metrics?.failovers.inc({ kind: this.kind, from, to })
    this.logger?.warn({ kind: this.kind, provider: from, next: to, err: (error as Error)?.message }, 'provider failed, switching')
  }

  protected succeeded(member: FailoverMember<P>): void {
    this.health.success(label(member))
  }

  protected readonly cancelled = (): ProviderError => new ProviderError(this.name, 'cancelled', 'cancelled by the caller')

  /**
   * Streams `open`'s output from the first provider that delivers. A provider that fails before its
   * first item (or misses its budget) is abandoned and the next one opened; one that fails after it
   * is replaced too, unless `finish` says what to end with instead.
   */
  protected async *run<T>(
    signal: AbortSignal | undefined,
    open: (provider: P, signal: AbortSignal) => AsyncIterable<T>,
    finish?: () => T[] | undefined,
  ): AsyncGenerator<T> {
    if (signal?.aborted) throw this.cancelled()
    const order = this.order()
    const failures: Array<{ provider: string; error: unknown }> = []
    let produced = false
    for (let i = 0; i < order.length; i++) {
      const member = order[i]
      const attempt = new AbortController()
      const forward = () => attempt.abort()
      signal?.addEventListener('abort', forward, { once: true })
      let it: AsyncIterator<T> | undefined
      try {
        it = open(member.provider, attempt.signal)[Symbol.asyncIterator]()
        // late output from the last provider beats none: it is bounded by its adapter's own timeouts
        let first = i < order.length - 1
        for (;;) {
          const next = it.next()
          const r = await (first ? this.within(next, member, signal) : untilAborted(next, signal, this.cancelled))
          if (r.done) break
          first = false
          produced = true
          yield r.value
        }
        this.succeeded(member)
        return
      } catch (error) {
        if (signal?.aborted) throw this.cancelled()
        failures.push({ provider: label(member), error })
        this.failed(member, error, order[i + 1])
        const ending = produced ? finish?.() : undefined
        if (ending) {
          yield* ending
          return
        }
      } finally {
        signal?.removeEventListener('abort', forward)
        attempt.abort()
        // an adapter stuck in an await settles its return() only later; nobody needs to wait for it
        it?.return?.().catch(() => {})
      }
    }
    throw new FailoverError(this.name, failures)
  }

  private within<R>(next: Promise<R>, member: FailoverMember<P>, signal: AbortSignal | undefined): Promise<R> {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ProviderError(label(member), 'timeout', `no first ${firstOutput[this.kind]} within ${member.budgetMs} ms`)),
        member.budgetMs,
      )
    })
    return Promise.race([untilAborted(next, signal, this.cancelled), late]).finally(() => clearTimeout(timer))
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.members.map((m) => m.provider.close()))
  }
}

const firstOutput: Record<ProviderKind, string> = { tts: 'audio', llm: 'event', asr: 'result after end()' }

function label(member: FailoverMember<unknown>): string {
  return member.name ?? (member.provider as { name: string }).name
}

/** `p`, or a cancellation as soon as the caller aborts, even if the adapter never settles `p`. */
function untilAborted<R>(p: Promise<R>, signal: AbortSignal | undefined, cancelled: () => Error): Promise<R> {
  if (!signal) return p
  return new Promise<R>((resolve, reject) => {
    const onAbort = () => reject(cancelled())
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * TTS: a provider that fails mid-sentence is replaced and the whole request is synthesised again
 * on the next one. Limitation: the caller hears that sentence restart from its beginning.
 */
export class FailoverTts extends Failover<TtsProvider> implements TtsProvider {
  constructor(members: FailoverMember<TtsProvider>[], opts: FailoverOptions = {}) {
    super('tts', members, opts)
  }

  synthesize(request: TtsRequest): AsyncIterable<TtsChunk> {
    return this.run(request.signal, (p, signal) => p.synthesize({ ...request, signal }))
  }
}

/**
 * LLM: a provider that fails mid-reply is replaced, and the next one is asked to continue: it gets
 * the conversation plus the text already streamed as a trailing assistant message. Limitation:
 * models differ in how faithfully they continue such a prefix. Once a tool call has been streamed,
 * the reply ends there (done, "tool_calls"): the caller runs the tools and asks again anyway.
 */
export class FailoverLlm extends Failover<LlmProvider> implements LlmProvider {
  constructor(members: FailoverMember<LlmProvider>[], opts: FailoverOptions = {}) {
    super('llm', members, opts)
  }

  chat(request: ChatRequest): AsyncIterable<ChatEvent> {
    let text = ''
    let toolCalls = 0
    const observe = async function* (events: AsyncIterable<ChatEvent>) {
      for await (const e of events) {
        if (e.type === 'text') text += e.delta
        else if (e.type === 'tool_call') toolCalls++
        yield e
        if (e.type === 'done') return // the reply is complete; whatever the connection does next is moot
      }
    }
    const open = (p: LlmProvider, signal: AbortSignal) => {
      const messages = text ? [...request.messages, { role: 'assistant' as const, content: text }] : request.messages
      return observe(p.chat({ ...request, messages, signal }))
    }
    const finish = (): ChatEvent[] | undefined => (toolCalls ? [{ type: 'done', finishReason: 'tool_calls' }] : undefined)
    return this.run(request.signal, open, finish)
  }
}

/**
 * ASR: the wrapper keeps the stream's audio, so a provider that fails at any point (or gives no
 * result within its budget after end()) is replaced by the next one, which is sent all of it again.
 * Results of the replay that end before the last final already delivered are dropped, when the
 * providers report timings; without timings an already delivered final may be heard twice.
 */
export class FailoverAsr extends Failover<AsrProvider> implements AsrProvider {
  constructor(members: FailoverMember<AsrProvider>[], opts: FailoverOptions = {}) {
    super('asr', members, opts)
  }

  stream(options: AsrStreamOptions): AsrStream {
    return new FailoverAsrStream(
      this.order(),
      options,
      {
        failed: (m, err, next) => this.failed(m, err, next),
        succeeded: (m) => this.succeeded(m),
      },
      this.name,
    )
  }
}

interface AsrHooks {
  failed(member: FailoverMember<AsrProvider>, error: unknown, next: FailoverMember<AsrProvider> | undefined): void
  succeeded(member: FailoverMember<AsrProvider>): void
}

class FailoverAsrStream implements AsrStream {
  private readonly audio: Int16Array[] = []
  private readonly out = new AsyncQueue<AsrResult>()
  private readonly failures: Array<{ provider: string; error: unknown }> = []
  private index = -1
  private current?: { member: FailoverMember<AsrProvider>; stream: AsrStream; abort: AbortController }
  private ended = false
  private finished = false
  private budget?: NodeJS.Timeout
  private lastFinalEndMs = -Infinity

  constructor(
    private readonly order: FailoverMember<AsrProvider>[],
    private readonly options: AsrStreamOptions,
    private readonly hooks: AsrHooks,
    private readonly name: string,
  ) {
    options.signal?.addEventListener('abort', () => this.cancel(), { once: true })
    if (options.signal?.aborted) this.cancel()
    else this.openNext()
  }

  write(pcm: Int16Array): void {
    if (this.ended || this.finished) return
    // the caller may reuse its frame buffer; the copy is both the replay buffer and what we send
    const copy = pcm.slice()
    this.audio.push(copy)
    this.current?.stream.write(copy)
  }

  end(): void {
    if (this.ended || this.finished) return
    this.ended = true
    this.current?.stream.end()
    this.armBudget()
  }

  cancel(): void {
    if (this.finished) return
    this.stop()
    this.out.end()
  }

  results(): AsyncIterable<AsrResult> {
    return this.out
  }

  private openNext(): void {
    const member = this.order[++this.index]
    if (!member) {
      this.stop()
      this.out.fail(new FailoverError(this.name, this.failures))
      return
    }
    const abort = new AbortController()
    let stream: AsrStream
    try {
      stream = member.provider.stream({ ...this.options, signal: abort.signal })
    } catch (error) {
      this.abandon(member, error)
      return
    }
    const current = { member, stream, abort }
    this.current = current
    this.replay(stream)
    if (this.ended) {
      stream.end()
      this.armBudget()
    }
    void this.pump(current)
  }

  /** the audio so far, in blocks of up to a second: one write per 20 ms frame could hold the media loop */
  private replay(stream: AsrStream): void {
    let block: Int16Array[] = []
    let samples = 0
    const flush = () => {
      if (!samples) return
      const out = new Int16Array(samples)
      let at = 0
      for (const chunk of block) {
        out.set(chunk, at)
        at += chunk.length
      }
      stream.write(out)
      block = []
      samples = 0
    }
    for (const chunk of this.audio) {
      if (samples + chunk.length > this.options.sampleRate) flush()
      block.push(chunk)
      samples += chunk.length
    }
    flush()
  }

  private async pump(current: NonNullable<FailoverAsrStream['current']>): Promise<void> {
    try {
      for await (const r of current.stream.results()) {
        if (this.current !== current) return
        if (this.ended) this.disarmBudget()
        if (r.endMs !== undefined && r.endMs <= this.lastFinalEndMs) continue // replayed, already delivered
        if (r.final && r.endMs !== undefined) this.lastFinalEndMs = r.endMs
        this.out.push(r)
      }
      if (this.current !== current) return
      this.hooks.succeeded(current.member)
      this.stop()
      this.out.end()
    } catch (error) {
      if (this.current === current && !this.finished) this.abandon(current.member, error)
    }
  }

  private abandon(member: FailoverMember<AsrProvider>, error: unknown): void {
    this.detach()
    this.failures.push({ provider: label(member), error })
    this.hooks.failed(member, error, this.order[this.index + 1])
    this.openNext()
  }

  /** the current provider owes a result within its budget from end() (or from its replay after end()) */
  private armBudget(): void {
    const current = this.current
    if (!current || this.index === this.order.length - 1) return // the last one has nobody to hand over to
    this.disarmBudget()
    const ms = current.member.budgetMs
    this.budget = setTimeout(() => {
      if (this.current === current)
        this.abandon(current.member, new ProviderError(label(current.member), 'timeout', `no result within ${ms} ms of the end of audio`))
    }, ms)
  }

  private disarmBudget(): void {
    clearTimeout(this.budget)
    this.budget = undefined
  }

  private stop(): void {
    this.finished = true
    this.detach()
  }

  /** close the current provider's stream; nothing further is delivered from it */
  private detach(): void {
    this.disarmBudget()
    const current = this.current
    this.current = undefined
    if (current) {
      current.abort.abort()
      current.stream.cancel()
    }
  }
}
