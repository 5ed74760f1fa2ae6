import { EventEmitter } from 'node:events'
import { readFileSync, unwatchFile, watchFile } from 'node:fs'
import { createSecureContext } from 'node:tls'
import type { Logger } from 'pino'
import { makeResponse } from '../message/serialize.ts'
import type { Remote, SipRequest, SipResponse } from '../message/types.ts'
import { dialogId, newTag, type Dialog, type LocalAddress } from '../dialog/dialog.ts'
import { InviteServerTransaction } from '../transaction/invite-server.ts'
import { NonInviteClientTransaction } from '../transaction/non-invite-client.ts'
import { NonInviteServerTransaction } from '../transaction/non-invite-server.ts'
import { DEFAULT_TIMERS, type SipTimers } from '../transaction/timers.ts'
import { clientTransactionKey, serverTransactionKey } from '../transaction/transaction-key.ts'
import { TransportLayer } from '../transport/transport-layer.ts'
import type { TlsCredentials } from '../transport/tcp.ts'
import type { SipStats } from '../transport/stats.ts'
import { resolveRemote, trunkProtocol } from '../trunks/trunk.ts'
import type { OutboundGuard } from '../trunks/outbound-guard.ts'
import { routeFor } from '../trunks/trunk-route.ts'
import { DialError, offerFor, type CallControl, type CallControlEvents, type DialOptions, type OutboundCall } from './call-control.ts'
import type { GateRefusal, InboundGate } from '../security/inbound-gate.ts'
import { ClientCall } from './client-call.ts'
import { InviteClientTransaction } from './invite-client.ts'
import { ServerCall } from './server-call.ts'
import { uriRemote } from './transfer-target.ts'
import { DEFAULT_SESSION_TIMER, intervalTooSmall, type SessionTimerConfig } from './session-timer.ts'
import { ALLOW, SUPPORTED, checkRequest } from './uas-checks.ts'
import type { DialogUsage, UaContext } from './ua-context.ts'
import type { TcpOptions } from '../transport/tcp-options.ts'

export interface EmbeddedCallControlOptions {
  host: string
  port: number
  /** The address written into Via and Contact. */
  publicHost: string
  logger: Logger
  stats?: SipStats
  timers?: SipTimers
  /** The toll-fraud guard every dial passes first, and the trunks it routes to; none: any URI. */
  outbound?: OutboundGuard
  /** Inbound trust, scanner and flood screening, call limits, drain (sip/security/). */
  gate?: InboundGate
  /** RFC 4028 session timers: the interval we ask for and the least we accept (default 1800 / 90 s). */
  sessionTimer?: SessionTimerConfig
  /** Limits on TCP and TLS connections (idle timeout, caps in total and per source); defaults in tcp-options.ts. */
  tcp?: Partial<TcpOptions>
  /** SIP over TLS on this port (0: any free one) with the certificate and key in these PEM files,
   *  read again when either changes; verifyClient: mutual TLS, a caller must present a certificate
   *  chaining to the system's CAs or caFile. */
  tls?: { port: number; certFile: string; keyFile: string; caFile?: string; verifyClient?: boolean }
}

type ServerTx = InviteServerTransaction | NonInviteServerTransaction

/**
 * The embedded SIP user agent: transports, the transaction tables of RFC 3261 §17,
 * the dialogs, and the UAS core of §8.2. Calls are handed out as `InboundCall`s.
 */
export class EmbeddedCallControl extends EventEmitter<CallControlEvents> implements CallControl, UaContext {
  readonly timers: SipTimers
  readonly sessionTimer: SessionTimerConfig
  readonly logger: Logger
  readonly local: LocalAddress
  private readonly transport: TransportLayer
  private readonly serverTxs = new Map<string, ServerTx>()
  private readonly clientTxs = new Map<string, NonInviteClientTransaction | InviteClientTransaction>()
  /** where each client transaction sends ("TLS|addr:port"), to fail it when that connection cannot be made */
  private readonly clientTxRemote = new Map<string, string>()
  /** Every dialog by id: inbound calls (from their INVITE) and outbound ones (from their 2xx). */
  private readonly calls = new Map<string, DialogUsage>()
  /** Outbound calls still ringing: stop() cancels them. */
  private readonly pendingDials = new Set<ClientCall>()
  private readonly outbound: OutboundGuard | undefined
  private readonly gate?: InboundGate
  private readonly tlsFiles: { certFile: string; keyFile: string } | undefined

