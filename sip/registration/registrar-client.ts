// REGISTER with a trunk's registrar (RFC 3261 §10.2): digest auth, refresh before the granted
// expiry, and after a failure a new try with exponential backoff, so a carrier outage or a
// wrong password neither floods the registrar nor leaves the trunk unregistered for good.
import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { DigestSession } from '../auth/digest.ts'
import type { NameAddr, Remote, SipRequest, SipResponse } from '../message/types.ts'
import { hostForUri, localPort, newBranch, newTag, type LocalAddress } from '../dialog/dialog.ts'
import { resolveRemote, trunkProtocol, type TrunkConfig } from '../trunks/trunk.ts'

export type RegistrationState = 'unregistered' | 'registering' | 'registered' | 'failed'

/** Why an attempt failed, as counted in voice_trunk_registrations_total{result}. */
export type RegistrationResult = 'ok' | 'auth_failed' | 'timeout' | 'rejected' | 'unresolved'

export interface RegistrationStatus {
  trunk: string
  state: RegistrationState
  aor: string
  registrar: string
  /** Seconds the registrar granted on the last success. */
  expiresS?: number
  registeredAt?: string
  /** When the next REGISTER goes: the refresh, or the retry after a failure. */
  nextAttemptAt?: string
  /** Failures since the last success. */
  failures: number
  lastStatus?: number
  lastError?: string
}

/** What the client needs of the user agent: our address and non-INVITE client transactions. */
export interface RegistrationUa {
  readonly local: LocalAddress
  request(rq: SipRequest, remote: Remote): Promise<SipResponse | 'timeout'>
}

export interface RegistrarClientOptions {
  trunk: TrunkConfig
  ua: RegistrationUa
  logger: Logger
  /** First retry after a failure; doubles per failure up to backoffMaxMs (default 5 s .. 5 min). */
  backoffMinMs?: number
  backoffMaxMs?: number
  /** Refresh at this share of the granted expiry (default 0.6; RFC 3261 leaves it to us). */
  refreshRatio?: number
  /** Where REGISTER goes: the outbound proxy or the registrar, resolved by the system resolver. */
  resolve?: (hostPort: string, protocol: Remote['protocol']) => Promise<Remote>
  onResult?: (result: RegistrationResult) => void
}

export class RegistrarClient extends EventEmitter<{ state: [RegistrationStatus] }> {
  private readonly trunk: TrunkConfig
  private readonly log: Logger
  private readonly digest: DigestSession
  private readonly callId: string
  private readonly fromTag = newTag()
  private cseq = 0
  private expires: number
  private timer: NodeJS.Timeout | undefined
  private stopped = true
  private running: Promise<void> | undefined
  private remote: Remote | undefined
  private readonly st: RegistrationStatus

  constructor(private readonly opts: RegistrarClientOptions) {
    super()
    this.trunk = opts.trunk
    this.expires = opts.trunk.expires
    this.digest = new DigestSession({ username: opts.trunk.username, password: opts.trunk.password }, opts.trunk.realm)
    // One Call-ID for every REGISTER of this boot (RFC 3261 §10.2), so refreshes replace, not add.
    this.callId = `${randomBytes(8).toString('hex')}@${hostForUri(opts.ua.local.host)}`
    this.log = opts.logger.child({ trunk: opts.trunk.name })
    this.st = { trunk: opts.trunk.name, state: 'unregistered', aor: this.aor, registrar: `${this.trunk.host}:${this.trunk.port}`, failures: 0 }
  }

  private get aor(): string {
    return `sip:${this.trunk.username}@${this.trunk.domain}`
  }

  status(): RegistrationStatus {
    return { ...this.st }
  }

  start(): void {
    if (!this.stopped) return
    this.stopped = false
    this.schedule(0)
  }

