import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { ClusterKeys } from './keys.ts'

/** A ban read twice (message and key, or key and key) ends this much later at most, or it is a new one. */
const KNOWN_SLACK_MS = 1000

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
 * it locally for the same time. An instance that starts, or reconnects, reads the bans in force,
 * and so does each heartbeat: pub/sub is at most once (a message published while a subscription is
 * being made or re-made reaches nobody), the keys are not.
 */
export class SharedBans {
  private started = false
  /** each source's ban as this instance has it: until when (ms since the epoch) */
  private readonly known = new Map<string, number>()

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
      if (typeof m.source !== 'string' || !(m.ms > 0)) return
      if (this.take(m.source, m.ms, m.by))
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
    this.known.set(source, Date.now() + ms)
    const msg: BanMessage = { source, ms, by: this.instance }
    await this.redis.multi().set(this.keys.ban(source), this.instance, 'PX', ms).publish(this.keys.banChannel, JSON.stringify(msg)).exec()
  }

  /** Another instance's ban, unless this one has it already (announced, then loaded; or its own).
   *  True when it is new here. */
  private take(source: string, ms: number, by: string | null): boolean {
    if (by === this.instance) return false
    const now = Date.now()
    const until = now + ms
    // the same ban read again: its end moves only by the time the message or the read took
    if (until <= (this.known.get(source) ?? 0) + KNOWN_SLACK_MS) return false
    for (const [s, end] of this.known) if (end <= now) this.known.delete(s)
    this.known.set(source, until)
    this.apply(source, ms)
    this.onRemote()
    return true
  }

  /** Applies every ban in force (its remaining time) that this instance did not have yet. */
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
          if (this.take(k.slice(prefix.length), Number(ttl), (res[2 * i + 1]?.[1] as string | null) ?? null)) n++
        })
      }
    } while (cursor !== '0')
    return n
  }
}
