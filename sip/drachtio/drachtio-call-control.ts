import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import Srf from 'drachtio-srf'
import { FreeswitchMedia, type FreeswitchConfig } from './freeswitch-media.ts'
import type { LocalAddress } from '../dialog/dialog.ts'
import type { Remote, SipRequest, SipResponse } from '../message/types.ts'
import type { RegistrationUa } from '../registration/registrar-client.ts'
import { NO_STATS, type SipStats } from '../transport/stats.ts'
import type { GateRefusal, InboundGate } from '../security/inbound-gate.ts'
import type { OutboundGuard } from '../trunks/outbound-guard.ts'
import type { TrunkConfig } from '../trunks/trunk.ts'
import { fromUserOf, trunkUser } from '../trunks/trunk-route.ts'
import { DialError, offerFor, type CallControl, type CallControlEvents, type DialOptions, type OutboundCall } from '../ua/call-control.ts'
import { ALLOW, checkRequest } from '../ua/uas-checks.ts'
import { DRACHTIO_SUPPORTED, DrachtioInboundCall, MEDIA_RETRY_AFTER_S } from './drachtio-inbound-call.ts'
import { DrachtioOutboundCall } from './drachtio-outbound-call.ts'
import { challengeHeader, remoteOf, sipErrorStatus, toSipRequest } from './srf-message.ts'
import { requestOutsideDialog } from './srf-out-of-dialog.ts'

/** Out-of-dialog methods we answer as the embedded stack does (405/481 included); CANCEL and ACK drachtio-server handles. */
const ROUTED_METHODS = ['invite', 'options', 'bye', 'info', 'notify', 'update', 'prack', 'refer', 'register', 'message', 'subscribe', 'publish']

export interface DrachtioCallControlOptions {
  /** drachtio-server's admin (inbound connection) address and its shared secret. */
  host: string
  port: number
  secret: string
  /** The address written into From of the calls we place. */
  publicHost: string
  logger: Logger
  /** Inbound trust, scanner and flood screening, call limits, drain (sip/security/). */
  gate?: InboundGate
  /** The toll-fraud guard every dial passes first, and the trunks it routes to; none: any URI. */
  outbound?: OutboundGuard
  /** Counts the requests that reach us outside a dialog (drachtio-server's own traffic it counts itself). */
  stats?: SipStats
  /** How long start() waits for drachtio-server to take the connection (default 10 s). */
  connectTimeoutMs?: number
  /** MEDIA_BACKEND=freeswitch: every call's media is anchored in this FreeSWITCH (freeswitch-media.ts) */
  freeswitch?: FreeswitchConfig
}

/**
 * `CallControl` on drachtio-srf: drachtio-server in front speaks SIP on the wire (transports,
 * transactions, dialogs); this side screens each new request with the same SIP edge as the
 * embedded stack and hands calls out as `InboundCall`s. Media stays ours: the SDP is ours.
 */
export class DrachtioCallControl extends EventEmitter<CallControlEvents> implements CallControl, RegistrationUa {
  private readonly srf = new Srf()
  private media: FreeswitchMedia | undefined
  private readonly log: Logger
  private sipAddress = { host: '', port: 0 }
  private readonly calls = new Set<DrachtioInboundCall>()
  private readonly outCalls = new Set<OutboundCall>()
  /** INVITEs we sent that are still ringing: stop() cancels them. */
  private readonly pendingDials = new Set<Srf.SrfRequest>()

  constructor(private readonly opts: DrachtioCallControlOptions) {
    super()
    this.log = opts.logger
    this.srf.on('error', (err) => this.log.error({ err: err.message }, 'drachtio-server connection error (drachtio-srf reconnects)'))
    // After drachtio-srf's own dialog router: what reaches this is a new request, or one for a dialog it does not know.
    // drachtio-server sends an app only the methods it asked for (others get its own 503): every one the embedded stack answers.
    for (const method of ROUTED_METHODS) this.srf.use(method, (req, res) => this.guard(() => this.onRequest(req, res), req))
  }

  get address(): { host: string; port: number } {
    return this.sipAddress
  }

  /** RegistrationUa: the Contact of a trunk's REGISTER is drachtio-server's SIP port at our public address. */
  get local(): LocalAddress {
    return { host: this.opts.publicHost, port: this.sipAddress.port }
  }

  /** RegistrationUa: a REGISTER (built and authenticated by the REGISTER client) through drachtio-server. */
  request(rq: SipRequest, remote: Remote): Promise<SipResponse | 'timeout'> {
    return requestOutsideDialog(this.srf, rq, remote)
  }

