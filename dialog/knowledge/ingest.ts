import { Worker } from 'node:worker_threads'
import type { ChunkedDocument, ChunkOptions, DocumentFormat } from './chunker.ts'
import type { IngestReply, IngestRequest } from './ingest-worker.ts'

/** A file that cannot become knowledge: the upload's fault, answered with 400. */
export class DocumentError extends Error {
  override readonly name = 'DocumentError'
}

export interface IngestOptions extends ChunkOptions {
  /** a parse that takes longer is abandoned and its worker terminated */
  timeoutMs?: number
}

// Node 20 does not pass tsx's --import hooks into worker threads (tsx#354): the worker loads its
// TypeScript entry through tsx's scoped loader, as crm/drivers/pglite.ts does.
function workerSource(): string {
  const entry = new URL('./ingest-worker.ts', import.meta.url).href
  return `
import { tsImport } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))};
await tsImport(${JSON.stringify(entry)}, ${JSON.stringify(import.meta.url)});`
}

/**
 * Extracts (PDF) or decodes (text, Markdown) a file and chunks it in a worker thread of its own:
 * uploads are rare, and a fresh worker per file returns pdf.js's memory and can be killed when stuck.
 */
export function ingestDocument(data: Uint8Array, format: DocumentFormat, opts: IngestOptions = {}): Promise<ChunkedDocument> {
  const { timeoutMs = 30_000, ...options } = opts
  const request: IngestRequest = { data, format, options }
  const worker = new Worker(workerSource(), { eval: true, workerData: request })
  let timer: NodeJS.Timeout | undefined
  return new Promise<ChunkedDocument>((resolve, reject) => {
    timer = setTimeout(() => {
      reject(new DocumentError(`${format} parsing took longer than ${timeoutMs} ms`))
      void worker.terminate()
    }, timeoutMs)
    worker.once('message', (reply: IngestReply) => {
      if (reply.ok) resolve(reply.document)
      else reject(new DocumentError(reply.error))
    })
    worker.once('error', (err) => reject(err))
    worker.once('exit', (code) => reject(new Error(`document worker exited (code ${code}) without an answer`)))
  }).finally(() => {
    clearTimeout(timer)
    void worker.terminate()
  })
}