  constructor(opts: EmbeddedCallControlOptions) {
    super()
    this.outbound = opts.outbound
    this.timers = opts.timers ?? DEFAULT_TIMERS
    this.sessionTimer = opts.sessionTimer ?? DEFAULT_SESSION_TIMER
    this.logger = opts.logger
    this.local = { host: opts.publicHost, port: opts.port }
    this.gate = opts.gate
    this.tlsFiles = opts.tls
    const tls = opts.tls && {
      port: opts.tls.port,
      credentials: readCredentials(opts.tls),
      ...(opts.tls.caFile && { ca: readFileSync(opts.tls.caFile, 'utf8') }),
      verifyClient: opts.tls.verifyClient,
    }
    this.transport = new TransportLayer(opts.host, opts.port, opts.logger, opts.stats, opts.tcp, tls)
    this.transport.on('request', (rq, remote) => this.guard(() => this.onRequest(rq, remote), rq))
    this.transport.on('response', (res) => this.guard(() => this.onResponse(res), res))
    this.transport.on('unreachable', (remote, reason) => this.onUnreachable(remote, reason))
  }

  get address(): { host: string; port: number; tlsPort?: number } {
    return { host: this.transport.host, port: this.transport.udpPort, ...(this.tlsFiles ? { tlsPort: this.transport.tlsPort } : {}) }
  }

  async start(): Promise<void> {
    await this.transport.listen()
    this.local.port = this.transport.udpPort
    if (this.tlsFiles) {
      this.local.tlsPort = this.transport.tlsPort
      // a renewed certificate (certbot, a PKI agent) is taken without a restart
      for (const file of [this.tlsFiles.certFile, this.tlsFiles.keyFile]) watchFile(file, { interval: 1000 }, this.reloadTls)
    }
  }

  /** The certificate or key file changed: new TLS connections use them; a broken pair is not taken. */
  private readonly reloadTls = (): void => {
    if (!this.tlsFiles) return
    try {
      this.transport.setTlsCredentials(readCredentials(this.tlsFiles))
      this.logger.info({ cert: this.tlsFiles.certFile }, 'SIP TLS certificate reloaded')
    } catch (err) {
      this.logger.error({ err, cert: this.tlsFiles.certFile }, 'SIP TLS certificate not reloaded: keeping the previous one')
    }
  }

  async stop(): Promise<void> {
    if (this.tlsFiles) for (const file of [this.tlsFiles.certFile, this.tlsFiles.keyFile]) unwatchFile(file, this.reloadTls)
    await Promise.allSettled([...this.calls.values(), ...this.pendingDials].map((c) => c.hangup()))
    for (const tx of this.serverTxs.values()) tx.terminate()
    for (const tx of this.clientTxs.values()) tx.terminate()
    await this.transport.close()
  }

  /** One bad message must never take the process down with it. */
  private guard(fn: () => void, m: unknown): void {
    try {
      fn()
    } catch (err) {
      this.logger.error({ err, message: m }, 'error while handling a SIP message')
    }
  }

  // --- UaContext -----------------------------------------------------------------

  send(m: SipRequest | SipResponse, remote: Remote): void {
    this.transport.send(m, remote)
  }

  request(rq: SipRequest, remote: Remote): Promise<SipResponse | 'timeout'> {
    return new Promise((resolve) => {
      const key = clientTransactionKey(rq)
      const tx = new NonInviteClientTransaction(
        rq,
        remote.protocol !== 'UDP',
        this.timers,
        (m) => this.send(m, remote),
        resolve,
        () => this.forgetClientTx(key),
      )
      this.addClientTx(key, tx, remote)
      tx.start()
    })
  }