  async start(): Promise<void> {
    const { host, port, secret } = this.opts
    const ms = this.opts.connectTimeoutMs ?? 10_000
    const hostport = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.srf.disconnect()
        reject(
          new Error(`drachtio-server at ${host}:${port} did not take our connection within ${ms / 1000} s (is it running? is DRACHTIO_SECRET its secret?)`),
        )
      }, ms)
      this.srf.once('connect', (err: Error | null, hp: string) => {
        clearTimeout(timer)
        if (!err) return resolve(hp)
        // drachtio-srf would go on retrying with the same secret
        this.srf.disconnect()
        reject(new Error(`drachtio-server at ${host}:${port}: ${err.message} (DRACHTIO_SECRET must be the secret of its <admin> element)`))
      })
      void this.srf.connect({ host, port, secret })
    })
    this.sipAddress = sipEndpoint(hostport)
    this.log.info({ drachtio: `${host}:${port}`, sip: hostport }, 'connected to drachtio-server')
    if (this.opts.freeswitch) this.media = await FreeswitchMedia.connect(this.srf, this.opts.freeswitch, this.log.child({ component: 'freeswitch' }))
  }

  async stop(): Promise<void> {
    for (const req of this.pendingDials) req.cancel(() => {})
    await Promise.allSettled([...this.calls, ...this.outCalls].map((c) => c.hangup()))
    this.media?.close()
    this.srf.disconnect()
  }

  /** One bad message must never take the process down with it. */
  private guard(fn: () => void, req: Srf.SrfRequest): void {
    try {
      fn()
    } catch (err) {
      this.log.error({ err, callId: req.get('Call-ID') }, 'error while handling a SIP request from drachtio-server')
    }
  }

  private onRequest(req: Srf.SrfRequest, res: Srf.SrfResponse): void {
    if (req.method === 'ACK') return
    const stats = this.opts.stats ?? NO_STATS
    stats.messageIn(req.method)
    const rq = toSipRequest(req)
    if (!rq) {
      stats.malformed('rejected', 'drachtio-server passed a request our parser refuses')
      return res.send(400)
    }
    const remote = remoteOf(req)
    const gate = this.opts.gate
    // drachtio-server has created a transaction already; a dropped request costs it that, and the scanner learns nothing
    if (gate && !gate.screen(rq, remote)) return
    const toTag = rq.headers.to.params.tag
    // Trust before the method checks, so an untrusted source learns nothing from a 405.
    const denied = toTag ? null : gate?.authorize(rq, remote)
    if (denied) return sendRefusal(res, denied)
    // FreeSWITCH away: a dispatcher probing with OPTIONS sends elsewhere, a caller is told when to come back
    if (!toTag && this.media && !this.media.available && (rq.method === 'INVITE' || rq.method === 'OPTIONS'))
      return sendRefusal(res, { status: 503, reason: 'Media Server Unavailable', headers: { 'Retry-After': String(MEDIA_RETRY_AFTER_S) } })
    const refusal = checkRequest(rq)
    if (refusal) return sendRefusal(res, refusal)
    if (toTag) return this.inEarlyDialog(rq, res)
    switch (rq.method) {
      case 'INVITE':
        return this.onInvite(req, res, rq)
      case 'OPTIONS':
        return res.send(200, { headers: { Allow: ALLOW, Supported: DRACHTIO_SUPPORTED, Accept: 'application/sdp', 'Accept-Language': 'ru, en' } })
      default:
        // BYE, INFO outside any dialog
        return res.send(481)
    }
  }

  /** A request with a To tag drachtio-srf knows no dialog for: a PRACK of a call not yet answered, else 481. */
  private inEarlyDialog(rq: SipRequest, res: Srf.SrfResponse): void {
    const call = rq.method === 'PRACK' ? [...this.calls].find((c) => c.sipCallId === rq.headers['call-id']) : undefined
    if (call) return call.prack(res)
    res.send(481)
  }

  private onInvite(req: Srf.SrfRequest, res: Srf.SrfResponse, rq: SipRequest): void {
    const remote = remoteOf(req)
    const limited = this.opts.gate?.admitCall(rq, remote)
    if (limited) return sendRefusal(res, limited)
    const call = new DrachtioInboundCall(this.srf, req, res, rq, remote, (target, opts) => this.dial(target, opts), this.log, this.media)
    this.calls.add(call)
    const fromTag = rq.headers.from.params.tag ?? ''
    call.once('ended', () => {
      this.calls.delete(call)
      this.opts.gate?.callEnded(call.sipCallId, fromTag)
    })
    if (this.listenerCount('call') === 0) return call.reject(480)
    this.emit('call', call)
  }

  /**
   * Places a call to a sip: URI through drachtio-server. With a guard, the guard decides first,
   * and a URI naming a trunk goes through that trunk (its proxy, identity and credentials).
   */
  async dial(target: string, opts: DialOptions): Promise<OutboundCall> {
    const decision = this.opts.outbound?.check(target, opts.trunk)
    if (decision && !decision.ok) throw new DialError('refused', `outbound call to ${decision.number} refused: ${decision.message}`, false, decision.reason)
    const release = decision?.ok ? decision.release : () => {}
    const trunk = decision?.ok ? decision.trunk : undefined
    let sdp: string
    try {
      sdp = offerFor(opts.sdp, trunk)
    } catch (err) {
      release()
      throw err
    }
    let invite: Srf.SrfRequest | undefined
    let timedOut = false
    const ringMs = opts.ringTimeoutMs ?? 60_000
    const timer = setTimeout(() => {
      timedOut = true
      invite?.cancel(() => {})
    }, ringMs)
    const abort = () => invite?.cancel(() => {})
    opts.signal?.addEventListener('abort', abort, { once: true })
    try {
      const dialog = await this.srf.createUAC(
        target,
        { localSdp: sdp, ...uacRoute(trunk, fromUserOf(trunkUser(trunk), opts), this.opts.publicHost) },
        {
          // drachtio-srf calls it (err, req), not (req) as its typings say
          cbRequest: ((err: unknown, r: Srf.SrfRequest | undefined) => {
            if (err || !r) return
            invite = r
            this.pendingDials.add(r)
            opts.onInvite?.(r.get('Call-ID'))
            if (opts.signal?.aborted) abort()
          }) as unknown as (req: Srf.SrfRequest) => void,
          cbProvisional: (res: Srf.SrfResponse) => {
            if (res.status > 100) opts.onProgress?.(res.status, res.body || undefined)
          },
        },
      )
      const res = (dialog as unknown as { res: Srf.SrfRequest }).res
      const call = new DrachtioOutboundCall(dialog, target, remoteOf(res), this.log)
      this.outCalls.add(call)
      call.once('ended', () => {
        this.outCalls.delete(call)
        release()
      })
      return call
    } catch (err) {
      release()
      const status = sipErrorStatus(err)
      if (timedOut) throw new DialError(status === 487 ? 'cancelled' : 'timeout', `no answer from ${target} within ${ringMs} ms`, true)
      if (status === 487) throw new DialError('cancelled', `the call to ${target} was cancelled`)
      // worded as the embedded stack words it: the record's end reason is "<status> <reason phrase>"
      if (status !== undefined) throw new DialError(status, `${target} answered ${status} ${(err as { reason?: string }).reason ?? ''}`.trimEnd())
      throw new DialError('timeout', `the call to ${target} failed: ${(err as Error).message}`)
    } finally {
      clearTimeout(timer)
      opts.signal?.removeEventListener('abort', abort)
      if (invite) this.pendingDials.delete(invite)
    }
  }
}

