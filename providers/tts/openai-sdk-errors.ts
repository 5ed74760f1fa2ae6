// The `openai` SDK as the speech and chat adapters use it: how the client is built, and what its
// errors mean for failover.
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError, AuthenticationError, PermissionDeniedError } from 'openai'
import type { ProviderError, ProviderTimeouts } from '../types.ts'
import type { ProviderCall } from './provider-call.ts'

/** `midStream`: the response had begun, so a lost connection is a disconnect, not a failed connect. */
export function sdkError(call: ProviderCall, err: unknown, midStream: boolean): ProviderError {
  if (call.failed) return call.failed // our own abort (watchdog or cancel) surfaces as APIUserAbortError
  if (err instanceof APIUserAbortError) return call.fail('cancelled', 'request aborted', err)
  if (err instanceof AuthenticationError || err instanceof PermissionDeniedError) {
    return call.fail('auth', `credentials rejected (HTTP ${err.status})`, err)
  }
  if (err instanceof APIConnectionTimeoutError) return call.fail('timeout', 'request timed out', err)
  if (err instanceof APIConnectionError) return call.fail(midStream ? 'disconnected' : 'connect', err.message, err)
  if (err instanceof APIError) return call.fail('protocol', err.status ? `HTTP ${err.status}: ${err.message}` : err.message, err)
  return call.error(err, midStream ? 'disconnected' : 'protocol')
}

/** Our watchdogs decide timeouts (the SDK's is only a backstop); retrying is the failover layer's job. */
export function sdkClient(o: { baseURL: string; apiKey: string; timeouts: ProviderTimeouts }): OpenAI {
  const { connectMs, responseMs } = o.timeouts
  return new OpenAI({ baseURL: o.baseURL, apiKey: o.apiKey, maxRetries: 0, timeout: 2 * (connectMs + responseMs) })
}
