import { Redis } from 'ioredis'
import type { Logger } from 'pino'

export class RedisTimeout extends Error {}

/**
 * Resolves or rejects as `p` does, or rejects with RedisTimeout after `ms`: a call never waits
 * longer than this for Redis, whatever the connection is doing.
 */
export function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RedisTimeout(`redis did not answer within ${ms} ms`)), ms)
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

export interface RedisLinkOptions {
  url: string
  logger: Logger
  /** up: connected and ready; down: the connection is lost (it is retried for ever) */
  onState?: (up: boolean) => void
}

/**
 * One connection to Redis for commands, and one for pub/sub made on demand. Commands never queue
 * while the connection is down (they fail at once), and none waits more than a second; the
 * connection is retried for ever with a backoff up to 2 s. Up and down are logged once each.
 */
export class RedisLink {
  readonly client: Redis
  private subscriber: Redis | undefined
  private up = false
  private everUp = false
  private closed = false
  private errorLogged = false

  constructor(private readonly opts: RedisLinkOptions) {
    this.client = new Redis(opts.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: 1000,
      connectTimeout: 2000,
      retryStrategy: (times) => Math.min(times * 200, 2000),
      lazyConnect: false,
    })
    this.client.on('ready', () => this.setUp(true))
    this.client.on('close', () => this.setUp(false))
    this.client.on('error', (err) => {
      // ioredis reports every failed reconnect: the log says it once per outage
      if (this.errorLogged) return
      this.errorLogged = true
      this.opts.logger.warn({ err: err.message, url: redactUrl(this.opts.url) }, 'redis error: shared state falls back to this instance alone until it answers')
    })
  }

  get isUp(): boolean {
    return this.up
  }

  /** Resolves when the connection is ready, or after `ms` (false) without failing. */
  waitReady(ms: number): Promise<boolean> {
    if (this.up) return Promise.resolve(true)
    return new Promise((resolve) => {
      const done = (v: boolean) => {
        clearTimeout(timer)
        this.client.off('ready', onReady)
        resolve(v)
      }
      const onReady = () => done(true)
      const timer = setTimeout(() => done(false), ms)
      this.client.on('ready', onReady)
    })
  }

  /** A second connection for SUBSCRIBE (a subscribed connection takes no other commands). */
  subscriberConnection(): Redis {
    if (!this.subscriber) {
      this.subscriber = this.client.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined })
      this.subscriber.on('error', () => {}) // the command connection logs the outage
    }
    return this.subscriber
  }

  private setUp(up: boolean): void {
    if (this.closed || up === this.up) return
    this.up = up
    if (up) {
      this.errorLogged = false
      this.opts.logger.info({ reconnected: this.everUp }, 'redis connected: state is shared with the other instances')
      this.everUp = true
    } else this.opts.logger.warn('redis connection lost: this instance goes on with its local state and retries')
    this.opts.onState?.(up)
  }

  async close(): Promise<void> {
    this.closed = true
    // QUIT waits for a connection that may never come: a short wait, then the sockets are cut
    const quit = (r: Redis | undefined) => (r && r.status === 'ready' ? within(r.quit(), 500) : Promise.resolve())
    await Promise.allSettled([quit(this.client), quit(this.subscriber)])
    this.client.disconnect()
    this.subscriber?.disconnect()
  }
}

/** The URL without its password, for the log. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return '(unparsable url)'
  }
}
