import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { ClusterKeys } from './keys.ts'

/** A ban as it crosses between instances. */
export interface BanMessage {
  source: string
  /** how long from now */
  ms: number
  /** the instance that banned it */
  by: string
}

/**
 * Bans shared by every instance: a source one instance's rate limiter bans is written to Redis
 * (a key per source with the ban as its TTL) and announced on a channel; every other instance bans
 * it locally for the same time. An instance that starts, or reconnects, reads the bans in force.
 */
export class SharedBans {
  private started = false

  constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly keys: ClusterKeys,
    private readonly instance: string,
    /** applies a ban made elsewhere to this instance's limiter */
    private readonly apply: (source: string, ms: number) => void,
    private readonly logger: Logger,
    private readonly onRemote: () => void = () => {},
  ) {}

  /** Subscribes to the channel and loads the bans in force (again after every reconnect). */
  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    this.subscriber.on('message', (channel: string, text: string) => {
      if (channel !== this.keys.banChannel) return
      let m: BanMessage
      try {
        m = JSON.parse(text) as BanMessage
      } catch {
        return
      }
      if (m.by === this.instance || typeof m.source !== 'string' || !(m.ms > 0)) return
      this.apply(m.source, m.ms)
      this.onRemote()
      this.logger.info({ remote: m.source, banS: Math.round(m.ms / 1000), by: m.by }, 'SIP source banned by another instance: banned here too')
    })
    let loaded = false
    // after a reconnect: bans made meanwhile were announced to nobody here
    this.subscriber.on('ready', () => loaded && void this.load().catch((err) => this.logger.warn({ err: err.message }, 'shared bans not loaded')))
    await this.subscriber.subscribe(this.keys.banChannel)
    await this.load()
    loaded = true
  }

  /** This instance banned `source` for `ms`: every other one is told. */
  async share(source: string, ms: number): Promise<void> {
    const msg: BanMessage = { source, ms, by: this.instance }
    await this.redis.multi().set(this.keys.ban(source), this.instance, 'PX', ms).publish(this.keys.banChannel, JSON.stringify(msg)).exec()
  }

  /** Applies every ban in force (its remaining time). */
  async load(): Promise<number> {
    let cursor = '0'
    let n = 0
    const prefix = this.keys.ban('')
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', this.keys.banPattern, 'COUNT', 500)
      cursor = next
      if (keys.length) {
        const p = this.redis.pipeline()
        for (const k of keys) p.pttl(k).get(k)
        const res = (await p.exec()) ?? []
        keys.forEach((k, i) => {
          const [err, ttl] = res[2 * i] ?? [null, -2]
          if (err || Number(ttl) <= 0) return
          this.apply(k.slice(prefix.length), Number(ttl))
          // another instance's ban, loaded rather than announced (a start, a reconnect): counted alike
          if (res[2 * i + 1]?.[1] !== this.instance) this.onRemote()
          n++
        })
      }
    } while (cursor !== '0')
    return n
  }
}
