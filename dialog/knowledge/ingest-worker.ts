// Turns one uploaded file into chunks off the media thread: pdf.js text extraction and chunking
// are synchronous work proportional to the document, far beyond the 1 ms the media clock allows.
import { parentPort } from 'node:worker_threads'
import { chunkDocument, type ChunkedDocument, type ChunkOptions, type DocumentFormat } from './chunker.ts'

export interface IngestRequest {
  id: number
  data: Uint8Array
  format: DocumentFormat
  options: ChunkOptions
}

export type IngestReply = { id: number } & ({ ok: true; document: ChunkedDocument } | { ok: false; error: string })

async function pdfText(data: Uint8Array): Promise<{ text: string; title?: string }> {
  // Loaded only for PDFs: pdf.js is most of this worker's start-up time.
  const { PDFParse } = await import('pdf-parse')
  const parser = new PDFParse({ data })
  try {
    const info = await parser.getInfo()
    // pdf-parse separates pages with a "-- n of m --" line by default; a blank line is enough.
    const { text } = await parser.getText({ pageJoiner: '' })
    const title = typeof info.info?.Title === 'string' && info.info.Title.trim() ? info.info.Title.trim() : undefined
    return { text, title }
  } finally {
    await parser.destroy()
  }
}

async function ingest({ data, format, options }: Omit<IngestRequest, 'id'>): Promise<ChunkedDocument> {
  if (format === 'pdf') {
    let extracted: { text: string; title?: string }
    try {
      extracted = await pdfText(data)
    } catch (err) {
      throw new Error(`not a readable PDF: ${(err as Error).message}`)
    }
    const doc = chunkDocument(extracted.text, 'pdf', options)
    return { title: extracted.title ?? doc.title, chunks: doc.chunks }
  }
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(data)
  } catch {
    throw new Error('not UTF-8 text')
  }
  if (text.includes('\u0000')) throw new Error('binary data, not text')
  return chunkDocument(text, format, options)
}

const port = parentPort
if (!port) throw new Error('ingest-worker must run in a worker thread')
port.on('message', (req: IngestRequest) => {
  ingest(req).then(
    (document) => port.postMessage({ id: req.id, ok: true, document } satisfies IngestReply),
    (err: unknown) => port.postMessage({ id: req.id, ok: false, error: (err as Error).message ?? String(err) } satisfies IngestReply),
  )
})
