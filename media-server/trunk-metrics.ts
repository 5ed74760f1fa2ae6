import client from 'prom-client'
import type { RegistrationResult, RegistrationState } from '../sip/registration/registrar-client.ts'
import type { RefusalReason } from '../sip/trunks/outbound-guard.ts'

const STATES: RegistrationState[] = ['unregistered', 'registering', 'registered', 'failed']

/** Trunk registration and toll-fraud guard metrics, on the server's registry. */
export class TrunkMetrics {
  readonly registrationState: client.Gauge<'trunk' | 'state'>
  readonly registrations: client.Counter<'trunk' | 'result'>
  readonly refusedDials: client.Counter<'reason' | 'trunk'>
  readonly liveCalls: client.Gauge<'trunk'>

  constructor(registry: client.Registry, liveCalls: () => Array<{ trunk: string; calls: number }>) {
    this.registrationState = new client.Gauge({
      name: 'voice_trunk_registration_state',
      help: 'Registration state per trunk: 1 for the current state (unregistered, registering, registered, failed), 0 for the others',
      labelNames: ['trunk', 'state'] as const,
      registers: [registry],
    })
    this.registrations = new client.Counter({
      name: 'voice_trunk_registrations_total',
      help: 'REGISTER attempts per trunk by result: ok, auth_failed (credentials refused), timeout, rejected (another final status), unresolved (DNS)',
      labelNames: ['trunk', 'result'] as const,
      registers: [registry],
    })
    this.refusedDials = new client.Counter({
      name: 'voice_outbound_dials_refused_total',
      help: 'Outbound calls the toll-fraud guard did not let out, by reason (prefix, hourly_cap, channels, cps) and trunk ("" for a URI that names no trunk)',
      labelNames: ['reason', 'trunk'] as const,
      registers: [registry],
    })
    this.liveCalls = new client.Gauge({
      name: 'voice_trunk_outbound_calls',
      help: 'Outbound calls in progress per trunk',
      labelNames: ['trunk'] as const,
      registers: [registry],
      collect() {
        for (const { trunk, calls } of liveCalls()) this.set({ trunk }, calls)
      },
    })
  }

  state(trunk: string, state: RegistrationState): void {
    for (const s of STATES) this.registrationState.set({ trunk, state: s }, s === state ? 1 : 0)
  }

  result(trunk: string, result: RegistrationResult): void {
    this.registrations.inc({ trunk, result })
  }

  refused(reason: RefusalReason, trunk: string): void {
    this.refusedDials.inc({ reason, trunk })
  }
}
