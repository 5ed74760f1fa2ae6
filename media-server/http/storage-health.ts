import { mkdir, rm, statfs, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { DurableCallStore } from '../../crm/durable-store.ts'

export interface StorageHealthOptions {
  store: Pick<DurableCallStore, 'check' | 'pending'>
  /** where calls' recordings and clips go (DATA_DIR/calls) */
  recordingsDir: string
  /** below this much free space on the recordings' file system: degraded */
  minFreeDiskMb: number
}

export interface StorageHealth {
  ok: boolean
  /** 'ok' or what is wrong, per check */
  checks: { database: string; journal: string; recordings: string; disk: string }
}

const DB_CHECK_TIMEOUT_MS = 3000

/**
 * What /health says about storage. Each check is a real attempt, not a permission bit: root
 * ignores modes, so the recordings folder is proven writable by writing a file in it, and a full
 * disk shows as the write failing or as free space under MIN_FREE_DISK_MB.
 */
export async function checkStorage(o: StorageHealthOptions): Promise<StorageHealth> {
  const [database, recordings, disk] = await Promise.all([
    withTimeout(o.store.check(), DB_CHECK_TIMEOUT_MS, 'down: no answer in 3 s'),
    probeWritable(o.recordingsDir),
    freeSpace(o.recordingsDir, o.minFreeDiskMb),
  ])
  const pending = o.store.pending
  // Journalled writes are safe on local disk: degraded, not lost.
  const journal = pending ? `${pending} record writes journalled on local disk, replayed when the database answers` : 'ok'
  const checks = { database, journal, recordings, disk }
  return { ok: Object.values(checks).every((c) => c === 'ok'), checks }
}

async function probeWritable(dir: string): Promise<string> {
  const probe = path.join(dir, `.health-${process.pid}`)
  try {
    await mkdir(dir, { recursive: true })
    await writeFile(probe, 'ok')
    await rm(probe, { force: true })
    return 'ok'
  } catch (err) {
    await rm(probe, { force: true }).catch(() => {})
    return `unwritable: ${(err as Error).message}`
  }
}

async function freeSpace(dir: string, minMb: number): Promise<string> {
  let s
  try {
    s = await statfs(dir)
  } catch (err) {
    try {
      s = await statfs(path.dirname(dir)) // not made yet: its parent's file system
    } catch {
      return `unknown: ${(err as Error).message}`
    }
  }
  const freeMb = (s.bavail * s.bsize) / 2 ** 20
  return freeMb < minMb ? `low: ${freeMb.toFixed(1)} MB free, MIN_FREE_DISK_MB is ${minMb}` : 'ok'
}

function withTimeout(p: Promise<string>, ms: number, onTimeout: string): Promise<string> {
  let timer: NodeJS.Timeout
  return Promise.race([p, new Promise<string>((r) => (timer = setTimeout(() => r(onTimeout), ms)))]).finally(() => clearTimeout(timer))
}
