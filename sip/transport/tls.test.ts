// SIP over TLS at the UA: a self-signed certificate made with openssl, a TLS client playing the
// caller (OPTIONS, an INVITE answered and ACKed, our BYE back over the caller's connection, with
// Via and Contact saying TLS and the TLS port), and the certificate file replaced while the UA
// runs: the next connection gets the new one.
import { mkdtempSync, renameSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import pino from 'pino'
import t from 'tap'
import { makeCert } from '../../test/helpers/tls-cert.ts'
import type { InboundCall } from '../ua/call-control.ts'
import { EmbeddedCallControl } from '../ua/embedded-call-control.ts'

const T1 = 40
const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n'
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function client(port: number) {
  const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false })
  await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject))
  let data = ''
  socket.on('data', (d) => (data += d.toString('latin1')))
  const messages = () => data.split(/(?=^(?:SIP\/2\.0 \d{3}|[A-Z]+ sip:[^ ]+ SIP\/2\.0)\r$)/m).filter(Boolean)
  return {
    socket,
    peerCn: () => (socket.getPeerCertificate().subject as { CN?: string }).CN,
    send: (text: string) => socket.write(Buffer.from(text, 'latin1')),
    async next(match: RegExp, timeoutMs = 2000): Promise<string> {
      const deadline = Date.now() + timeoutMs
      while (Date.now() < deadline) {
        const m = messages().find((x) => match.test(x))
        if (m) {
          data = data.replace(m, '')
          return m
        }
        await wait(5)
      }
      throw new Error(`no message matching ${match}; got ${data.slice(0, 500)}`)
    },
  }
}

function request(method: string, localPort: number, o: { callId: string; toTag?: string; cseq?: number; body?: string }): string {
  const body = o.body ?? ''
  return [
    `${method} sips:sales@127.0.0.1 SIP/2.0`,
    `Via: SIP/2.0/TLS 127.0.0.1:${localPort};branch=z9hG4bK${Math.random().toString(36).slice(2)};rport`,
    'From: <sip:79990000000@127.0.0.1>;tag=caller',
    `To: <sip:sales@127.0.0.1>${o.toTag ? ';tag=' + o.toTag : ''}`,
    `Call-ID: ${o.callId}`,
    `CSeq: ${o.cseq ?? 1} ${method}`,
    `Contact: <sip:79990000000@127.0.0.1:${localPort};transport=tls>`,
    'Max-Forwards: 70',
    ...(body ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${body.length}`,
    '',
    body,
  ].join('\r\n')
}

t.test('SIP over TLS', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sip-tls-'))
  const first = makeCert(dir, 'first', 'first.example')
  const ua = new EmbeddedCallControl({
    host: '127.0.0.1',
    port: 0,
    publicHost: '127.0.0.1',
    logger: pino({ level: 'silent' }),
    timers: { T1, T2: 4 * T1, T4: 5 * T1 },
    tls: { port: 0, certFile: first.cert, keyFile: first.key },
  })
  await ua.start()
  t.teardown(() => ua.stop())
  const tlsPort = ua.address.tlsPort!
  t.ok(tlsPort > 0 && tlsPort !== ua.address.port, `TLS on its own port (${tlsPort})`)
  const calls: InboundCall[] = []
  ua.on('call', (c) => calls.push(c))

  const c = await client(tlsPort)
  t.teardown(() => c.socket.destroy())
  t.equal(c.peerCn(), 'first.example')
  const local = c.socket.localPort!
  c.send(request('OPTIONS', local, { callId: 'tls-opt' }))
  t.match(await c.next(/Call-ID: tls-opt/), /^SIP\/2\.0 200/)

  c.send(request('INVITE', local, { callId: 'tls-call', body: SDP }))
  await c.next(/^SIP\/2\.0 100/)
  await wait(20)
  const call = calls[0]
  t.equal(call.remote.protocol, 'TLS')
  const answered = call.answer(SDP)
  const ok = await c.next(/^SIP\/2\.0 200[\s\S]*CSeq: 1 INVITE/)
  t.match(ok, new RegExp(`^Contact: .*sip:agent@127\\.0\\.0\\.1:${tlsPort};transport=tls`, 'm'), 'Contact: the TLS port, transport=tls')
  const toTag = /^To:.*;tag=([^;\s]+)/m.exec(ok)![1]
  c.send(request('ACK', local, { callId: 'tls-call', toTag }))
  await answered
  const bye = call.hangup()
  const byeRq = await c.next(/^BYE /)
  t.match(byeRq, new RegExp(`^Via: SIP/2\\.0/TLS 127\\.0\\.0\\.1:${tlsPort};`, 'm'), 'our BYE over the same TLS connection, Via TLS')
  c.send(
    `SIP/2.0 200 OK\r\n${byeRq
      .split('\r\n')
      .filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l))
      .join('\r\n')}\r\nContent-Length: 0\r\n\r\n`,
  )
  await bye

  // the certificate renewed in place: new connections get it
  const second = makeCert(dir, 'second', 'second.example')
  renameSync(second.key, first.key)
  renameSync(second.cert, first.cert)
  let cn: string | undefined
  const deadline = Date.now() + 5000
  while (Date.now() < deadline) {
    const probe = await client(tlsPort)
    cn = probe.peerCn()
    probe.socket.destroy()
    if (cn === 'second.example') break
    await wait(200)
  }
  t.equal(cn, 'second.example', 'the replaced certificate is served without a restart')
})
