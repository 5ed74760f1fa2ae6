// A raw UDP socket playing a SIP peer of the embedded UA in tests: what it received, in order,
// and a cursor to wait for the next message that matches.
import dgram from 'node:dgram'

export interface Peer {
  port: number
  received: string[]
  send(text: string): void
  next(match: RegExp, timeoutMs?: number): Promise<string>
  count(match: RegExp): number
  close(): void
}

export async function peer(uaPort: number): Promise<Peer> {
  const s = dgram.createSocket('udp4')
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r))
  const received: string[] = []
  let cursor = 0
  s.on('message', (m) => received.push(m.toString('latin1')))
  return {
    port: s.address().port,
    received,
    send: (text) => s.send(Buffer.from(text, 'latin1'), uaPort, '127.0.0.1'),
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
