/** Counters the SIP layer reports; the media server backs them with prom-client. */
export interface SipStats {
  /** `kind` is the request method or the response class ('2xx'). */
  messageIn(kind: string): void
  messageOut(kind: string): void
  /** A message that could not be processed: dropped, or answered with 400/505. */
  malformed(action: 'dropped' | 'rejected', reason: string): void
  /** A TCP connection we closed: idle for SIP_TCP_IDLE_TIMEOUT_S, or refused over a cap. */
  tcpClosed?(reason: 'idle' | 'limit-total' | 'limit-source'): void
}

export const NO_STATS: SipStats = { messageIn() {}, messageOut() {}, malformed() {} }

export function messageKind(m: { method?: string; status?: number }): string {
  return m.method ?? `${Math.floor((m.status ?? 0) / 100)}xx`
}
