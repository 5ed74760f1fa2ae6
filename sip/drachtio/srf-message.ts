import type Srf from 'drachtio-srf'
import { parseDatagram } from '../message/parse.ts'
import type { Remote, SipRequest } from '../message/types.ts'
import type { ChallengeHeader } from '../security/digest-server.ts'

/**
 * A request drachtio-server handed us, parsed by our own parser from its raw text, so that the
 * SIP edge's checks (sip/security, uas-checks) read it exactly as the embedded stack does.
 * Undefined when our parser refuses it (drachtio-server already let it through).
 */
export function toSipRequest(req: Srf.SrfRequest): SipRequest | undefined {
  const outcome = parseDatagram(Buffer.from(req.msg.raw))
  return outcome.kind === 'message' && 'method' in outcome.message ? outcome.message : undefined
}

/** Where the request came from, as drachtio-server saw it on the wire. */
export function remoteOf(req: Srf.SrfRequest): Remote {
  const p = String(req.protocol).toUpperCase()
  return { protocol: p === 'TCP' || p === 'TLS' ? p : 'UDP', address: req.source_address, port: Number(req.source_port) }
}

/** One WWW-Authenticate value: drachtio-srf takes one value per header name, so only the first challenge goes out. */
export function challengeHeader(challenges: ChallengeHeader[]): string {
  const { scheme, ...params } = challenges[0]
  return `${scheme} ${Object.entries(params)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ')}`
}

/** The status of a drachtio-srf SipError (a non-2xx final response), else undefined. */
export function sipErrorStatus(err: unknown): number | undefined {
  const status = (err as { status?: unknown })?.status
  return typeof status === 'number' ? status : undefined
}

/** A request inside a dialog; drachtio-srf's typings declare the options as a whole request, which they are not. */
export function dialogRequest(dialog: Srf.Dialog, method: string, headers: Record<string, string>, body?: string): Promise<Srf.SrfResponse> {
  return dialog.request({ method, headers, ...(body !== undefined && { body }) } as unknown as Srf.SrfRequest)
}