  invite(rq: SipRequest, remote: Remote, onResponse: (res: SipResponse) => void, onTimeout: () => void): void {
    const key = clientTransactionKey(rq)
    const tx = new InviteClientTransaction(
      rq,
      remote.protocol !== 'UDP',
      this.timers,
      (m) => this.send(m, remote),
      onResponse,
      onTimeout,
      () => this.forgetClientTx(key),
    )
    this.addClientTx(key, tx, remote)
    tx.start()
  }

  private addClientTx(key: string, tx: NonInviteClientTransaction | InviteClientTransaction, remote: Remote): void {
    this.clientTxs.set(key, tx)
    this.clientTxRemote.set(key, remoteKey(remote))
  }

  private forgetClientTx(key: string): void {
    this.clientTxs.delete(key)
    this.clientTxRemote.delete(key)
  }

  /** A TCP or TLS connection we opened failed: every request waiting on it fails now with 503 (RFC 3261 §8.1.3.1). */
  private onUnreachable(remote: Remote, reason: string): void {
    const where = remoteKey(remote)
    this.logger.warn({ remote, reason }, 'SIP connection failed: its requests fail with 503')
    for (const [key, tx] of [...this.clientTxs]) if (this.clientTxRemote.get(key) === where) tx.transportError(`Transport Error (${reason})`)
  }

  /**
   * Places a call to a sip: URI (resolved with the system resolver, port 5060 by default). With
   * a guard, the guard decides first, and a URI naming a trunk goes through that trunk.
   */
  async dial(target: string, opts: DialOptions): Promise<OutboundCall> {
    const decision = await this.outbound?.decide(target, opts.trunk)
    if (decision && !decision.ok) throw new DialError('refused', `outbound call to ${decision.number} refused: ${decision.message}`, false, decision.reason)
    const trunk = decision?.trunk
    const release = decision?.ok ? decision.release : () => {}
    let call: ClientCall | undefined
    try {
      const sdp = offerFor(opts.sdp, trunk)
      const remote = trunk ? await resolveRemote(trunk.outboundProxy || `${trunk.host}:${trunk.port}`, trunkProtocol(trunk)) : await uriRemote(target)
      call = new ClientCall(this, target, remote, { ...opts, sdp }, trunk && routeFor(trunk))
      call.once('ended', release)
      this.pendingDials.add(call)
      await call.start()
    } catch (err) {
      release()
      throw err
    } finally {
      if (call) this.pendingDials.delete(call)
    }
    return call
  }

  dialogCreated(usage: DialogUsage): void {
    this.calls.set(usage.dialog.id, usage)
    this.transport.holdFlow(usage.dialog.id, usage.dialog.remote)
  }

  dialogGone(d: Dialog): void {
    this.calls.delete(d.id)
    this.transport.releaseFlow(d.id)
    this.gate?.callEnded(d.callId, d.remoteTag)
  }

  // --- incoming ------------------------------------------------------------------

  private onResponse(res: SipResponse): void {
    // Responses to nothing we sent (RFC 4475 §3.3.10 among them) are dropped silently.
    this.clientTxs.get(clientTransactionKey(res))?.onResponse(res)
  }

