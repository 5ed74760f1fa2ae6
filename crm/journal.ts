import { randomUUID } from 'node:crypto'
import { mkdir, open, readFile, rename, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'

/** One record write that could not reach the database, as it will be replayed. */
export interface JournalEntry {
  seq: number
  op: string
  args: unknown[]
  /** When it was journalled (ISO), for the log and the age of the backlog. */
  at: string
}

interface Header {
  journal: string
  v: 1
}

const FILE = 'journal.ndjson'
const REJECTED = 'rejected.ndjson'

/**
 * An append-only file of writes waiting for the database: one JSON line each, written and
 * fsync'd before `append` resolves, so a write the caller was told is safe survives kill -9 and a
 * power cut. Every file generation has its own id (the first line); entries are numbered 1, 2, ...
 * in it, and (id, seq) is what the database remembers of an applied entry (journal_applied), so
 * a replay cut short anywhere is resumed without applying anything twice. Once everything is
 * applied the file is replaced by an empty generation (`rotate`).
 *
 * Appends and rotations run one at a time in call order: the order of the file is the order of
 * the writes.
 */
export class Journal {
  private fh!: FileHandle
  private id = ''
  private nextSeq = 1
  private readonly pending: JournalEntry[] = []
  private chain: Promise<unknown> = Promise.resolve()
  private inFlight = 0

  private constructor(readonly dir: string) {}

  /** Opens the journal in dir, keeping what an earlier process left unapplied. */
  static async open(dir: string): Promise<Journal> {
    await mkdir(dir, { recursive: true })
    const j = new Journal(dir)
    await j.load()
    return j
  }

  get journalId(): string {
    return this.id
  }

  /** Entries appended and not yet acknowledged (including appends still being written). */
  get size(): number {
    return this.pending.length + this.inFlight
  }

  /** The oldest entry not applied yet, or undefined. */
  peek(): JournalEntry | undefined {
    return this.pending[0]
  }

  /** The oldest entry is done with (applied or rejected). */
  ack(seq: number): void {
    if (this.pending[0]?.seq !== seq) throw new Error(`journal: ack of ${seq} out of order`)
    this.pending.shift()
  }

  /** Appends one entry and resolves once it is on disk. */
  append(op: string, args: unknown[]): Promise<JournalEntry> {
    this.inFlight++
    return this.serial(async () => {
      const entry: JournalEntry = { seq: this.nextSeq++, op, args, at: new Date().toISOString() }
      try {
        await this.fh.write(JSON.stringify(entry) + '\n')
        await this.fh.datasync()
      } catch (err) {
        this.nextSeq--
        throw err
      } finally {
        this.inFlight--
      }
      // Round-trip through JSON so that replay in this process sees what a restart would.
      const stored = JSON.parse(JSON.stringify(entry)) as JournalEntry
      this.pending.push(stored)
      return stored
    })
  }

  /**
   * When every entry is done with, starts a new empty generation (written aside, fsync'd, renamed
   * over) and returns the id of the old one, whose journal_applied rows may then go. Returns
   * undefined when entries are still pending or nothing was ever written.
   */
  rotate(): Promise<string | undefined> {
    return this.serial(async () => {
      if (this.pending.length || this.inFlight || this.nextSeq === 1) return undefined
      const old = this.id
      const tmp = join(this.dir, `${FILE}.tmp`)
      const fh = await open(tmp, 'w')
      const id = randomUUID()
      try {
        await fh.write(JSON.stringify({ journal: id, v: 1 } satisfies Header) + '\n')
        await fh.datasync()
      } finally {
        await fh.close()
      }
      await rename(tmp, join(this.dir, FILE))
      await syncDir(this.dir)
      await this.fh.close()
      this.fh = await open(join(this.dir, FILE), 'a')
      this.id = id
      this.nextSeq = 1
      return old
    })
  }

  /** Keeps an entry the database refused (not a connection problem) for a human to look at. */
  async reject(entry: JournalEntry, reason: string): Promise<void> {
    const fh = await open(join(this.dir, REJECTED), 'a')
    try {
      await fh.write(JSON.stringify({ ...entry, journal: this.id, rejectedAt: new Date().toISOString(), reason }) + '\n')
      await fh.datasync()
    } finally {
      await fh.close()
    }
  }

  async close(): Promise<void> {
    await this.serial(() => this.fh.close())
  }

  private serial<R>(fn: () => Promise<R>): Promise<R> {
    const run = this.chain.then(fn, fn)
    this.chain = run.catch(() => {})
    return run
  }

  private async load(): Promise<void> {
    const path = join(this.dir, FILE)
    let text = ''
    try {
      text = await readFile(path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    // A crash in the middle of an append leaves a torn last line: it was never acknowledged to
    // anyone, so it is dropped (the file is cut back to the last whole line).
    const whole = text.slice(0, text.lastIndexOf('\n') + 1)
    const lines = whole.split('\n').filter(Boolean)
    let header: Header | undefined
    try {
      header = lines.length ? (JSON.parse(lines[0]) as Header) : undefined
    } catch {
      header = undefined
    }
    if (!header?.journal) {
      if (lines.length) throw new Error(`journal ${path}: the first line is not a journal header; move the file aside to start afresh`)
      this.id = randomUUID()
      this.fh = await open(path, 'w')
      await this.fh.write(JSON.stringify({ journal: this.id, v: 1 } satisfies Header) + '\n')
      await this.fh.datasync()
      await this.fh.close()
      await syncDir(this.dir)
    } else {
      this.id = header.journal
      for (const line of lines.slice(1)) {
        const e = JSON.parse(line) as JournalEntry
        this.pending.push(e)
        this.nextSeq = e.seq + 1
      }
      if (whole.length !== text.length) {
        const fh = await open(path, 'r+')
        await fh.truncate(Buffer.byteLength(whole))
        await fh.close()
      }
    }
    this.fh = await open(path, 'a')
  }
}

/** A rename is durable once the directory itself is synced. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } catch {
    // some file systems refuse fsync on a directory; the rename is still atomic
  } finally {
    await fh.close()
  }
}
