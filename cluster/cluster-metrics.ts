import client from 'prom-client'
import type { AdmitVerdict, DialVerdict } from './types.ts'

/** What the cluster layer exports: Redis reachability, admissions by verdict, shared bans, heartbeats. */
export class ClusterMetrics {
  readonly redisUp: client.Gauge
  readonly admissions: client.Counter<'verdict'>
  readonly dials: client.Counter<'verdict'>
  readonly bans: client.Counter<'direction'>
  readonly heartbeatFailures: client.Counter

  constructor(registry: client.Registry) {
    const registers = [registry]
    this.redisUp = new client.Gauge({
      name: 'voice_cluster_redis_up',
      help: '1 while the connection to REDIS_URL is ready (shared state), 0 while this instance runs on its local state',
      registers,
    })
    this.admissions = new client.Counter({
      name: 'voice_cluster_admissions_total',
      help: 'Cluster-wide admission of inbound calls: ok, total and source (503: SIP_MAX_CALLS, SIP_MAX_CALLS_PER_SOURCE across instances), fallback (Redis did not answer within 100 ms: local limits only)',
      labelNames: ['verdict'],
      registers,
    })
    this.dials = new client.Counter({
      name: 'voice_cluster_dial_admissions_total',
      help: "Cluster-wide admission of outbound calls: ok, hourly_cap, channels, cps (refused: OUTBOUND_MAX_CALLS_PER_HOUR, a trunk's channels or cps across instances), fallback (Redis did not answer within 100 ms: local counts only)",
      labelNames: ['verdict'],
      registers,
    })
    this.bans = new client.Counter({
      name: 'voice_cluster_bans_total',
      help: 'SIP rate-limit bans shared through Redis: sent (made here) and received (made by another instance)',
      labelNames: ['direction'],
      registers,
    })
    this.heartbeatFailures = new client.Counter({
      name: 'voice_cluster_heartbeat_failures_total',
      help: 'Heartbeats (instance record, live calls, slot leases) Redis did not take',
      registers,
    })
  }

  admitted(v: AdmitVerdict): void {
    this.admissions.labels(v).inc()
  }

  dialled(v: DialVerdict): void {
    this.dials.labels(v).inc()
  }
}
