import net from 'node:net'
import tls from 'node:tls'
import { DEFAULT_TCP_OPTIONS, type TcpOptions } from './tcp-options.ts'

export interface TcpHandlers {
  /** Bytes from a connection; `key` is "address:port" of the peer. */
  onData(key: string, chunk: Buffer, address: string, port: number): void
  onClose(key: string): void
  /** A connection we closed (idle, or refused over a limit), for the counters. */
  onClosedByUs?(reason: TcpCloseReason): void
  /** A connection we opened failed before it was up (refused, unreachable, a certificate refused). */
  onUnreachable?(address: string, port: number, reason: string): void
}

export type TcpCloseReason = 'idle' | 'limit-total' | 'limit-source'

/** PEM certificate (chain) and key: with them the listener speaks TLS (SIP over TLS, RFC 3261 §26.2). */
export interface TlsCredentials {
  cert: string | Buffer
  key: string | Buffer
}

/** TLS on a stream transport: our certificate (presented both ways), and whom we trust. */
export interface TlsSettings {
  credentials: TlsCredentials
  /** PEM CA certificates a peer may chain to, besides the system's (SIP_TLS_CA) */
  ca?: string
  /** mutual TLS (SIP_TLS_VERIFY_CLIENT=required): a peer connecting to us must present a certificate that chains to those CAs */
  verifyClient?: boolean
}

/**
 * The SIP TCP listener. Connections are kept by peer address so that responses and
 * in-dialog requests go back over the connection the peer opened (RFC 3261 §18.2.2).
 * A connection that carries nothing for `idleTimeoutMs` is closed, unless it is pinned: a
 * live dialog's flow stays open however quiet (the peer's BYE must still find it, and a
 * peer behind NAT cannot be reached on a new one). Connections are capped in total and per
 * source address; one over a cap is closed at once.
 */
export class TcpTransport {
  private server: net.Server | undefined
  private readonly connections = new Map<string, net.Socket>()
  private readonly perSource = new Map<string, number>()
  /** Pins per connection key (one per dialog that uses it as its flow). */
  private readonly pins = new Map<string, number>()
  private readonly opts: TcpOptions

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly handlers: TcpHandlers,
    opts: Partial<TcpOptions> = {},
    /** set: TLS on this listener and on the connections we open */
    private readonly tlsSettings?: TlsSettings,
  ) {
    this.opts = { ...DEFAULT_TCP_OPTIONS, ...opts }
    this.ca = tlsSettings?.ca ? [...tls.rootCertificates, tlsSettings.ca] : undefined
    this.credentials = tlsSettings?.credentials
  }

  private readonly ca: string[] | undefined
  /** ours, replaced when the files change: the listener's and the client certificate of the connections we open */
  private credentials: TlsCredentials | undefined

  get size(): number {
    return this.connections.size
  }

  async listen(port = this.port): Promise<number> {
    // with TLS the socket is handed over once the handshake is done ('secureConnection')
    const verify = this.tlsSettings?.verifyClient ? { requestCert: true, rejectUnauthorized: true, ...(this.ca && { ca: this.ca }) } : {}
    const server = this.credentials
      ? tls.createServer({ ...this.credentials, ...verify }, (socket) => this.accept(socket))
      : net.createServer((socket) => this.accept(socket))
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

  private accept(socket: net.Socket): void {
    const address = socket.remoteAddress ?? ''
    const over: TcpCloseReason | undefined =
      this.connections.size >= this.opts.maxConnections
        ? 'limit-total'
        : (this.perSource.get(address) ?? 0) >= this.opts.maxPerSource
          ? 'limit-source'
          : undefined
    if (over) {
      socket.on('error', () => {})
      socket.destroy()
      this.handlers.onClosedByUs?.(over)
      return
    }
    this.adopt(socket)
  }

  private adopt(socket: net.Socket, peer?: { address: string; port: number }): string {
    const address = peer?.address ?? socket.remoteAddress ?? ''
    const port = peer?.port ?? socket.remotePort ?? 0
    const key = `${address}:${port}`
    this.connections.set(key, socket)
    this.perSource.set(address, (this.perSource.get(address) ?? 0) + 1)
    // Node resets this timer on every read and write; 'timeout' means idle in both directions.
    socket.setTimeout(this.opts.idleTimeoutMs)
    socket.on('timeout', () => {
      if (this.pins.has(key)) return socket.setTimeout(this.opts.idleTimeoutMs) // a dialog's flow: keep it
      socket.destroy()
      this.handlers.onClosedByUs?.('idle')
    })
    socket.on('data', (chunk) => this.handlers.onData(key, chunk, address, port))
    socket.on('error', () => socket.destroy())
    socket.on('close', () => {
      if (this.connections.get(key) === socket) {
        this.connections.delete(key)
        this.handlers.onClose(key)
      }
      const n = (this.perSource.get(address) ?? 1) - 1
      if (n > 0) this.perSource.set(address, n)
      else this.perSource.delete(address)
    })
    return key
  }

  /** `serverName`: over TLS, the name the peer's certificate must carry (default: `address` when it is a name). */
  send(buf: Buffer, address: string, port: number, serverName?: string): void {
    const key = `${address}:${port}`
    let socket = this.connections.get(key)
    if (!socket || socket.destroyed) {
      if (this.connections.size >= this.opts.maxConnections) {
        this.handlers.onClosedByUs?.('limit-total')
        return
      }
      // a TLS connection we open checks the peer's certificate against the system's CAs (and SIP_TLS_CA),
      // and presents ours to a carrier that asks for one (mutual TLS)
      const name = serverName ?? (net.isIP(address) ? undefined : address)
      const opened = this.credentials
        ? tls.connect({ host: address, port, ...this.credentials, ...(name && { servername: name }), ...(this.ca && { ca: this.ca }) })
        : net.connect({ host: address, port })
      let up = false
      opened.once(this.credentials ? 'secureConnect' : 'connect', () => (up = true))
      opened.once('error', (err) => {
        if (!up) this.handlers.onUnreachable?.(address, port, err.message)
      })
      socket = opened
      this.adopt(socket, { address, port })
    }
    socket.write(buf)
  }

  /** New certificate and key (the files changed): connections from now on use them. */
  setCredentials(credentials: TlsCredentials): void {
    this.credentials = credentials
    if (this.server instanceof tls.Server) this.server.setSecureContext({ ...credentials, ...(this.tlsSettings?.verifyClient && this.ca && { ca: this.ca }) })
  }

  /** A dialog uses the connection to `key` as its flow: it is not closed for idleness. */
  pin(key: string): void {
    this.pins.set(key, (this.pins.get(key) ?? 0) + 1)
  }

  unpin(key: string): void {
    const n = (this.pins.get(key) ?? 0) - 1
    if (n > 0) this.pins.set(key, n)
    else this.pins.delete(key)
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
