import type { SqlDriver } from '../../crm/sql-driver.ts'
import type { DocumentFormat } from './chunker.ts'
import { DocumentError, DocumentIngester, type IngestOptions } from './ingest.ts'

export interface KnowledgeDocument {
  id: number
  name: string
  title: string
  format: DocumentFormat
  sizeBytes: number
  chunkCount: number
  createdAt: string
}

export interface KnowledgeHit {
  chunkId: number
  documentId: number
  /** the document's title */
  title: string
  heading: string
  content: string
  /** ts_rank_cd of the better-matching language, length-normalised; only comparable within one search */
  score: number
}

/** What the agent's search_knowledge tool needs; the knowledge base or a test double provides it. */
export interface KnowledgeSearch {
  search(question: string, opts?: { limit?: number }): Promise<KnowledgeHit[]>
}

/** What scenario mode needs to read an answer out of the material (spoken-answer.ts). */
export interface KnowledgeAnswers extends KnowledgeSearch {
  matchSentences(question: string, sentences: string[]): Promise<SentenceMatch[]>
}

/** How many of the question's lexemes a sentence has, of how many the question has. */
export interface SentenceMatch {
  matched: number
  asked: number
}

/** How much a prefix-only match counts against an exact one. */
const PREFIX_WEIGHT = 0.3

const FORMATS: Record<string, DocumentFormat> = { txt: 'txt', text: 'txt', md: 'md', markdown: 'md', pdf: 'pdf' }

/** The format named by a file name's extension; DocumentError for anything else. */
export function formatOf(name: string): DocumentFormat {
  const ext = /\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase()
  const format = ext === undefined ? undefined : FORMATS[ext]
  if (!format) throw new DocumentError(`unsupported file type of ${JSON.stringify(name)}: use .txt, .md or .pdf`)
  return format
}

// The question's lexemes in one configuration, OR-ed: websearch_to_tsquery would AND them, and a
// paraphrase that shares only some words with the answer would then find nothing. Lexemes go into
// the tsquery verbatim (quoted, ' and \ escaped) since they are already normalised; with
// prefix ':*' each lexeme of 3+ letters also matches longer ones (Snowball stems a verb and its noun differently:
// "try" -> tri, "trial" -> trial; "стоит" -> сто, "стоимость" -> стоимост).
const orQuery = (config: 'russian' | 'english', prefix: '' | ':*'): string => `(
  SELECT string_agg('''' || replace(replace(l, '\\', '\\\\'), '''', '''''') || ''''
                    || CASE WHEN length(l) >= 3 THEN '${prefix}' ELSE '' END, ' | ')
  FROM unnest(tsvector_to_array(to_tsvector('${config}', $1))) AS l)::tsquery`

// A chunk is found by the prefix queries and ranked mostly by its exact lexeme matches, prefix
// matches counting as weaker evidence. Rank normalisation 1 divides by 1 + log(length), so a long
// chunk does not win by mere size.
const rank = (tsv: string, exact: string, prefix: string): string =>
  `coalesce(ts_rank_cd(${tsv}, ${exact}, 1), 0) + ${PREFIX_WEIGHT} * coalesce(ts_rank_cd(${tsv}, ${prefix}, 1), 0)`

const SEARCH_SQL = `
WITH q AS (
  SELECT ${orQuery('russian', '')} AS ru, ${orQuery('russian', ':*')} AS ru_prefix,
         ${orQuery('english', '')} AS en, ${orQuery('english', ':*')} AS en_prefix
)
SELECT c.id, c.document_id, d.title, c.heading, c.content,
       greatest(${rank('c.tsv_ru', 'q.ru', 'q.ru_prefix')}, ${rank('c.tsv_en', 'q.en', 'q.en_prefix')}) AS score
FROM q, knowledge_chunks c JOIN knowledge_documents d ON d.id = c.document_id
WHERE c.tsv_ru @@ q.ru_prefix OR c.tsv_en @@ q.en_prefix
ORDER BY score DESC, c.id
LIMIT $2`

