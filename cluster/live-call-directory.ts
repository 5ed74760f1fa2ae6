import type { Redis } from 'ioredis'
import type { ClusterKeys } from './keys.ts'
import type { LiveCallSummary } from './types.ts'

/**
 * The live calls of every instance: each instance keeps its own in one hash (call id -> JSON of
 * the call as GET /api/calls shows it) under the same lease as its record, rewritten whole when
 * its calls change and with every heartbeat, so a restarted Redis or a dead instance heals itself.
 */
export class LiveCallDirectory {
  constructor(
    private readonly redis: Redis,
    private readonly keys: ClusterKeys,
    private readonly leaseMs: number,
  ) {}

  /** Replaces this instance's live calls with `calls`. */
  async publish(instance: string, calls: LiveCallSummary[]): Promise<void> {
    const key = this.keys.calls(instance)
    const m = this.redis.multi().del(key)
    if (calls.length) {
      m.hset(key, Object.fromEntries(calls.map((c) => [c.id, JSON.stringify(c)])))
      m.pexpire(key, this.leaseMs)
    }
    await m.exec()
  }

  /** The live calls of `instances`, newest first. */
  async list(instances: string[]): Promise<LiveCallSummary[]> {
    if (!instances.length) return []
    const p = this.redis.pipeline()
    for (const id of instances) p.hvals(this.keys.calls(id))
    const res = (await p.exec()) ?? []
    const out: LiveCallSummary[] = []
    for (const [err, vals] of res) {
      if (err) continue
      for (const v of vals as string[]) {
        try {
          out.push(JSON.parse(v) as LiveCallSummary)
        } catch {
          // a value another version wrote: skipped
        }
      }
    }
    return out.sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0))
  }

  async remove(instance: string): Promise<void> {
    await this.redis.del(this.keys.calls(instance))
  }
}
