// A raw UDP socket playing a SIP peer of the embedded UA in tests: what it received, in order,
// and a cursor to wait for the next message that matches.
import dgram from 'node:dgram'

export interface Peer {
  port: number
  received: string[]
  /** to the UA's port, or to another one */
  send(text: string, port?: number): void
  next(match: RegExp, timeoutMs?: number): Promise<string>
  count(match: RegExp): number
  close(): void
}

/** `uaPort`: where send() goes by default (a peer made before the UA has started names the port on each send). */
export async function peer(uaPort = 0): Promise<Peer> {
  const s = dgram.createSocket('udp4')
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r))
  const received: string[] = []
  let cursor = 0
  s.on('message', (m) => received.push(m.toString('latin1')))
  return {
    port: s.address().port,
    received,
    send: (text, port = uaPort) => s.send(Buffer.from(text, 'latin1'), port, '127.0.0.1'),
    count: (match) => received.filter((m) => match.test(m)).length,
    async next(match, timeoutMs = 2000) {
      const deadline = Date.now() + timeoutMs
      while (Date.now() < deadline) {
        for (; cursor < received.length; cursor++) if (match.test(received[cursor])) return received[cursor++]
        await new Promise((r) => setTimeout(r, 5))
      }
      throw new Error(`no message matching ${match} in ${timeoutMs} ms; got:\n${received.map((m) => m.split('\r\n')[0]).join('\n')}`)
    },
    close: () => s.close(),
  }
}

/** A header's value in a raw message ('' when absent). */
export const header = (m: string, name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'mi').exec(m)?.[1].trim() ?? ''

/** A response to a raw request: its Vias, From, To (tagged), Call-ID and CSeq, these headers and body. */
export function reply(rq: string, status: string, extra: string[] = [], body = ''): string {
  return [
    `SIP/2.0 ${status}`,
    ...rq.split('\r\n').filter((l) => /^Via:/i.test(l)),
    `From: ${header(rq, 'From')}`,
    `To: ${header(rq, 'To')}${/tag=/.test(header(rq, 'To')) ? '' : ';tag=uas1'}`,
    `Call-ID: ${header(rq, 'Call-ID')}`,
    `CSeq: ${header(rq, 'CSeq')}`,
    ...extra,
    ...(body ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${body.length}`,
    '',
    body,
  ].join('\r\n')
}

/** A request from a caller at 127.0.0.1:`sipPort` to sip:sales@127.0.0.1 (`extra`: To and anything else). */
export function request(method: string, sipPort: number, callId: string, cseq: number, extra: string[], body = ''): string {
  return [
    `${method} sip:sales@127.0.0.1 SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${sipPort};branch=z9hG4bK${Math.random().toString(36).slice(2)};rport`,
    `From: <sip:79990000000@127.0.0.1>;tag=${callId}-caller`,
    `Call-ID: ${callId}`,
    `CSeq: ${cseq} ${method}`,
    `Contact: <sip:79990000000@127.0.0.1:${sipPort}>`,
    'Max-Forwards: 70',
    ...extra,
    ...(body ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n')
}
