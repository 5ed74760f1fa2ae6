import type { Logger } from 'pino'
import { DrachtioCallControl } from '../sip/drachtio/drachtio-call-control.ts'
import type { RegistrationUa } from '../sip/registration/registrar-client.ts'
import type { InboundGate } from '../sip/security/inbound-gate.ts'
import type { SipStats } from '../sip/transport/stats.ts'
import { DEFAULT_TIMERS } from '../sip/transaction/timers.ts'
import type { OutboundGuard } from '../sip/trunks/outbound-guard.ts'
import type { CallControl } from '../sip/ua/call-control.ts'
import { EmbeddedCallControl } from '../sip/ua/embedded-call-control.ts'
import type { Config } from './config.ts'

export interface SipBackend {
  sip: CallControl
  /** What sends the REGISTERs of the trunks that ask for it. */
  registrar?: RegistrationUa
}

/** The SIP side SIP_BACKEND names: the embedded stack (default) or drachtio-server through drachtio-srf. */
export function createSipBackend(config: Config, deps: { gate: InboundGate; outbound: OutboundGuard; logger: Logger; stats: SipStats }): SipBackend {
  const logger = deps.logger.child({ component: 'sip', backend: config.sipBackend })
  if (config.sipBackend === 'drachtio') {
    const { host, port, secret } = config.drachtio
    if (config.sip.tls.port > 0) logger.warn('SIP_BACKEND=drachtio: SIP_TLS_PORT is ignored, TLS is configured in drachtio-server')
    const sip = new DrachtioCallControl({
      host,
      port,
      secret,
      publicHost: config.publicIp,
      logger,
      gate: deps.gate,
      outbound: deps.outbound,
      stats: deps.stats,
      ...(config.mediaBackend === 'freeswitch' && {
        freeswitch: {
          ...config.freeswitch,
          // where FreeSWITCH connects back for each endpoint (fsmrf's outbound ESL server)
          callbackAddress: isLoopback(config.freeswitch.host) ? '127.0.0.1' : config.publicIp,
        },
      }),
    })
    return { sip, registrar: sip }
  }
  const sip = new EmbeddedCallControl({
    gate: deps.gate,
    host: config.sip.host,
    port: config.sip.port,
    publicHost: config.publicIp,
    logger,
    stats: deps.stats,
    timers: { ...DEFAULT_TIMERS, T1: config.sip.t1Ms },
    sessionTimer: { expiresS: config.sip.sessionExpiresS, minSeS: config.sip.minSeS },
    tcp: { idleTimeoutMs: config.sip.tcp.idleTimeoutS * 1000, maxConnections: config.sip.tcp.maxConnections, maxPerSource: config.sip.tcp.maxPerSource },
    ...(config.sip.tls.port > 0 && {
      tls: {
        port: config.sip.tls.port,
        certFile: config.sip.tls.cert,
        keyFile: config.sip.tls.key,
        caFile: config.sip.tls.ca || undefined,
        verifyClient: config.sip.tls.verifyClient === 'required',
      },
    }),
    outbound: deps.outbound,
  })
  return { sip, registrar: sip }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.')
}
