import type { CallSummary } from '../crm/call-store.ts'

/** What an instance says of itself in Redis, renewed with every heartbeat. */
export interface InstanceRecord {
  id: string
  /** SIP address, host:port */
  sip: string
  /** HTTP address (health, metrics, API), host:port */
  http: string
  liveCalls: number
  draining: boolean
  startedAt: string
  updatedAt: string
}

/** A call in progress as GET /api/calls lists it, with the instance that carries it. */
export type LiveCallSummary = CallSummary & { live: true; instance: string }

/** 'ok': admitted (a slot is held until release); 'total', 'source': over SIP_MAX_CALLS or
 *  SIP_MAX_CALLS_PER_SOURCE across the instances; 'fallback': Redis did not answer in time,
 *  the local limits alone decide. */
export type AdmitVerdict = 'ok' | 'total' | 'source' | 'fallback'

/** An outbound call's cluster-wide verdict: 'ok' (its channel is held until dialEnded), over the
 *  hourly cap or the trunk's channels or calls per second across the instances, or 'fallback'
 *  (Redis did not answer in time: the local counts alone decide). */
export type DialVerdict = 'ok' | 'hourly_cap' | 'channels' | 'cps' | 'fallback'
