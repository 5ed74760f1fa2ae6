import type { SipRequest } from '../message/types.ts'

/** The number a seller would dial back: P-Asserted-Identity user if present, else From user. */
export function callerIdOf(rq: SipRequest): string {
  const pai = typeof rq.headers['p-asserted-identity'] === 'string' ? (rq.headers['p-asserted-identity'] as string) : ''
  const source = /<([^>]+)>/.exec(pai)?.[1] ?? rq.headers.from.uri
  return /^(?:sips?|tel):([^@;]+)/.exec(source)?.[1] ?? ''
}
