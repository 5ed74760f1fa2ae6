import type { Worker } from 'node:worker_threads'
import { startWorker } from '../../threads/worker-thread.ts'
import type { ChunkedDocument, ChunkOptions, DocumentFormat } from './chunker.ts'
import type { IngestReply, IngestRequest } from './ingest-worker.ts'

/** A file that cannot become knowledge: the upload's fault, answered with 400. */
export class DocumentError extends Error {
  override readonly name = 'DocumentError'
}

export interface IngestOptions extends ChunkOptions {
  /** a parse that takes longer is abandoned and the worker restarted */
  timeoutMs?: number
}

// Node 20 does not pass tsx's --import hooks into worker threads (tsx#354): the worker loads its
// TypeScript entry through tsx's scoped loader, as crm/drivers/pglite.ts does.
interface Pending {
  resolve: (doc: ChunkedDocument) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
}

/**
 * Extracts (PDF) or decodes (text, Markdown) files and chunks them in a worker thread: pdf.js and
 * the chunker are synchronous work proportional to the file. The worker starts on the first file
 * (loading pdf.js takes seconds), stays for the next ones without holding the process open, and is
 * replaced when a parse overruns its time.
 */
export class DocumentIngester {
  private worker: Worker | undefined
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private readonly timeoutMs: number
  private readonly chunkOptions: ChunkOptions

  constructor(opts: IngestOptions = {}) {
    const { timeoutMs = 30_000, ...chunkOptions } = opts
    this.timeoutMs = timeoutMs
    this.chunkOptions = chunkOptions
  }

  ingest(data: Uint8Array, format: DocumentFormat): Promise<ChunkedDocument> {
    const worker = this.worker ?? this.start()
    const id = this.nextId++
    return new Promise<ChunkedDocument>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.settle(id, new DocumentError(`${format} parsing took longer than ${this.timeoutMs} ms`))
        this.stop(new Error('document worker restarted after a parse overran'))
      }, this.timeoutMs)
      this.pending.set(id, { resolve, reject, timer })
      worker.ref()
      worker.postMessage({ id, data, format, options: this.chunkOptions } satisfies IngestRequest)
    })
  }

  async close(): Promise<void> {
    this.stop(new Error('document ingester closed'))
  }

  private start(): Worker {
    const worker = startWorker(new URL('./ingest-worker.ts', import.meta.url), { threadName: 'kb-ingest' })
    worker.on('message', (reply: IngestReply) => this.settle(reply.id, reply.ok ? reply.document : new DocumentError(reply.error)))
    // A replaced worker's late exit must not stop its successor.
    worker.on('error', (err) => this.worker === worker && this.stop(err))
    worker.on('exit', (code) => this.worker === worker && this.stop(new Error(`document worker exited (code ${code})`)))
    this.worker = worker
    return worker
  }

  private settle(id: number, outcome: ChunkedDocument | Error): void {
    const p = this.pending.get(id)
    if (!p) return
    this.pending.delete(id)
    clearTimeout(p.timer)
    if (outcome instanceof Error) p.reject(outcome)
    else p.resolve(outcome)
    // An idle worker does not keep the process alive.
    if (this.pending.size === 0) this.worker?.unref()
  }

  /** Fails whatever is in flight and drops the worker; the next file starts a new one. */
  private stop(err: Error): void {
    const worker = this.worker
    this.worker = undefined
    for (const id of [...this.pending.keys()]) this.settle(id, err)
    void worker?.terminate()
  }
}
