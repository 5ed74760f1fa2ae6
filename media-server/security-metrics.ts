import client from 'prom-client'
import type { InboundStats } from '../sip/security/inbound-gate.ts'

/** The edge's counters: what the SIP gate dropped or refused, what the HTTP guard refused, the drain. */
export class SecurityMetrics {
  readonly scannerDropped: client.Counter
  readonly rateLimited: client.Counter<'action'>
  readonly bannedSources: client.Gauge
  readonly authFailures: client.Counter<'reason'>
  readonly refused: client.Counter<'reason'>
  readonly httpRefused: client.Counter<'reason'>
  readonly draining: client.Gauge

  constructor(registry: client.Registry, bannedNow: () => number) {
    const registers = [registry]
    this.scannerDropped = new client.Counter({
      name: 'voice_sip_scanner_dropped_total',
      help: 'SIP requests from known scanner User-Agents, dropped without an answer',
      registers,
    })
    this.rateLimited = new client.Counter({
      name: 'voice_sip_rate_limited_total',
      help: 'Per-source SIP rate limit: sources banned (banned) and their requests dropped meanwhile (dropped)',
      labelNames: ['action'],
      registers,
    })
    this.bannedSources = new client.Gauge({
      name: 'voice_sip_banned_sources',
      help: 'Source addresses banned by the SIP rate limit right now',
      registers,
      collect() {
        this.set(bannedNow())
      },
    })
    this.authFailures = new client.Counter({
      name: 'voice_sip_auth_failures_total',
      help: 'Inbound SIP digest authentication failures, by reason (bad-response, unknown-user, stale, replay, bad-nonce, malformed, unsupported)',
      labelNames: ['reason'],
      registers,
    })
    this.refused = new client.Counter({
      name: 'voice_sip_inbound_refused_total',
      help: 'Inbound SIP requests refused: untrusted (403), call_limit_source and call_limit_total (503), draining (503, INVITE and OPTIONS), at_capacity (503 to OPTIONS: no call or RTP port free)',
      labelNames: ['reason'],
      registers,
    })
    this.httpRefused = new client.Counter({
      name: 'voice_http_refused_total',
      help: 'HTTP requests refused: no_token and bad_token (401), not_loopback (403), body_too_large (413)',
      labelNames: ['reason'],
      registers,
    })
    this.draining = new client.Gauge({ name: 'voice_draining', help: '1 while the server drains (no new calls, live ones finish)', registers })
  }

  inbound(): InboundStats {
    return {
      scannerDropped: () => this.scannerDropped.inc(),
      rateLimited: (action) => this.rateLimited.labels(action).inc(),
      authFailure: (reason) => this.authFailures.labels(reason).inc(),
      refused: (reason) => this.refused.labels(reason).inc(),
    }
  }
}
