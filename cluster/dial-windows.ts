import type { Redis } from 'ioredis'

// ARGV: member, n, then n times: key, window ms, max. Every window is checked before any is
// written, so a refused call counts in none; the time is Redis's own (one clock for every instance).
const TAKE = `
local id, n = ARGV[1], tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 0, n - 1 do
  local key, win, max = ARGV[3 + i * 3], tonumber(ARGV[4 + i * 3]), tonumber(ARGV[5 + i * 3])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - win)
  if redis.call('ZCARD', key) >= max then return i + 1 end
end
for i = 0, n - 1 do
  local key, win = ARGV[3 + i * 3], tonumber(ARGV[4 + i * 3])
  redis.call('ZADD', key, now, id)
  redis.call('PEXPIRE', key, win)
end
return 0
`

export interface RateWindow {
  /** sorted set of the calls started in the window */
  key: string
  windowMs: number
  /** calls allowed in any window of that length */
  max: number
}

/**
 * Sliding windows of call starts shared by the instances (the outbound hourly cap, a trunk's calls
 * per second): a new call is counted in all of its windows or, when one is full, in none.
 */
export class DialWindows {
  constructor(private readonly redis: Redis) {}

  /** Counts `callId` in every window; the first full window instead (nothing counted). */
  async take(callId: string, windows: RateWindow[]): Promise<RateWindow | undefined> {
    const args = windows.flatMap((w) => [w.key, w.windowMs, w.max])
    const full = Number(await this.redis.eval(TAKE, 0, callId, windows.length, ...args))
    return full > 0 ? windows[full - 1] : undefined
  }
}
