import type { Redis } from 'ioredis'
import type { ClusterKeys } from './keys.ts'
import type { InstanceRecord } from './types.ts'

/**
 * The instances sharing one Redis. Each writes its record (InstanceRecord) under a lease: a hash
 * with a TTL that every heartbeat renews. An instance that dies stops renewing, its record expires
 * and it drops out of list(); the set of ids is only an index, pruned by whoever reads it.
 */
export class InstanceRegistry {
  constructor(
    private readonly redis: Redis,
    private readonly keys: ClusterKeys,
    private readonly leaseMs: number,
  ) {}

  /** Writes (or renews) this instance's record. */
  async beat(rec: InstanceRecord): Promise<void> {
    const key = this.keys.instance(rec.id)
    await this.redis
      .multi()
      .hset(key, {
        id: rec.id,
        sip: rec.sip,
        http: rec.http,
        liveCalls: String(rec.liveCalls),
        draining: rec.draining ? '1' : '0',
        startedAt: rec.startedAt,
        updatedAt: rec.updatedAt,
      })
      .pexpire(key, this.leaseMs)
      .sadd(this.keys.instances, rec.id)
      .exec()
  }

  /** Removes this instance's record at once (a clean stop), rather than at the lease's end. */
  async leave(id: string): Promise<void> {
    await this.redis.multi().del(this.keys.instance(id)).srem(this.keys.instances, id).exec()
  }

  /** Ids of the instances whose lease holds, sorted. */
  async ids(): Promise<string[]> {
    return (await this.list()).map((r) => r.id)
  }

  /** The instances whose lease holds; ids whose record expired are pruned from the index. */
  async list(): Promise<InstanceRecord[]> {
    const ids = await this.redis.smembers(this.keys.instances)
    if (!ids.length) return []
    const p = this.redis.pipeline()
    for (const id of ids) p.hgetall(this.keys.instance(id))
    const res = (await p.exec()) ?? []
    const out: InstanceRecord[] = []
    const dead: string[] = []
    ids.forEach((id, i) => {
      const [err, h] = res[i] ?? [null, {}]
      const rec = h as Record<string, string>
      if (err || !rec || !rec.id) return void dead.push(id)
      out.push({
        id: rec.id,
        sip: rec.sip,
        http: rec.http,
        liveCalls: Number(rec.liveCalls) || 0,
        draining: rec.draining === '1',
        startedAt: rec.startedAt,
        updatedAt: rec.updatedAt,
      })
    })
    // an instance may have renewed between the two reads: SREM only what is still gone
    for (const id of dead) if (!(await this.redis.exists(this.keys.instance(id)))) await this.redis.srem(this.keys.instances, id)
    return out.sort((a, b) => a.id.localeCompare(b.id))
  }
}
