// Silero VAD (v6 ONNX model, shipped inside @ricky0123/vad-web) for every call of the process:
// one inference session in a worker thread, one batched run per tick over every stream with a
// full window, each stream keeping its own LSTM state. The media loop only copies windows in
// and probabilities out.
import { once } from 'node:events'
import type { Worker } from 'node:worker_threads'
import { startWorker } from '../threads/worker-thread.ts'
import { levelDb } from './level.ts'
import { SILERO } from './silero-model.ts'
import type { CloseRequest, InferReply, InferRequest, InferResult } from './silero-worker.ts'

export type VadRate = 8000 | 16000

/** The model's window: 32 ms at both rates. */
const WINDOW: Record<VadRate, number> = SILERO.window
/** Samples of the previous window the model sees in front of each window. */
const CONTEXT: Record<VadRate, number> = SILERO.context
const STATE = 2 * SILERO.stateWidth // [2, batch, 128]: this stream's two rows
/** Windows a stream may have waiting before the oldest is dropped (an overloaded process). */
const MAX_PENDING = 64
/** A clear-silence window queued behind windows that wait for the model. */
const GATED = null
/**
 * Clear-silence windows in a row after which a stream's model state starts afresh. The gate
 * skips the model on silence, so without this the state of the last word would meet the next
 * sound after any pause (v6 then scores a beep after speech as speech).
 */
const RESET_AFTER_SILENT = 8 // 256 ms

/** How long close() waits for the run in progress before it terminates the thread. */
const CLOSE_TIMEOUT_MS = 5000

export const WINDOW_MS = 32

/** The VAD runs at a narrowband line's own rate (no upsampled audio, a third of the model's
 *  cost per window at 16 kHz), and at 16 kHz for everything wider. */
export function vadRateFor(lineRate: number): VadRate {
  return lineRate === 8000 ? 8000 : 16000
}

export interface SileroVadOptions {
  /** How often pending windows are collected into one batch; default 16 ms (half a window,
   *  so a window waits at most that long; batches then hold about half the streams). */
  tickMs?: number
  /** Windows quieter than this (dBFS) are clear silence: probability 0 without inference. */
  gateDb?: number
  /** false runs one inference per stream (the bench's comparison); default true */
  batched?: boolean
  onError?: (err: Error) => void
}

export interface VadStats {
  runs: number
  windows: number
  gated: number
  dropped: number
  /** time inside the model (worker thread), ms */
  inferenceMs: number
  maxBatch: number
}

/** A window's speech probability; `index` counts the stream's windows from 0. */
export type VadListener = (probability: number, index: number) => void

export class VadStream {
  readonly window: number
  /** Recurrent state carried between this stream's windows: [2][128]. */
  readonly state = new Float32Array(STATE)
  private readonly context: number
  /** The model's input being filled: the previous window's tail, then this window. */
  private readonly fill: Float32Array
  private filled = 0
  /** Windows waiting for the model, in order; GATED marks clear silence behind them. */
  private readonly pending: Array<Float32Array | typeof GATED> = []
  private readonly spare: Float32Array[] = []
  private nextIndex = 0
  private deliveredIndex = 0
  private silentRun = 0
  closed = false

  constructor(
    readonly rate: VadRate,
    private readonly owner: SileroVad,
    private readonly listener: VadListener,
  ) {
    this.window = WINDOW[rate]
    this.context = CONTEXT[rate]
    this.fill = new Float32Array(this.context + this.window)
  }

  /** 16-bit PCM at the stream's rate, any length. */
  push(pcm: Int16Array): void {
    if (this.closed) return
    let i = 0
    while (i < pcm.length) {
      const n = Math.min(pcm.length - i, this.window - this.filled)
      const at = this.context + this.filled
      for (let k = 0; k < n; k++) this.fill[at + k] = pcm[i + k] / 32768
      this.filled += n
      i += n
      if (this.filled === this.window) {
        this.filled = 0
        this.enqueue()
        // The next window's context is this one's tail, whether or not the model ran on it.
        this.fill.copyWithin(0, this.window, this.window + this.context)
      }
    }
  }

