import { createHash } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { parseDatagram, type ParseOutcome } from '../message/parse.ts'
import { StreamFramer } from '../message/stream-framer.ts'
import { makeResponse, serialize } from '../message/serialize.ts'
import { isRequest, type RejectedRequest, type Remote, type SipMessage, type SipRequest, type SipResponse } from '../message/types.ts'
import { TcpTransport, type TlsCredentials, type TlsSettings } from './tcp.ts'
import type { TcpOptions } from './tcp-options.ts'
import { UdpTransport } from './udp.ts'
import { messageKind, NO_STATS, type SipStats } from './stats.ts'

const CRLF = Buffer.from('\r\n')

/** SIP over TLS on its own port (SIP_TLS_PORT). */
export interface TlsListen extends TlsSettings {
  port: number
}

export interface TransportLayerEvents {
  request: [rq: SipRequest, remote: Remote]
  response: [res: SipResponse, remote: Remote]
  /** a stream connection we opened to `remote` failed before it was up: what was sent on it is lost */
  unreachable: [remote: Remote, reason: string]
}

/**
 * Both SIP transports behind one send/receive surface. Incoming bytes are framed and
 * validated here; a broken request that can still be answered gets its 400/505 here,
 * anything else is dropped and counted, so the layers above only see sound messages.
 */
export class TransportLayer extends EventEmitter<TransportLayerEvents> {
  private readonly udp: UdpTransport
  private readonly tcp: TcpTransport
  private readonly tls: TcpTransport | undefined
  /** by protocol and connection key ("TLS|addr:port") */
  private readonly framers = new Map<string, StreamFramer>()
  /** Stream connection per flow holder (a dialog id), so a release unpins what was pinned. */
  private readonly flows = new Map<string, { stream: TcpTransport; key: string }>()
  udpPort = 0
  tcpPort = 0
  tlsPort = 0

  constructor(
    readonly host: string,
    port: number,
    private readonly logger: Logger,
    private readonly stats: SipStats = NO_STATS,
    tcpOptions: Partial<TcpOptions> = {},
    tlsListen?: TlsListen,
  ) {
    super()
    this.udp = new UdpTransport(host, port, (buf, address, p) => this.onOutcome(parseDatagram(buf), { protocol: 'UDP', address, port: p }))
    this.tcp = new TcpTransport(
      host,
      port,
      {
        onData: (key, chunk, address, p) => this.framerFor(key, { protocol: 'TCP', address, port: p }).push(chunk),
        onClose: (key) => this.framers.delete(`TCP|${key}`),
        onUnreachable: (address, p, reason) => this.emit('unreachable', { protocol: 'TCP', address, port: p }, reason),
        onClosedByUs: (reason) => {
          this.stats.tcpClosed?.(reason)
          // idle closes are routine; refusals over a cap are worth seeing (counted either way)
          this.logger[reason === 'idle' ? 'debug' : 'info']({ reason, open: this.tcp.size }, 'SIP TCP connection closed')
        },
      },
      tcpOptions,
    )
    if (tlsListen) {
      this.tls = new TcpTransport(
        host,
        tlsListen.port,
        {
          onData: (key, chunk, address, p) => this.framerFor(key, { protocol: 'TLS', address, port: p }).push(chunk),
          onClose: (key) => this.framers.delete(`TLS|${key}`),
          onUnreachable: (address, p, reason) => this.emit('unreachable', { protocol: 'TLS', address, port: p }, reason),
          onClosedByUs: (reason) => this.stats.tcpClosed?.(reason),
        },
        tcpOptions,
        tlsListen,
      )
    }
  }

  /** The TCP-like transport of a stream protocol. */
  private stream(protocol: Remote['protocol']): TcpTransport | undefined {
    return protocol === 'TLS' ? this.tls : protocol === 'TCP' ? this.tcp : undefined
  }

  /** The TLS certificate and key changed on disk. */
  setTlsCredentials(credentials: TlsCredentials): void {
    this.tls?.setCredentials(credentials)
  }

