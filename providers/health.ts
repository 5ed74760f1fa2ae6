// Which providers of one kind are worth trying right now. A provider that errored, disconnected or
// missed its latency budget sits out an exponentially growing backoff; once it has passed, the next
// request tries it again as a probe, and a success clears its record.
import { ProviderError } from './types.ts'

export interface HealthOptions {
  /** first backoff after a failure; doubles with every failure in a row (default 2 s) */
  baseBackoffMs?: number
  /** ceiling of the backoff (default 60 s) */
  maxBackoffMs?: number
  /** time source in ms; tests inject their own */
  now?: () => number
}

export interface HealthState {
  healthy: boolean
  /** failures since the last success */
  failures: number
  /** when a failed provider may be tried again, on the `now` clock */
  retryAt?: number
  lastError?: string
}

interface FailureRecord {
  failures: number
  retryAt: number
  lastError: string
}

export class ProviderHealth {
  readonly baseBackoffMs: number
  readonly maxBackoffMs: number
  private readonly now: () => number
  private readonly records = new Map<string, FailureRecord>()

  constructor(opts: HealthOptions = {}) {
    this.baseBackoffMs = opts.baseBackoffMs ?? 2_000
    this.maxBackoffMs = opts.maxBackoffMs ?? 60_000
    this.now = opts.now ?? Date.now
    if (!(this.baseBackoffMs > 0) || this.maxBackoffMs < this.baseBackoffMs) {
      throw new Error(`backoff must satisfy 0 < base (${this.baseBackoffMs}) <= max (${this.maxBackoffMs})`)
    }
  }

  /** true when it never failed, succeeded since, or its backoff has passed (the next call is a probe) */
  isHealthy(provider: string): boolean {
    const r = this.records.get(provider)
    return !r || this.now() >= r.retryAt
  }

  state(provider: string): HealthState {
    const r = this.records.get(provider)
    if (!r) return { healthy: true, failures: 0 }
    return { healthy: this.now() >= r.retryAt, failures: r.failures, retryAt: r.retryAt, lastError: r.lastError }
  }

  success(provider: string): void {
    this.records.delete(provider)
  }

  /**
   * Count a failure and start (or double) the backoff. Our own cancellation (barge-in) says nothing
   * about the provider and is ignored; returns whether the failure was counted.
   */
  failure(provider: string, error: unknown): boolean {
    if (error instanceof ProviderError && error.kind === 'cancelled') return false
    const failures = (this.records.get(provider)?.failures ?? 0) + 1
    const backoff = Math.min(this.maxBackoffMs, this.baseBackoffMs * 2 ** Math.min(failures - 1, 30))
    const lastError = error instanceof Error ? error.message : String(error)
    this.records.set(provider, { failures, retryAt: this.now() + backoff, lastError })
    return true
  }
}
