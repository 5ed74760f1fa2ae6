import dgram from 'node:dgram'
import { isIPv6 } from 'node:net'

/** An RTP socket on an even port with its RTCP companion on port + 1 (RFC 3550 §11). */
export interface RtpPortPair {
  port: number
  rtp: dgram.Socket
  rtcp: dgram.Socket
}

function bind(port: number, host: string): Promise<dgram.Socket | null> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket(isIPv6(host) ? 'udp6' : 'udp4')
    socket.once('error', () => {
      socket.close()
      resolve(null)
    })
    socket.bind(port, host, () => {
      socket.removeAllListeners('error')
      socket.on('error', () => {}) // ICMP errors surface here; a call must not die of them
      resolve(socket)
    })
  })
}

/**
 * Even RTP ports from [min, max], handed out least recently used first. A port is taken only when
 * both sockets bind, so a port held by another process is skipped rather than handed out.
 */
export class RtpPortPool {
  private readonly free: number[] = []
  private readonly taken = new Set<number>()

  constructor(
    min: number,
    max: number,
    private readonly host: string,
    /** ports to hand out last: a dead predecessor's calls, whose callers may still stream to them
     *  and would latch a new call on the same port before its own caller does */
    last: readonly number[] = [],
  ) {
    const later = new Set(last)
    for (let p = min + (min % 2); p + 1 <= max; p += 2) if (!later.has(p)) this.free.push(p)
    for (let p = min + (min % 2); p + 1 <= max; p += 2) if (later.has(p)) this.free.push(p)
  }

  get available(): number {
    return this.free.length
  }

  /** The ports handed out and not released, for the invariant check (no pair without a call). */
  get inUse(): ReadonlySet<number> {
    return this.taken
  }

  /** Null when every port is in use: the caller answers 503. */
  async allocate(): Promise<RtpPortPair | null> {
    const tried: number[] = []
    try {
      while (this.free.length) {
        const port = this.free.shift() as number
        const rtp = await bind(port, this.host)
        const rtcp = rtp && (await bind(port + 1, this.host))
        if (rtp && rtcp) {
          this.taken.add(port)
          return { port, rtp, rtcp }
        }
        rtp?.close()
        tried.push(port)
      }
      return null
    } finally {
      this.free.push(...tried) // busy elsewhere now, maybe free later
    }
  }

  /** Releasing twice is harmless: the port goes back to the pool once, never to two calls. */
  release(pair: RtpPortPair): void {
    if (!this.taken.delete(pair.port)) return
    pair.rtp.close()
    pair.rtcp.close()
    this.free.push(pair.port)
  }
}