  /** Stops refreshing; when registered, removes our binding (Expires: 0), waiting at most `waitMs`. */
  async stop(waitMs = 2000): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    await this.running
    if (this.st.state !== 'registered' || !this.remote) return this.set({ state: 'unregistered' })
    const remote = this.remote
    const unregister = async () => {
      let auth = this.digest.preemptive('REGISTER', this.requestUri)
      for (let round = 0; round < 2; round++) {
        const res = await this.opts.ua.request(this.build(0, auth), remote)
        if (res === 'timeout' || (res.status !== 401 && res.status !== 407)) return
        auth = this.digest.answer(res, 'REGISTER', this.requestUri, false)
        if (!auth) return
      }
    }
    await Promise.race([unregister(), new Promise((r) => setTimeout(r, waitMs).unref())])
    this.set({ state: 'unregistered', nextAttemptAt: undefined })
    this.log.info('unregistered')
  }

  private get requestUri(): string {
    return `sip:${this.trunk.domain}${this.trunk.domain === this.trunk.host && this.trunk.port !== 5060 ? `:${this.trunk.port}` : ''}`
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer)
    if (this.stopped) return
    this.timer = setTimeout(() => {
      this.running = this.attempt()
        .catch((err) => this.failed('rejected', (err as Error).message))
        .finally(() => {
          this.running = undefined
        })
    }, ms)
    this.set({ nextAttemptAt: new Date(Date.now() + ms).toISOString() })
  }

  private set(patch: Partial<RegistrationStatus>): void {
    Object.assign(this.st, patch)
    this.emit('state', this.status())
  }

  private build(expires: number, auth: ReturnType<DigestSession['answer']>): SipRequest {
    const local = this.opts.ua.local
    const host = hostForUri(local.host)
    const protocol = trunkProtocol(this.trunk)
    const port = localPort(local, protocol)
    const contact: NameAddr = {
      uri: `sip:${this.trunk.username}@${host}:${port}${protocol === 'UDP' ? '' : `;transport=${protocol.toLowerCase()}`}`,
      params: {},
    }
    const headers: SipRequest['headers'] = {
      via: [{ version: '2.0', protocol, host, port, params: { branch: newBranch(), rport: null } }],
      'max-forwards': '70',
      from: { uri: this.aor, params: { tag: this.fromTag } },
      to: { uri: this.aor, params: {} },
      'call-id': this.callId,
      cseq: { seq: ++this.cseq, method: 'REGISTER' },
      contact: [contact],
      expires: String(expires),
      'user-agent': 'voice-sales-agent',
    }
    // The outbound proxy as a pre-loaded route (RFC 3261 §8.1.2), loose routing.
    if (this.trunk.outboundProxy) headers.route = [{ uri: `sip:${this.trunk.outboundProxy};lr`, params: {} }]
    if (auth) headers[auth.name] = [auth.value]
    return { method: 'REGISTER', uri: this.requestUri, version: '2.0', headers, content: '' }
  }

  private async attempt(): Promise<void> {
    if (this.stopped) return
    this.set({ state: 'registering', nextAttemptAt: undefined })
    const protocol = trunkProtocol(this.trunk)
    try {
      this.remote = await (this.opts.resolve ?? resolveRemote)(this.trunk.outboundProxy || `${this.trunk.host}:${this.trunk.port}`, protocol)
    } catch (err) {
      return this.failed('unresolved', `cannot resolve the registrar: ${(err as Error).message}`)
    }
    let auth = this.digest.preemptive('REGISTER', this.requestUri)
    let answered = false
    let briefRetried = false
    // Two challenges at most: the first, and one more when the nonce went stale meanwhile.
    for (let round = 0; round < 4; round++) {
      const res = await this.opts.ua.request(this.build(this.expires, auth), this.remote)
      if (this.stopped) return
      if (res === 'timeout') return this.failed('timeout', 'no response from the registrar', undefined)
      if (res.status === 401 || res.status === 407) {
        auth = this.digest.answer(res, 'REGISTER', this.requestUri, answered)
        if (!auth)
          return this.failed(
            'auth_failed',
            answered ? 'the registrar refused our credentials' : 'no digest challenge we can answer (or another realm)',
            res.status,
          )
        answered = true
        continue
      }
      if (res.status === 423 && !briefRetried) {
        // Interval Too Brief: ask again for what the registrar says is its minimum (§10.2.8).
        const min = Number(res.headers['min-expires'])
        if (Number.isInteger(min) && min > this.expires && min <= 86400) {
          this.log.info({ asked: this.expires, minExpires: min }, 'registrar wants a longer expiry')
          this.expires = min
          briefRetried = true
          continue
        }
      }
      if (res.status >= 200 && res.status < 300) return this.registered(res)
      return this.failed('rejected', `${res.status} ${res.reason}`.trim(), res.status)
    }
    return this.failed('auth_failed', 'challenged again and again', undefined)
  }

  private registered(res: SipResponse): void {
    const granted = grantedExpiry(res, this.expires, localPort(this.opts.ua.local, trunkProtocol(this.trunk)))
    const refreshMs = Math.max(1000, Math.floor(granted * 1000 * (this.opts.refreshRatio ?? 0.6)))
    const first = this.st.state !== 'registered' || this.st.failures > 0
    this.set({ state: 'registered', expiresS: granted, registeredAt: new Date().toISOString(), failures: 0, lastStatus: res.status, lastError: undefined })
    this.opts.onResult?.('ok')
    if (first) this.log.info({ registrar: this.remote, granted }, 'registered')
    else this.log.debug({ granted }, 'registration refreshed')
    this.schedule(refreshMs)
  }

  private failed(result: Exclude<RegistrationResult, 'ok'>, reason: string, status?: number): void {
    const failures = this.st.failures + 1
    const min = this.opts.backoffMinMs ?? 5000
    const max = this.opts.backoffMaxMs ?? 300_000
    // Doubling, capped, with +-20% jitter so a fleet restarted together does not retry together.
    const delay = Math.round(Math.min(max, min * 2 ** Math.min(30, failures - 1)) * (0.8 + Math.random() * 0.4))
    this.set({ state: 'failed', failures, lastStatus: status, lastError: reason })
    this.opts.onResult?.(result)
    this.log.warn({ result, status, reason, failures, retryInMs: delay }, 'registration failed')
    this.schedule(delay)
  }
}

/** The expiry the registrar granted our binding: the Contact's expires, else Expires, else what we asked. */
export function grantedExpiry(res: SipResponse, asked: number, ourPort: number): number {
  const contacts = Array.isArray(res.headers.contact) ? res.headers.contact : []
  // Other bindings of the AOR may be listed too (§10.3 step 8): ours is the one on our port.
  const ours = contacts.find((c) => new RegExp(`:${ourPort}(?:[;>]|$)`).test(c.uri)) ?? (contacts.length === 1 ? contacts[0] : undefined)
  const fromContact = Number(ours?.params.expires)
  if (Number.isInteger(fromContact) && fromContact > 0) return fromContact
  const header = Number(res.headers.expires)
  if (Number.isInteger(header) && header > 0) return header
  return asked
}