function sendRefusal(res: Srf.SrfResponse, r: GateRefusal): void {
  const headers = { ...r.headers, ...(r.challenge && { 'WWW-Authenticate': challengeHeader(r.challenge) }) }
  if (r.reason) res.send(r.status, r.reason, { headers })
  else res.send(r.status, { headers })
}

/** The first SIP endpoint drachtio-server reports ("udp/127.0.0.1:5090,tcp/127.0.0.1:5090"). */
function sipEndpoint(hostport: string): { host: string; port: number } {
  for (const hp of hostport.split(',')) {
    const m = /^(?:[a-z]+\/)?\[?([^\]]+?)\]?:(\d+)$/i.exec(hp.trim())
    if (m) return { host: m[1], port: Number(m[2]) }
  }
  return { host: '', port: 0 }
}

/** From (and P-Asserted-Identity), proxy and credentials of an INVITE through a trunk; without one, from us. */
function uacRoute(trunk: TrunkConfig | undefined, fromUser: string, publicHost: string): Pick<Srf.CreateUACOptions, 'headers' | 'proxy' | 'auth'> {
  if (!trunk) return { headers: { From: `<sip:${fromUser}@${publicHost}>` } }
  const from = `<sip:${fromUser}@${trunk.domain}>`
  return {
    headers: { From: from, 'P-Asserted-Identity': from },
    proxy: `sip:${trunk.outboundProxy || `${trunk.host}:${trunk.port}`}${trunk.transport === 'tcp' ? ';transport=tcp' : ''}`,
    ...(trunk.username && { auth: { username: trunk.username, password: trunk.password } }),
  }
}