  private enqueue(): void {
    const index = this.nextIndex++
    const silent = levelDb(this.fill.subarray(this.context)) < this.owner.gateDb
    if (silent) this.owner.stats.gated++
    if (this.pending.length >= MAX_PENDING) {
      this.recycle(this.pending.shift()!)
      this.owner.stats.dropped++
      this.deliveredIndex++
      this.releaseGated()
    }
    // After the drop: a silent window that found the queue emptied by it must not wait at its head,
    // where no batch would ever take it (peek() gives the model real windows only).
    if (silent && !this.pending.length) {
      // Clear silence with nothing queued ahead of it: answered at once, without the model.
      this.silence(index)
      return
    }
    if (silent) {
      // Behind a backlog: it keeps its place and is answered in turn, still without the model,
      // so a lagging model catches up on the silence instead of running it.
      this.pending.push(GATED)
      return
    }
    const w = this.spare.pop() ?? new Float32Array(this.fill.length)
    w.set(this.fill)
    this.pending.push(w)
  }

  /** The oldest waiting window, for the next batch (never a gated one: those go at once). */
  peek(): Float32Array | undefined {
    const head = this.pending[0]
    return head === GATED ? undefined : head
  }

  /** The batch answered for the window given by peek(). */
  answered(probability: number): void {
    this.silentRun = 0
    this.recycle(this.pending.shift()!)
    this.deliver(probability, this.deliveredIndex)
    this.releaseGated()
  }

  /** Gated windows now at the head of the queue: silence, answered without the model. */
  private releaseGated(): void {
    while (this.pending[0] === GATED) {
      this.pending.shift()
      this.silence(this.deliveredIndex)
    }
  }

  private silence(index: number): void {
    if (++this.silentRun === RESET_AFTER_SILENT) this.state.fill(0)
    this.deliver(0, index)
  }

  private recycle(w: Float32Array | typeof GATED): void {
    if (w !== GATED) this.spare.push(w)
  }

  private deliver(probability: number, index: number): void {
    this.deliveredIndex = index + 1
    this.listener(probability, index)
  }

  get waiting(): number {
    return this.pending.length
  }

  close(): void {
    this.closed = true
    this.owner.remove(this)
  }
}

/** The process-wide model: one session, streams grouped by rate, one batch per rate per tick. */
export class SileroVad {
  readonly stats: VadStats = { runs: 0, windows: 0, gated: 0, dropped: 0, inferenceMs: 0, maxBatch: 0 }
  readonly gateDb: number
  private readonly streams = new Set<VadStream>()
  private readonly tickMs: number
  private readonly batched: boolean
  private readonly onError: (err: Error) => void
  private timer: NodeJS.Timeout | undefined
  private running = false
  /** close() was called: no more runs, and no new inference thread. */
  private closed = false
  private worker: Worker | undefined
  private nextId = 0
  private readonly inflight = new Map<number, { resolve: (r: InferResult) => void; reject: (e: Error) => void }>()

  private constructor(opts: SileroVadOptions) {
    this.tickMs = opts.tickMs ?? 16
    this.gateDb = opts.gateDb ?? -60
    this.batched = opts.batched ?? true
    this.onError = opts.onError ?? (() => {})
  }

  /** Starts the inference worker and waits until the model is loaded. */
  static async load(opts: SileroVadOptions = {}): Promise<SileroVad> {
    const vad = new SileroVad(opts)
    await vad.startWorker()
    return vad
  }

