// Types for the parts of the `sip` package (kirm/sip.js) this project uses.
declare module 'sip' {
  import type { SipMessage, SipRequest, SipResponse, SipUri, NameAddr } from '../sip/message/types.ts'
  export function parse(data: string): SipMessage | undefined
  export function stringify(m: SipMessage): string
  export function parseUri(s: string): SipUri | undefined
  export function stringifyUri(uri: SipUri | string): string
  export function parseAOR(data: { s: string; i: number }): NameAddr
  export function makeResponse(rq: SipRequest, status: number, reason?: string, extension?: Record<string, unknown>): SipResponse
  export function generateBranch(): string
}