  private onRequest(rq: SipRequest, remote: Remote): void {
    // before any state: scanners and banned sources get no answer and cost no transaction
    if (this.gate && !this.gate.screen(rq, remote)) return
    if (rq.method === 'ACK') return this.onAck(rq)
    const key = serverTransactionKey(rq)
    const existing = this.serverTxs.get(key)
    if (existing) return existing.onRetransmit((res) => this.send(res, remote))

    const reliable = remote.protocol !== 'UDP'
    const send = (res: SipResponse) => this.send(res, remote)
    const forget = () => this.serverTxs.delete(key)
    const tx: ServerTx =
      rq.method === 'INVITE'
        ? new InviteServerTransaction(rq, reliable, this.timers, send, forget)
        : new NonInviteServerTransaction(rq, reliable, this.timers, send, forget)
    this.serverTxs.set(key, tx)

    const toTag = rq.headers.to.params.tag
    // Trust before the method checks, so an untrusted source learns nothing from a 405. In-dialog
    // requests need a dialog, which only an admitted INVITE creates; CANCEL cannot be challenged.
    const denied = toTag || rq.method === 'CANCEL' ? null : this.gate?.authorize(rq, remote)
    if (denied) return tx.respond(gateResponse(rq, denied))
    const refusal = checkRequest(rq)
    if (refusal) return tx.respond(makeResponse(rq, refusal.status, refusal.reason, refusal.headers))
    if (rq.method === 'CANCEL') return this.onCancel(rq, tx)

    if (toTag) {
      const call = this.calls.get(dialogId(rq.headers['call-id'], toTag, rq.headers.from.params.tag ?? ''))
      if (!call) return tx.respond(makeResponse(rq, 481))
      return call.onRequest(rq, tx)
    }
    switch (rq.method) {
      case 'INVITE':
        return this.onInvite(tx as InviteServerTransaction, remote)
      case 'OPTIONS':
        return tx.respond(makeResponse(rq, 200, undefined, { Allow: ALLOW, Supported: SUPPORTED, Accept: 'application/sdp', 'Accept-Language': 'ru, en' }))
      default:
        // BYE, INFO outside any dialog.
        return tx.respond(makeResponse(rq, 481))
    }
  }

  private onInvite(tx: InviteServerTransaction, remote: Remote): void {
    // RFC 4028 §8.1: a session interval below our Min-SE is refused before it costs a call slot
    const minSe = intervalTooSmall(tx.request, this.sessionTimer)
    if (minSe !== undefined) return tx.respond(makeResponse(tx.request, 422, undefined, { 'Min-SE': String(minSe) }, { toTag: newTag() }))
    const limited = this.gate?.admitCall(tx.request, remote)
    if (limited) return tx.respond(gateResponse(tx.request, limited))
    tx.respond(makeResponse(tx.request, 100))
    const call = new ServerCall(this, tx, remote)
    this.dialogCreated(call)
    if (this.listenerCount('call') === 0) return call.reject(480)
    this.emit('call', call)
  }

  /** CANCEL (RFC 3261 §9.2): 200 for the CANCEL when its INVITE is known, 481 otherwise. */
  private onCancel(rq: SipRequest, tx: ServerTx): void {
    const invite = this.serverTxs.get(serverTransactionKey({ ...rq, method: 'INVITE' }))
    if (!(invite instanceof InviteServerTransaction)) return tx.respond(makeResponse(rq, 481))
    tx.respond(makeResponse(rq, 200))
    for (const call of this.calls.values()) {
      if (call instanceof ServerCall && call.sipCallId === rq.headers['call-id'] && call.dialog.remoteTag === (rq.headers.from.params.tag ?? ''))
        call.onCancel()
    }
  }

  private onAck(rq: SipRequest): void {
    const tx = this.serverTxs.get(serverTransactionKey(rq))
    if (tx instanceof InviteServerTransaction && tx.state === 'completed') return tx.onAck()
    const toTag = rq.headers.to.params.tag
    if (!toTag) return
    this.calls.get(dialogId(rq.headers['call-id'], toTag, rq.headers.from.params.tag ?? ''))?.onAck(rq)
  }
}

function readCredentials(files: { certFile: string; keyFile: string }): TlsCredentials {
  const credentials = { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) }
  createSecureContext(credentials) // throws on a key that does not match its certificate
  return credentials
}

function gateResponse(rq: SipRequest, r: GateRefusal): SipResponse {
  const res = makeResponse(rq, r.status, r.reason, r.headers, { toTag: newTag() })
  // the sip package writes WWW-Authenticate from structured values, one header line each
  if (r.challenge) res.headers['www-authenticate'] = r.challenge
  return res
}

function remoteKey(r: Remote): string {
  return `${r.protocol}|${r.address}:${r.port}`
}