  private startWorker(): Promise<void> {
    const worker = startWorker(new URL('./silero-worker.ts', import.meta.url), { threadName: 'vad' })
    this.worker = worker
    worker.unref()
    const failAll = (err: Error) => {
      if (this.worker === worker) this.worker = undefined // the next run starts a new one
      for (const p of this.inflight.values()) p.reject(err)
      this.inflight.clear()
    }
    return new Promise((resolve, reject) => {
      worker.on('message', (m: InferReply) => {
        if ('ready' in m) return m.ready ? resolve() : reject(new Error(`Silero VAD model did not load: ${m.error}`))
        const p = this.inflight.get(m.id)
        this.inflight.delete(m.id)
        if (m.ok) p?.resolve(m)
        else p?.reject(new Error(`Silero VAD inference failed: ${m.error}`))
      })
      worker.on('error', (err) => {
        failAll(err)
        reject(err)
      })
      worker.on('exit', (code) => failAll(new Error(`Silero VAD worker exited (${code})`)))
    })
  }

  private async infer(req: Omit<InferRequest, 'id'>): Promise<InferResult> {
    if (this.closed) throw new Error('Silero VAD is closed')
    if (!this.worker) await this.startWorker()
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.inflight.set(id, { resolve, reject })
      this.worker!.postMessage({ ...req, id }, [req.input.buffer as ArrayBuffer, req.state.buffer as ArrayBuffer])
    })
  }

  open(rate: VadRate, listener: VadListener): VadStream {
    const s = new VadStream(rate, this, listener)
    this.streams.add(s)
    this.timer ??= setInterval(() => void this.tick(), this.tickMs)
    return s
  }

  remove(s: VadStream): void {
    this.streams.delete(s)
    if (!this.streams.size && this.timer) {
      clearInterval(this.timer)
      this.timer = undefined
    }
  }

  get streamCount(): number {
    return this.streams.size
  }

  /** Run every waiting window now (tests and the tick). Resolves when they are answered. */
  async tick(): Promise<void> {
    if (this.running || this.closed) return // the previous batch is still in the pool: its windows wait
    this.running = true
    try {
      while (!this.closed) {
        const due = [...this.streams].filter((s) => s.waiting > 0)
        if (!due.length) return
        for (const rate of [8000, 16000] as const) {
          const group = due.filter((s) => s.rate === rate)
          if (!group.length) continue
          if (this.batched) await this.run(rate, group)
          else for (const s of group) if (!this.closed) await this.run(rate, [s])
        }
      }
    } catch (err) {
      this.onError(err as Error)
    } finally {
      this.running = false
    }
  }

  private async run(rate: VadRate, group: VadStream[]): Promise<void> {
    const B = group.length
    const L = CONTEXT[rate] + WINDOW[rate]
    const S = SILERO.stateWidth
    const input = new Float32Array(B * L)
    const state = new Float32Array(B * STATE)
    for (let b = 0; b < B; b++) {
      const s = group[b]
      input.set(s.peek()!, b * L)
      // [layer][batch][128]: this stream's rows sit at layer * B + b.
      for (let l = 0; l < 2; l++) state.set(s.state.subarray(l * S, l * S + S), (l * B + b) * S)
    }
    const out = await this.infer({ rate, batch: B, input, state })
    this.stats.inferenceMs += out.ms
    this.stats.runs++
    this.stats.windows += B
    if (B > this.stats.maxBatch) this.stats.maxBatch = B
    const { prob, state: next } = out
    for (let b = 0; b < B; b++) {
      const s = group[b]
      if (s.closed) continue
      for (let l = 0; l < 2; l++) s.state.set(next.subarray((l * B + b) * S, (l * B + b) * S + S), l * S)
      s.answered(prob[b])
    }
  }

  /** Lets a run in progress finish, then ends the inference thread (terminated after 5 s). */
  async close(): Promise<void> {
    this.closed = true
    for (const s of [...this.streams]) s.close()
    const worker = this.worker
    this.worker = undefined
    if (!worker) return
    const exited = once(worker, 'exit')
    worker.postMessage({ close: true } satisfies CloseRequest)
    const timer = setTimeout(() => void worker.terminate(), CLOSE_TIMEOUT_MS)
    await exited
    clearTimeout(timer)
  }
}