  async listen(): Promise<void> {
    // TCP on the same port number as UDP, as SIP_PORT promises both. With port 0 the number UDP
    // got may be taken for TCP (an outgoing connection's ephemeral port): then UDP tries another.
    for (let attempt = 1; ; attempt++) {
      this.udpPort = await this.udp.listen()
      try {
        this.tcpPort = await this.tcp.listen(this.udpPort)
        break
      } catch (err) {
        await this.udp.close()
        if (!this.udp.ephemeral || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt === 5) throw err
      }
    }
    if (this.tls) this.tlsPort = await this.tls.listen()
  }

  private framerFor(connection: string, remote: Remote): StreamFramer {
    const key = `${remote.protocol}|${connection}`
    const stream = this.stream(remote.protocol)!
    let framer = this.framers.get(key)
    if (!framer) {
      framer = new StreamFramer(
        (outcome) => this.onOutcome(outcome, remote),
        (outcome) => {
          // A TCP framing error cannot be resynchronised: answer if we can, then close.
          this.onOutcome(outcome, remote)
          stream.drop(connection)
        },
        () => stream.send(CRLF, remote.address, remote.port), // RFC 5626 §3.5.1 pong
      )
      this.framers.set(key, framer)
    }
    return framer
  }

  private onOutcome(outcome: ParseOutcome, remote: Remote): void {
    switch (outcome.kind) {
      case 'message':
        return this.deliver(outcome.message, remote)
      case 'reject':
        this.stats.malformed('rejected', outcome.reason)
        this.logger.warn({ remote, reason: outcome.reason, status: outcome.status }, 'malformed SIP request rejected')
        this.send(
          makeResponse(
            outcome.request,
            outcome.status,
            undefined,
            { Warning: `399 - "${outcome.reason.replace(/"/g, "'")}"` },
            { toTag: statelessTag(outcome.request) },
          ),
          remote,
        )
        return
      case 'drop':
        this.stats.malformed('dropped', outcome.reason)
        this.logger.warn({ remote, reason: outcome.reason }, 'malformed SIP message dropped')
    }
  }

  private deliver(m: SipMessage, remote: Remote): void {
    this.stats.messageIn(messageKind(m))
    if (isRequest(m)) {
      // RFC 3261 §18.2.1 and RFC 3581: note where the request really came from, so
      // responses (which copy the Via) document the path and we answer to the source.
      const via = m.headers.via[0]
      if (via.host !== remote.address) via.params.received = remote.address
      if ('rport' in via.params) via.params.rport = String(remote.port)
      this.emit('request', m, remote)
    } else {
      this.emit('response', m, remote)
    }
  }

  /** Responses go to the request's source address and port, never to a resolved Via host. */
  send(m: SipMessage, remote: Remote): void {
    let buf: Buffer
    try {
      buf = serialize(m)
    } catch (err) {
      this.logger.error({ err, remote }, 'could not serialise SIP message')
      return
    }
    this.stats.messageOut(messageKind(m))
    const stream = this.stream(remote.protocol)
    if (stream) stream.send(buf, remote.address, remote.port, remote.serverName)
    else if (remote.protocol === 'UDP') this.udp.send(buf, remote.address, remote.port)
  }

  /** `holder` (a dialog) uses `remote` as its flow: over TCP that connection is kept open
   *  until `releaseFlow(holder)`, however long it stays quiet. */
  holdFlow(holder: string, remote: Remote): void {
    const stream = this.stream(remote.protocol)
    if (!stream || this.flows.has(holder)) return
    const key = `${remote.address}:${remote.port}`
    this.flows.set(holder, { stream, key })
    stream.pin(key)
  }

  releaseFlow(holder: string): void {
    const flow = this.flows.get(holder)
    if (flow === undefined) return
    this.flows.delete(holder)
    flow.stream.unpin(flow.key)
  }

  async close(): Promise<void> {
    await Promise.all([this.udp.close(), this.tcp.close(), this.tls?.close()])
  }
}

/** A To tag for a stateless 400/505 (RFC 3261 §8.2.6.2): derived from the request, so a
 *  retransmission gets the same tag without keeping state. */
function statelessTag(rq: RejectedRequest): string {
  const h = rq.headers
  return createHash('sha1')
    .update(`${h['call-id'] ?? ''}|${h.from?.params?.tag ?? ''}|${h.cseq?.seq}|${h.via[0]?.params?.branch ?? ''}`)
    .digest('hex')
    .slice(0, 12)
}
