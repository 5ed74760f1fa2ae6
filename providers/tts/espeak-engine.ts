// eSpeak NG text-to-speech through one long-lived worker thread, so synthesis never blocks the media loop.
import type { Worker } from 'node:worker_threads'
import type { Logger } from 'pino'
import { startWorker } from '../../threads/worker-thread.ts'
import type { SynthReply, SynthRequest, Voice } from './espeak-worker.ts'

export type { Voice }

export interface Synthesized {
  sampleRate: number
  pcm: Int16Array
}

export interface EspeakTtsOptions {
  logger?: Logger
  /** per request, from when it is handed to the worker (start-up included for a new worker); default 20 s */
  timeoutMs?: number
  /** the worker module; tests substitute a misbehaving one */
  workerUrl?: URL
  /** bytes of PCM kept for texts already spoken (the same prompt costs 0.5-2 s once, then
   *  nothing); least recently used goes first; default 32 MiB, 0 turns it off */
  cacheBytes?: number
}

interface Job {
  req: SynthRequest
  resolve: (audio: Synthesized) => void
  reject: (err: Error) => void
}

export class EspeakTts {
  private readonly logger?: Logger
  private readonly timeoutMs: number
  private readonly workerUrl: URL
  private worker?: Worker
  private readonly queue: Job[] = []
  private current?: { job: Job; timer: NodeJS.Timeout }
  private nextId = 1
  private closed = false
  private readonly cacheBytes: number
  /** voice, rate and text -> the synthesis (in flight: no bytes yet); Map order is recency */
  private readonly cache = new Map<string, { audio: Promise<Synthesized>; bytes: number }>()
  private cachedBytes = 0
  /** requests answered from the cache, and syntheses the worker actually ran */
  readonly stats = { hits: 0, syntheses: 0 }

  constructor(opts: EspeakTtsOptions = {}) {
    this.logger = opts.logger
    this.timeoutMs = opts.timeoutMs ?? 20_000
    this.workerUrl = opts.workerUrl ?? new URL('./espeak-worker.ts', import.meta.url)
    this.cacheBytes = opts.cacheBytes ?? 32 * 1024 * 1024
  }

  /** 16-bit mono PCM at eSpeak's native rate (22050 Hz); the caller owns the samples. */
  async synthesize(text: string, voice: Voice, rate?: number): Promise<Synthesized> {
    if (this.closed) throw new Error('EspeakTts is closed')
    if (this.cacheBytes <= 0) return this.run(text, voice, rate)
    const key = `${voice}\u0000${rate ?? ''}\u0000${text}`
    let entry = this.cache.get(key)
    if (entry) {
      this.stats.hits++
      this.cache.delete(key) // to the most recent end
    } else {
      const audio = this.run(text, voice, rate)
      const fresh = (entry = { audio, bytes: 0 })
      audio.then(
        (done) => this.admit(key, fresh, done.pcm.byteLength),
        () => this.cache.get(key) === fresh && this.cache.delete(key), // failures are not remembered
      )
    }
    this.cache.set(key, entry)
    const done = await entry.audio
    return { sampleRate: done.sampleRate, pcm: done.pcm.slice() }
  }

  /** A finished synthesis takes its room; the least recently used finished ones make way. */
  private admit(key: string, entry: { bytes: number }, bytes: number): void {
    if (this.cache.get(key) !== entry) return
    entry.bytes = bytes
    this.cachedBytes += bytes
    for (const [k, e] of this.cache) {
      if (this.cachedBytes <= this.cacheBytes) break
      if (e.bytes === 0) continue // still in flight
      this.cache.delete(k)
      this.cachedBytes -= e.bytes
    }
  }

  private run(text: string, voice: Voice, rate?: number): Promise<Synthesized> {
    this.stats.syntheses++
    return new Promise((resolve, reject) => {
      const req: SynthRequest = { id: this.nextId++, text, voice, ...(rate !== undefined ? { rate } : {}) }
      this.queue.push({ req, resolve, reject })
      this.pump()
    })
  }

  /**
   * Starts the worker now, which compiles eSpeak's WASM: the first synthesis a call waits for (a
   * known caller's greeting, a reply) would otherwise pay the thread's start and the compile, over
   * a second on a loaded machine. The idle worker does not hold the process open.
   */
  warm(): void {
    if (this.closed || this.worker) return
    this.spawn().unref()
  }

  async close(): Promise<void> {
    this.closed = true
    const err = new Error('EspeakTts is closed')
    for (const job of this.queue.splice(0)) job.reject(err)
    this.fail(err)
    const worker = this.worker
    this.worker = undefined
    if (worker) await worker.terminate()
  }

  // One request in the worker at a time, so the timeout measures synthesis, not queueing.
  private pump(): void {
    if (this.current || this.closed) return
    const job = this.queue.shift()
    if (!job) {
      this.worker?.unref()
      return
    }
    const worker = this.worker ?? this.spawn()
    worker.ref()
    const timer = setTimeout(() => this.onTimeout(), this.timeoutMs)
    this.current = { job, timer }
    worker.postMessage(job.req)
  }

  private spawn(): Worker {
    const worker = startWorker(this.workerUrl, { threadName: 'tts-espeak' })
    worker.on('message', (reply: SynthReply) => {
      // a reply for a request that already timed out is dropped
      if (this.current?.job.req.id !== reply.id) return
      if ('error' in reply) this.fail(new Error(`espeak-ng: ${reply.error}`))
      else this.finish((job) => job.resolve({ sampleRate: reply.sampleRate, pcm: reply.pcm }))
    })
    worker.on('error', (err) => this.logger?.error({ err }, 'espeak worker failed'))
    worker.on('exit', (code) => {
      if (this.worker !== worker) return // terminated on purpose
      this.worker = undefined
      this.logger?.warn({ code }, 'espeak worker exited; a new one starts with the next request')
      this.fail(new Error(`espeak worker exited with code ${code}`))
    })
    this.worker = worker
    return worker
  }

  private onTimeout(): void {
    const worker = this.worker
    // a stuck synthesis cannot be interrupted inside the worker; replace the worker
    this.worker = undefined
    void worker?.terminate()
    this.logger?.warn({ timeoutMs: this.timeoutMs }, 'espeak synthesis timed out; worker restarted')
    this.fail(new Error(`espeak synthesis timed out after ${this.timeoutMs} ms`))
  }

  private fail(err: Error): void {
    this.finish((job) => job.reject(err))
  }

  private finish(settle: (job: Job) => void): void {
    const current = this.current
    if (!current) return
    this.current = undefined
    clearTimeout(current.timer)
    settle(current.job)
    this.pump()
  }
}
