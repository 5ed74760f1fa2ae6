import net from 'node:net'

/**
 * A TCP forwarder the test can cut: the server is pointed at it instead of Postgres, and `down()`
 * makes the database unreachable the way a dead network path does (open connections reset, new
 * ones closed on accept) without touching the real server other tests use.
 */
export class TcpProxy {
  private readonly server: net.Server
  private readonly sockets = new Set<net.Socket>()
  private up = true
  port = 0

  constructor(target: { host: string; port: number }) {
    this.server = net.createServer((client) => {
      if (!this.up) return void client.destroy()
      const upstream = net.connect(target.port, target.host)
      for (const s of [client, upstream]) {
        this.sockets.add(s)
        s.on('close', () => this.sockets.delete(s))
        s.on('error', () => {})
      }
      client.pipe(upstream).pipe(client)
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
    })
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.port = (this.server.address() as net.AddressInfo).port
    return this
  }

  down(): void {
    this.up = false
    for (const s of this.sockets) s.resetAndDestroy()
  }

  restore(): void {
    this.up = true
  }

  async close(): Promise<void> {
    this.down()
    await new Promise((r) => this.server.close(r))
  }
}
