import net from 'node:net'

export interface TcpHandlers {
  /** Bytes from a connection; `key` is "address:port" of the peer. */
  onData(key: string, chunk: Buffer, address: string, port: number): void
  onClose(key: string): void
}

/**
 * The SIP TCP listener. Connections are kept by peer address so that responses and
 * in-dialog requests go back over the connection the peer opened (RFC 3261 §18.2.2).
 */
export class TcpTransport {
  private server: net.Server | undefined
  private readonly connections = new Map<string, net.Socket>()

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly handlers: TcpHandlers,
    private readonly idleTimeoutMs = 120_000,
  ) {}

  async listen(port = this.port): Promise<number> {
    const server = net.createServer((socket) => this.adopt(socket))
    this.server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, this.host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    return (server.address() as net.AddressInfo).port
  }

  private adopt(socket: net.Socket): string {
    const address = socket.remoteAddress ?? ''
    const port = socket.remotePort ?? 0
    const key = `${address}:${port}`
    this.connections.set(key, socket)
    socket.setTimeout(this.idleTimeoutMs, () => socket.destroy())
    socket.on('data', (chunk) => this.handlers.onData(key, chunk, address, port))
    socket.on('error', () => socket.destroy())
    socket.on('close', () => {
      this.connections.delete(key)
      this.handlers.onClose(key)
    })
    return key
  }

  send(buf: Buffer, address: string, port: number): void {
    const key = `${address}:${port}`
    let socket = this.connections.get(key)
    if (!socket || socket.destroyed) {
      socket = net.connect({ host: address, port })
      this.adopt(socket)
    }
    socket.write(buf)
  }

  /** Close one connection, e.g. after a framing error that cannot be recovered. */
  drop(key: string): void {
    this.connections.get(key)?.destroy()
  }

  async close(): Promise<void> {
    for (const s of this.connections.values()) s.destroy()
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
  }
}