// The 'russian' configuration stems Cyrillic words with the Russian Snowball stemmer and Latin
// ones with the English one, so one configuration serves both languages here. Lexemes of four
// letters and more also match when one is a prefix of the other (вернуть -> вернут, вернём -> верн).
const MATCH_SQL = `
WITH q AS (SELECT DISTINCT l FROM unnest(tsvector_to_array(to_tsvector('russian', $1))) AS l),
s AS (SELECT i, tsvector_to_array(to_tsvector('russian', txt)) AS lex FROM unnest($2::text[]) WITH ORDINALITY AS u(txt, i))
SELECT s.i,
       (SELECT count(*) FROM q WHERE EXISTS (
          SELECT 1 FROM unnest(s.lex) AS x
          WHERE x = q.l OR (least(length(x), length(q.l)) >= 4 AND (left(x, length(q.l)) = q.l OR left(q.l, length(x)) = x)))) AS matched,
       (SELECT count(*) FROM q) AS asked
FROM s ORDER BY s.i`

interface DocumentRow {
  id: string | number
  name: string
  title: string
  format: DocumentFormat
  size_bytes: number
  chunk_count: number
  created_at: Date | string
}

function toDocument(r: DocumentRow): KnowledgeDocument {
  return {
    id: Number(r.id),
    name: r.name,
    title: r.title,
    format: r.format,
    sizeBytes: r.size_bytes,
    chunkCount: r.chunk_count,
    createdAt: new Date(r.created_at).toISOString(),
  }
}

/** Documents and their chunks in the call store's database (migration 003). */
export class KnowledgeBase implements KnowledgeAnswers {
  private readonly ingester: DocumentIngester

  constructor(
    private readonly db: SqlDriver,
    ingestOptions: IngestOptions = {},
  ) {
    this.ingester = new DocumentIngester(ingestOptions)
  }

  /** Parses, chunks and stores one file; DocumentError when the file is unusable. */
  async add(name: string, data: Uint8Array): Promise<KnowledgeDocument> {
    const format = formatOf(name)
    if (data.length === 0) throw new DocumentError(`${name} is empty`)
    const doc = await this.ingester.ingest(data, format)
    if (doc.chunks.length === 0) throw new DocumentError(`${name} contains no text`)
    const title = doc.title ?? name.replace(/\.[^.]+$/, '')
    return this.db.transaction(async (tx) => {
      const { rows } = await tx.query<DocumentRow>(
        `INSERT INTO knowledge_documents (name, title, format, size_bytes, chunk_count)
         VALUES ($1, $2, $3, $4, $5) RETURNING *`,
        [name, title, format, data.length, doc.chunks.length],
      )
      const id = rows[0].id
      // One statement for all chunks: the arrays are unnested server-side.
      await tx.query(
        `INSERT INTO knowledge_chunks (document_id, seq, heading, content)
         SELECT $1, s, h, c FROM unnest($2::int[], $3::text[], $4::text[]) AS t (s, h, c)`,
        [id, doc.chunks.map((c) => c.seq), doc.chunks.map((c) => c.heading), doc.chunks.map((c) => c.content)],
      )
      return toDocument(rows[0])
    })
  }

  /** Stops the document worker; the database is the caller's to close. */
  close(): Promise<void> {
    return this.ingester.close()
  }

  async list(): Promise<KnowledgeDocument[]> {
    const { rows } = await this.db.query<DocumentRow>('SELECT * FROM knowledge_documents ORDER BY created_at DESC, id DESC')
    return rows.map(toDocument)
  }

  /** False when there was no such document. */
  async remove(id: number): Promise<boolean> {
    const { rows } = await this.db.query('DELETE FROM knowledge_documents WHERE id = $1 RETURNING id', [id])
    return rows.length > 0
  }

  /** For each sentence, how many of the question's words (as lexemes) it has. */
  async matchSentences(question: string, sentences: string[]): Promise<SentenceMatch[]> {
    if (!sentences.length) return []
    const { rows } = await this.db.query<{ matched: string | number; asked: string | number }>(MATCH_SQL, [question, sentences])
    return rows.map((r) => ({ matched: Number(r.matched), asked: Number(r.asked) }))
  }

  /** The best chunks for a question, best first; empty when it has no searchable words. */
  async search(question: string, opts: { limit?: number } = {}): Promise<KnowledgeHit[]> {
    const limit = Math.max(1, Math.min(opts.limit ?? 3, 20))
    const { rows } = await this.db.query<{
      id: string | number
      document_id: string | number
      title: string
      heading: string
      content: string
      score: number
    }>(SEARCH_SQL, [question, limit])
    return rows.map((r) => ({
      chunkId: Number(r.id),
      documentId: Number(r.document_id),
      title: r.title,
      heading: r.heading,
      content: r.content,
      score: Number(r.score),
    }))
  }
}
