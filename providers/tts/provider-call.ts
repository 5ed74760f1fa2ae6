// One provider request's lifetime: a single AbortSignal for everything underneath (the caller's
// cancellation and our own watchdogs), and one place that turns whatever went wrong into a
// ProviderError of the right kind with no secret in its message.
import { ProviderError, type ProviderErrorKind } from '../types.ts'

export class ProviderCall {
  private readonly controller = new AbortController()
  private failure?: ProviderError
  private timer?: NodeJS.Timeout
  private readonly onCancel = () => this.fail('cancelled', 'cancelled by the caller')

  constructor(
    readonly provider: string,
    private readonly external?: AbortSignal,
    private readonly secrets: readonly string[] = [],
  ) {
    if (external?.aborted) this.onCancel()
    else external?.addEventListener('abort', this.onCancel, { once: true })
  }

  /** Aborts when the caller cancels, a watchdog fires or fail() is called. */
  get signal(): AbortSignal {
    return this.controller.signal
  }

  /** Fails with `kind` unless watch() or clear() is called again within `ms`. */
  watch(kind: ProviderErrorKind, ms: number, what: string): void {
    clearTimeout(this.timer)
    this.timer = setTimeout(() => this.fail(kind, `${what} within ${ms} ms`), ms)
  }

  clear(): void {
    clearTimeout(this.timer)
    this.timer = undefined
  }

  /** The first failure wins; later ones (the abort's own echo) are ignored. */
  fail(kind: ProviderErrorKind, message: string, cause?: unknown): ProviderError {
    if (!this.failure) {
      // a cause carrying server text that echoes a key is left off, so no serializer prints it
      const leaks = cause instanceof Error && this.secrets.some((s) => s && `${cause.message}${cause.stack}`.includes(s))
      this.failure = new ProviderError(this.provider, kind, this.redact(message), cause === undefined || leaks ? undefined : { cause })
      this.clear()
      this.controller.abort(this.failure)
    }
    return this.failure
  }

  /** The error to throw for `err`: ours if we aborted, else `err` classified as `kind`. */
  error(err: unknown, kind: ProviderErrorKind): ProviderError {
    if (this.failure) return this.failure
    if (err instanceof ProviderError) return this.fail(err.kind, err.message, err)
    return this.fail(kind, err instanceof Error ? err.message : String(err), err)
  }

  get failed(): ProviderError | undefined {
    return this.failure
  }

  /** Releases the timer and the caller's signal; aborts whatever is still open underneath. */
  finish(): void {
    this.clear()
    this.external?.removeEventListener('abort', this.onCancel)
    if (!this.controller.signal.aborted) this.controller.abort()
  }

  redact(text: string): string {
    let out = text
    for (const secret of this.secrets) if (secret) out = out.split(secret).join('***')
    return out
  }
}

/** Node's network error code, wherever fetch/undici/ws buried it. */
export function networkCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string') return code
  }
  return undefined
}

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNRESET',
  'UND_ERR_CONNECT_TIMEOUT',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
])

/** True when the error says the connection never came up. */
export function isConnectFailure(err: unknown): boolean {
  const code = networkCode(err)
  return code !== undefined && CONNECT_CODES.has(code)
}
