// SIP message shapes, as produced by the `sip` package's parser (lower-case header names,
// structured values for the headers it knows, raw strings for the rest).
// All strings are latin1-decoded bytes, so lengths equal octet counts and a message
// serialised back with Buffer.from(s, 'latin1') is byte-identical where untouched.

export type Params = Record<string, string | null>

export interface SipUri {
  schema: string
  user?: string
  password?: string
  host: string
  port?: number
  params: Params
  headers: Record<string, string>
}

export interface Via {
  version: string
  protocol: string
  host: string
  port?: number
  params: Params
}

export interface NameAddr {
  name?: string
  uri: string
  params: Params
}

export interface CSeq {
  seq: number
  method: string
}

export interface SipHeaders {
  via: Via[]
  from: NameAddr
  to: NameAddr
  'call-id': string
  cseq: CSeq
  contact?: NameAddr[] | '*'
  'content-length'?: number
  'content-type'?: string
  'max-forwards'?: string
  [name: string]: unknown
}

export interface SipRequest {
  method: string
  uri: string
  version: string
  headers: SipHeaders
  content: string
}

export interface SipResponse {
  status: number
  reason: string
  version: string
  headers: SipHeaders
  content: string
}

export type SipMessage = SipRequest | SipResponse

export function isRequest(m: SipMessage): m is SipRequest {
  return (m as SipRequest).method !== undefined
}

/** Where a message came from or goes to: the transport and the peer's socket address. */
export interface Remote {
  protocol: 'UDP' | 'TCP'
  address: string
  port: number
}
