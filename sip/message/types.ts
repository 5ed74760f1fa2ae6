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

/**
 * A request too broken to process, reduced to what a response needs (RFC 3261 §8.2.6.2),
 * read as leniently as possible: every Via and the CSeq are always there (without them a
 * response could not reach the client transaction); From, To and Call-ID only when the
 * request had them (RFC 4475 §3.3.1 insuf has none of the three).
 */
export interface RejectedRequest {
  method: string
  uri: string
  version: string
  headers: Pick<SipHeaders, 'via' | 'cseq'> & Partial<Pick<SipHeaders, 'from' | 'to' | 'call-id'>>
}

/** A sound message. */
export interface MessageOutcome {
  kind: 'message'
  message: SipMessage
}

/** A broken request that can still be answered with `status`. */
export interface RejectOutcome {
  kind: 'reject'
  status: 400 | 505
  /** Plain text for logs and a Warning header, made of fixed phrases (never header text). */
  reason: string
  request: RejectedRequest
}

/** Nothing that can be answered: garbage, a broken response, or a request with no Via or CSeq. */
export interface DropOutcome {
  kind: 'drop'
  reason: string
}

export type ParseOutcome = MessageOutcome | RejectOutcome | DropOutcome

/** Where a message came from or goes to: the transport and the peer's socket address. */
export interface Remote {
  protocol: 'UDP' | 'TCP' | 'TLS'
  address: string
  port: number
  /** TLS we connect: the name the peer's certificate must carry (a trunk's host name); unset for an address */
  serverName?: string
}
