import type { Redis } from 'ioredis'
import type { ClusterKeys } from './keys.ts'

// KEYS: none declared (the keys are built from the prefix: one Redis, not Redis Cluster).
// ARGV: prefix, instance, call id, source ('' = trusted, no per-source limit), max total (0 = none),
// max per source (0 = none), lease ms. Each instance's slots are a hash with the lease as its TTL:
// an instance that dies stops renewing and its slots are counted no more when the lease ends.
const ADMIT = `
local p, me, id, src = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local maxT, maxS, lease = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local mine = p .. 'slots:' .. me
local mySrc = p .. 'slot-src:' .. me
local holders = p .. 'slot-holders'
if redis.call('HEXISTS', mine, id) == 1 then return 'ok' end
local total, fromSrc = 0, 0
for _, h in ipairs(redis.call('SMEMBERS', holders)) do
  local n = redis.call('HLEN', p .. 'slots:' .. h)
  if n == 0 and h ~= me then redis.call('SREM', holders, h) end
  total = total + n
  if src ~= '' then fromSrc = fromSrc + tonumber(redis.call('HGET', p .. 'slot-src:' .. h, src) or '0') end
end
if maxT > 0 and total >= maxT then return 'total' end
if src ~= '' and maxS > 0 and fromSrc >= maxS then return 'source' end
redis.call('HSET', mine, id, src)
redis.call('PEXPIRE', mine, lease)
if src ~= '' then
  redis.call('HINCRBY', mySrc, src, 1)
  redis.call('PEXPIRE', mySrc, lease)
end
redis.call('SADD', holders, me)
return 'ok'
`

// ARGV: prefix, instance, call id
const RELEASE = `
local p, me, id = ARGV[1], ARGV[2], ARGV[3]
local mine = p .. 'slots:' .. me
local src = redis.call('HGET', mine, id)
if not src then return 0 end
redis.call('HDEL', mine, id)
if src ~= '' then
  local mySrc = p .. 'slot-src:' .. me
  if redis.call('HINCRBY', mySrc, src, -1) <= 0 then redis.call('HDEL', mySrc, src) end
end
return 1
`

export interface SlotLimits {
  /** concurrent calls across all instances (0: no limit) */
  maxCalls: number
  /** concurrent calls from one untrusted source across all instances (0: no limit) */
  maxCallsPerSource: number
}

/**
 * Cluster-wide call limits (SIP_MAX_CALLS, SIP_MAX_CALLS_PER_SOURCE): a call takes a slot,
 * checked and recorded in one Lua script (atomic), under its instance and its lease; the slot is
 * released when the call ends, or with the lease when the instance dies.
 */
export class CallSlots {
  /** The slots this instance holds: call id -> source; rewritten into Redis after it comes back. */
  private readonly held = new Map<string, string>()

  constructor(
    private readonly redis: Redis,
    private readonly keys: ClusterKeys,
    private readonly instance: string,
    private readonly limits: SlotLimits,
    private readonly leaseMs: number,
  ) {}

  get count(): number {
    return this.held.size
  }

  /** Takes a slot for `callId` from `source` ('' for a trusted source): 'ok', 'total' or 'source'. */
  async admit(callId: string, source: string): Promise<'ok' | 'total' | 'source'> {
    // held before the answer: a call that goes on after a timeout still releases its slot
    // (on an error it is unknown whether the script ran: the slot stays held until then)
    this.held.set(callId, source)
    const v = String(
      await this.redis.eval(ADMIT, 0, this.keys.slotsPrefix, this.instance, callId, source, this.limits.maxCalls, this.limits.maxCallsPerSource, this.leaseMs),
    )
    if (v !== 'ok') this.held.delete(callId)
    return v as 'ok' | 'total' | 'source'
  }

  /** A call admitted while Redis was away holds its slot here: written with the next resync. */
  hold(callId: string, source: string): void {
    this.held.set(callId, source)
  }

  /** The call ended: its slot is free (a no-op for a call that has none). */
  async release(callId: string): Promise<void> {
    if (!this.held.delete(callId)) return
    await this.redis.eval(RELEASE, 0, this.keys.slotsPrefix, this.instance, callId)
  }

  /** Renews the lease of this instance's slots (every heartbeat). */
  async renew(): Promise<void> {
    if (!this.held.size) return
    await this.redis
      .multi()
      .pexpire(this.keys.slots(this.instance), this.leaseMs)
      .pexpire(this.keys.slotSources(this.instance), this.leaseMs)
      .sadd(`${this.keys.slotsPrefix}slot-holders`, this.instance)
      .exec()
  }

  /** Writes the held slots again (after Redis came back: it may have lost them, or a release). */
  async resync(): Promise<void> {
    const slots = this.keys.slots(this.instance)
    const sources = this.keys.slotSources(this.instance)
    const m = this.redis.multi().del(slots, sources)
    if (this.held.size) {
      const bySource = new Map<string, number>()
      for (const s of this.held.values()) if (s) bySource.set(s, (bySource.get(s) ?? 0) + 1)
      m.hset(slots, Object.fromEntries(this.held)).pexpire(slots, this.leaseMs)
      if (bySource.size) m.hset(sources, Object.fromEntries(bySource)).pexpire(sources, this.leaseMs)
      m.sadd(`${this.keys.slotsPrefix}slot-holders`, this.instance)
    }
    await m.exec()
  }

  /** Slots held across all instances (for tests and the metrics). */
  async total(): Promise<number> {
    const holders = await this.redis.smembers(`${this.keys.slotsPrefix}slot-holders`)
    if (!holders.length) return 0
    const p = this.redis.pipeline()
    for (const h of holders) p.hlen(this.keys.slots(h))
    const res = (await p.exec()) ?? []
    return res.reduce((n, [err, v]) => n + (err ? 0 : Number(v)), 0)
  }
}
