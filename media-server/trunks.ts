// The trunks of the configuration at run time: the toll-fraud guard every dial passes, one
// REGISTER client per registration-based trunk, their state for GET /api/trunks and metrics.
import type client from 'prom-client'
import type { Logger } from 'pino'
import { RegistrarClient, type RegistrationStatus, type RegistrationUa } from '../sip/registration/registrar-client.ts'
import { OutboundGuard } from '../sip/trunks/outbound-guard.ts'
import { transferTargetUri } from '../sip/ua/transfer-target.ts'
import { namedTargets, type Config } from './config.ts'
import { TrunkMetrics } from './trunk-metrics.ts'

export interface TrunkView {
  name: string
  host: string
  transport: string
  domain: string
  callerId: string
  outboundProxy?: string
  /** The prefixes calls through this trunk must match (its own, else OUTBOUND_ALLOW_PREFIXES). */
  allowPrefixes: string[]
  channels: number
  cps: number
  outboundCalls: number
  register: boolean
  registration?: RegistrationStatus
}

export class Trunks {
  readonly guard: OutboundGuard
  private readonly metrics: TrunkMetrics
  private readonly clients = new Map<string, RegistrarClient>()

  constructor(
    private readonly config: Pick<Config, 'trunks' | 'outbound' | 'transfer'>,
    private readonly logger: Logger,
    registry: client.Registry,
  ) {
    this.metrics = new TrunkMetrics(registry, () => config.trunks.map((t) => ({ trunk: t.name, calls: this.guard.liveCalls(t.name) })))
    this.guard = new OutboundGuard({
      trunks: config.trunks,
      allowPrefixes: config.outbound.allowPrefixes,
      maxCallsPerHour: config.outbound.maxCallsPerHour,
      logger: logger.child({ component: 'toll-guard' }),
      onRefused: (reason, trunk) => this.metrics.refused(reason, trunk),
    })
    for (const t of config.trunks) if (t.register) this.metrics.state(t.name, 'unregistered')
  }

  /**
   * Configured transfer targets the guard would refuse. They are refused when dialled (the
   * bridged fallback of a transfer), with a log line and voice_outbound_dials_refused_total;
   * at start they are listed once as a warning, so the operator sees it before the first call.
   */
  checkTransferTargets(): string[] {
    const targets = [this.config.transfer.target, ...Object.values(namedTargets(this.config.transfer.targets))].filter(Boolean)
    const bad: string[] = []
    for (const target of targets) {
      let uri: string
      try {
        uri = transferTargetUri(target, this.config.transfer.domain || undefined)
      } catch {
        continue // the transfer itself reports a target it cannot use
      }
      if (!this.guard.allows(uri)) bad.push(target)
    }
    if (bad.length) {
      this.logger.warn(
        { targets: bad, allowPrefixes: this.config.outbound.allowPrefixes },
        'transfer targets outside the allowed prefixes (OUTBOUND_ALLOW_PREFIXES / trunk allowPrefixes): a REFER to them is still sent, but the server will not dial them itself',
      )
    }
    return bad
  }

  /** Starts registering every trunk that has `register` on. */
  start(ua: RegistrationUa): void {
    for (const trunk of this.config.trunks) {
      if (!trunk.register) continue
      const c = new RegistrarClient({
        trunk,
        ua,
        logger: this.logger.child({ component: 'registration' }),
        onResult: (r) => this.metrics.result(trunk.name, r),
      })
      c.on('state', (s) => this.metrics.state(trunk.name, s.state))
      this.clients.set(trunk.name, c)
      c.start()
    }
  }

  status(): TrunkView[] {
    return this.config.trunks.map((t) => ({
      name: t.name,
      host: `${t.host}:${t.port}`,
      transport: t.transport,
      domain: t.domain,
      callerId: t.callerId,
      ...(t.outboundProxy && { outboundProxy: t.outboundProxy }),
      allowPrefixes: this.guard.prefixesFor(t),
      channels: t.channels,
      cps: t.cps,
      outboundCalls: this.guard.liveCalls(t.name),
      register: t.register,
      ...(this.clients.has(t.name) && { registration: this.clients.get(t.name)!.status() }),
    }))
  }

  /** Unregisters (Expires: 0), a couple of seconds at most, before SIP stops. */
  async stop(): Promise<void> {
    await Promise.allSettled([...this.clients.values()].map((c) => c.stop()))
  }
}
