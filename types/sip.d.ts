// Types for the part of the `sip` package (kirm/sip.js) this project uses: its serialiser.
// Parsing, transactions and transports are our own (sip/message, sip/transaction,
// sip/transport): the package's parser drops malformed headers silently and loses IPv6 hosts.
declare module 'sip' {
  import type { SipMessage } from '../sip/message/types.ts'
  export function stringify(m: SipMessage): string
}
