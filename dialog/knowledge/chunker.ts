// Splits a document's text into chunks for full-text search: one section (heading) never spills into
// another, so a chunk's heading always describes it; long sections are packed into chunks of about
// maxChars with the last sentences of a chunk repeated at the start of the next.

export type DocumentFormat = 'txt' | 'md' | 'pdf'

export interface Chunk {
  /** 0-based position in the document */
  seq: number
  /** the nearest heading above the chunk ('' before the first one) */
  heading: string
  content: string
}

export interface ChunkOptions {
  /** upper bound of a chunk's content, except for a single word longer than this */
  maxChars?: number
  /** how much of a chunk's tail (whole sentences) opens the next chunk of the same section */
  overlapChars?: number
}

export interface ChunkedDocument {
  /** the first level-1 Markdown heading, or the first heading of a text/PDF; undefined when none */
  title?: string
  chunks: Chunk[]
}

interface Section {
  heading: string
  paragraphs: string[]
}

const MD_HEADING = /^(#{1,6})\s+(.+?)\s*#*\s*$/
/** Ends a sentence or a lead-in; a line that ends so is body text, not a heading. */
const TERMINAL = /[.!?…:;,]$/
const MAX_HEADING_CHARS = 80

/**
 * A line of a text or PDF document is a heading when it is short, ends without punctuation and
 * stands on its own: after a blank line, at the start, or after a line that ended a sentence (PDF
 * text has no blank lines between paragraphs). A wrapped body line follows an unfinished line.
 */
function isPlainHeading(line: string, prev: string | undefined, next: string | undefined): boolean {
  if (line.length > MAX_HEADING_CHARS || TERMINAL.test(line) || !next) return false
  return prev === undefined || prev === '' || /[.!?…]$/.test(prev)
}

function sections(text: string, format: DocumentFormat): { title?: string; sections: Section[] } {
  const lines = text
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((l) => l.replace(/[\s\u00a0]+/g, ' ').trim())
  // PDF lines are visual wraps of one paragraph; in text and Markdown a line break is meaningful.
  const joiner = format === 'pdf' ? ' ' : '\n'
  const out: Section[] = [{ heading: '', paragraphs: [] }]
  let title: string | undefined
  let para: string[] = []
  const flush = (): void => {
    if (para.length) out[out.length - 1].paragraphs.push(para.join(joiner))
    para = []
  }
  const startSection = (heading: string): void => {
    flush()
    title ??= heading
    out.push({ heading, paragraphs: [] })
  }
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    if (line === '') {
      flush()
      continue
    }
    if (format === 'md') {
      const m = MD_HEADING.exec(line)
      if (m) {
        if (m[1].length === 1) title ??= m[2]
        startSection(m[2])
        continue
      }
    } else if (isPlainHeading(line, lines[i - 1], lines[i + 1])) {
      startSection(line)
      continue
    }
    para.push(line)
  }
  flush()
  return { title, sections: out.filter((s) => s.paragraphs.length > 0) }
}

/** Sentences with their trailing punctuation; a sentence longer than max is cut at word boundaries. */
export function sentences(paragraph: string, max: number): string[] {
  // A sentence ends at . ! ? … followed by a space ("2.5" and "1С:Бухгалтерия" stay whole) or at a line break.
  const parts = paragraph.split(/(?<=[.!?…])\s+|\n/)
  const out: string[] = []
  for (const raw of parts) {
    const s = raw.trim()
    if (!s) continue
    if (s.length <= max) {
      out.push(s)
      continue
    }
    let piece = ''
    for (const word of s.split(' ')) {
      if (piece && piece.length + 1 + word.length > max) {
        out.push(piece)
        piece = word
      } else piece = piece ? `${piece} ${word}` : word
    }
    if (piece) out.push(piece)
  }
  return out
}

/** The last whole sentences of a chunk that fit in overlap characters. */
function tail(units: string[], overlap: number): string[] {
  const out: string[] = []
  let size = 0
  for (let i = units.length - 1; i > 0; i--) {
    size += units[i].length + 1
    if (size > overlap) break
    out.unshift(units[i])
  }
  return out
}

function packSection(section: Section, max: number, overlap: number): string[] {
  // Paragraphs are kept whole when they fit; otherwise their sentences are the packing units.
  const units: Array<{ text: string; paragraphStart: boolean }> = []
  for (const p of section.paragraphs) {
    const parts = p.length <= max ? [p] : sentences(p, max)
    parts.forEach((text, i) => units.push({ text, paragraphStart: i === 0 }))
  }
  const chunks: string[] = []
  let current: typeof units = []
  let size = 0
  const render = (us: typeof units): string => us.map((u, i) => (i === 0 ? u.text : `${u.paragraphStart ? '\n\n' : ' '}${u.text}`)).join('')
  for (const unit of units) {
    if (current.length && size + 2 + unit.text.length > max) {
      chunks.push(render(current))
      const carried = tail(
        current.map((u) => u.text),
        overlap,
      )
      current = current.slice(current.length - carried.length)
      size = render(current).length
      // Drop the overlap if it alone would push the next unit over the bound.
      if (current.length && size + 2 + unit.text.length > max) current = []
      if (current.length) current[0] = { ...current[0], paragraphStart: true }
    }
    current.push(unit)
    size = render(current).length
  }
  if (current.length) chunks.push(render(current))
  return chunks
}

export function chunkDocument(text: string, format: DocumentFormat, opts: ChunkOptions = {}): ChunkedDocument {
  const max = opts.maxChars ?? 800
  const overlap = opts.overlapChars ?? 150
  if (!(max > 0) || !(overlap >= 0) || overlap >= max) {
    throw new RangeError(`chunk options need 0 <= overlapChars < maxChars (got ${overlap}, ${max})`)
  }
  const parsed = sections(text, format)
  const chunks: Chunk[] = []
  for (const section of parsed.sections) {
    for (const content of packSection(section, max, overlap)) chunks.push({ seq: chunks.length, heading: section.heading, content })
  }
  return { title: parsed.title, chunks }
}
