import type { SipMessage, SipRequest } from '../message/types.ts'

const MAGIC_COOKIE = 'z9hG4bK'

/**
 * Server transaction matching key (RFC 3261 §17.2.3). With an RFC 3261 branch the key
 * is branch + sent-by + method (ACK matches its INVITE). Without the magic cookie
 * (RFC 2543 peers, RFC 4475 §3.2.1 "z9hG4bK" alone) fall back to the §17.2.3 2543 rules.
 */
export function serverTransactionKey(rq: SipRequest): string {
  const via = rq.headers.via[0]
  const method = rq.method === 'ACK' ? 'INVITE' : rq.method
  const branch = via.params.branch
  const sentBy = `${via.host}:${via.port ?? 5060}`
  if (branch && branch.startsWith(MAGIC_COOKIE) && branch.length > MAGIC_COOKIE.length) {
    return `${branch}|${sentBy}|${method}`
  }
  const h = rq.headers
  // The To tag is left out: the ACK for a non-2xx carries our tag, the INVITE did not.
  return `2543|${h['call-id']}|${h.from.params.tag ?? ''}|${h.cseq.seq}|${sentBy}|${method}`
}

/** Client transaction key (§17.1.3): our own branch plus the CSeq method. */
export function clientTransactionKey(m: SipMessage): string {
  return `${m.headers.via[0].params.branch}|${m.headers.cseq.method}`
}
