// SIP over TCP: a connection that carries nothing is closed after the idle timeout, unless a
// live dialog uses it as its flow; connections are capped per source address and in total.
// Real sockets; the idle timeout is shortened to 300 ms so the test does not wait minutes.
import net from 'node:net'
import { once } from 'node:events'
import pino from 'pino'
import t from 'tap'
import { makeResponse } from '../message/serialize.ts'
import { EmbeddedCallControl } from '../ua/embedded-call-control.ts'
import type { SipStats } from './stats.ts'
import { TransportLayer } from './transport-layer.ts'

const logger = pino({ level: 'silent' })
const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n'

function recordingStats(): SipStats & { closed: string[] } {
  const closed: string[] = []
  return { closed, messageIn() {}, messageOut() {}, malformed() {}, tcpClosed: (reason) => closed.push(reason) }
}

interface Client {
  socket: net.Socket
  text: () => string
  closed: Promise<unknown>
  isOpen: () => boolean
  waitFor(re: RegExp, ms?: number): Promise<string>
}

async function connect(port: number, localAddress = '127.0.0.1'): Promise<Client> {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress })
  socket.on('error', () => {})
  let buf = ''
  socket.on('data', (d) => (buf += d.toString('latin1')))
  const closed = once(socket, 'close')
  let open = true
  void closed.then(() => (open = false))
  await once(socket, 'connect')
  return {
    socket,
    closed,
    text: () => buf,
    isOpen: () => open,
    async waitFor(re, ms = 2000) {
      const deadline = Date.now() + ms
      while (Date.now() < deadline) {
        const m = re.exec(buf)
        if (m) return m[0]
        await new Promise((r) => setTimeout(r, 10))
      }
      throw new Error(`no ${re} in ${ms} ms; got ${JSON.stringify(buf.slice(0, 300))}`)
    },
  }
}

function request(method: string, c: Client, o: { callId: string; cseq: number; toTag?: string; body?: string }): string {
  const body = o.body ?? ''
  const port = c.socket.localPort
  return [
    `${method} sip:sales@127.0.0.1 SIP/2.0`,
    `Via: SIP/2.0/TCP 127.0.0.1:${port};branch=z9hG4bK${method}${o.cseq}${Math.random().toString(36).slice(2)}`,
    'From: <sip:100@127.0.0.1>;tag=caller',
    `To: <sip:sales@127.0.0.1>${o.toTag ? ';tag=' + o.toTag : ''}`,
    `Call-ID: ${o.callId}`,
    `CSeq: ${o.cseq} ${method}`,
    `Contact: <sip:100@127.0.0.1:${port};transport=tcp>`,
    'Max-Forwards: 70',
    ...(body ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n')
}

const withTimeout = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} not within ${ms} ms`)), ms))])

t.test('an idle TCP connection is closed and counted', async (t) => {
  const stats = recordingStats()
  const layer = new TransportLayer('127.0.0.1', 0, logger, stats, { idleTimeoutMs: 300 })
  layer.on('request', (rq, remote) => layer.send(makeResponse(rq, 200), remote))
  await layer.listen()
  t.teardown(() => layer.close())
  const c = await connect(layer.tcpPort)
  c.socket.write(request('OPTIONS', c, { callId: 'idle-1', cseq: 1 }))
  await c.waitFor(/^SIP\/2\.0 200/)
  await withTimeout(c.closed, 3000, 'the server closing the idle connection')
  t.same(stats.closed, ['idle'], 'counted as closed for idleness')
})

t.test('a connection a live dialog uses is kept however quiet; after the BYE it is closed when idle', async (t) => {
  const ua = new EmbeddedCallControl({ host: '127.0.0.1', port: 0, publicHost: '127.0.0.1', logger, tcp: { idleTimeoutMs: 300 } })
  ua.on('call', (call) => void call.answer(SDP).catch(() => {}))
  await ua.start()
  t.teardown(() => ua.stop())
  const port = ua.address.port

  const inCall = await connect(port)
  const bystander = await connect(port) // no dialog: closed after the idle timeout
  inCall.socket.write(request('INVITE', inCall, { callId: 'flow-1', cseq: 1, body: SDP }))
  const ok = await inCall.waitFor(/SIP\/2\.0 200 OK[^]*?\r\n\r\n/)
  const toTag = /^To:.*;tag=([^;\s]+)/im.exec(ok)![1]
  inCall.socket.write(request('ACK', inCall, { callId: 'flow-1', cseq: 1, toTag }))
  await withTimeout(bystander.closed, 3000, 'the bystander connection closing')
  await new Promise((r) => setTimeout(r, 1500)) // five idle timeouts
  t.ok(inCall.isOpen(), "the dialog's connection is still open after five idle timeouts")
  inCall.socket.write(request('BYE', inCall, { callId: 'flow-1', cseq: 2, toTag }))
  await inCall.waitFor(/SIP\/2\.0 200 OK[^]*?CSeq: 2 BYE/)
  await withTimeout(inCall.closed, 3000, 'the connection closing once the dialog ended')
  t.pass('closed once no dialog used it')
})

t.test('connections over the per-source cap and over the total cap are refused', async (t) => {
  const stats = recordingStats()
  const layer = new TransportLayer('127.0.0.1', 0, logger, stats, { idleTimeoutMs: 60_000, maxPerSource: 2, maxConnections: 3 })
  await layer.listen()
  t.teardown(() => layer.close())
  const a = [await connect(layer.tcpPort), await connect(layer.tcpPort)]
  const third = await connect(layer.tcpPort)
  await withTimeout(third.closed, 2000, 'the third connection from one address being closed')
  t.same(stats.closed, ['limit-source'])
  // another source address (the whole of 127/8 is loopback) still gets in, up to the total
  const other = await connect(layer.tcpPort, '127.0.0.2')
  const fourth = await connect(layer.tcpPort, '127.0.0.3')
  await withTimeout(fourth.closed, 2000, 'a connection over the total being closed')
  t.same(stats.closed, ['limit-source', 'limit-total'])
  t.ok(a.every((c) => c.isOpen()) && other.isOpen(), 'the connections within the caps stay open')
  for (const c of [...a, other]) c.socket.destroy()
})
