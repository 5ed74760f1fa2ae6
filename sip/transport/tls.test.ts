// SIP over TLS at the UA: a self-signed certificate made with openssl, a TLS client playing the
// caller (OPTIONS, an INVITE answered and ACKed, our BYE back over the caller's connection, with
// Via and Contact saying TLS and the TLS port), and the certificate file replaced while the UA
// runs: the next connection gets the new one.
import { mkdtempSync, readFileSync, renameSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import pino from 'pino'
import t from 'tap'
import { makeCert } from '../../test/helpers/tls-cert.ts'
import { SipTextBuffer } from '../../test/helpers/sip-text-buffer.ts'
import type { InboundCall } from '../ua/call-control.ts'
import { EmbeddedCallControl, type EmbeddedCallControlOptions } from '../ua/embedded-call-control.ts'

const T1 = 40
const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n'
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The UA with TLS as given, on loopback, with short SIP timers. */
const tlsUa = (tls: EmbeddedCallControlOptions['tls']) =>
  new EmbeddedCallControl({
    host: '127.0.0.1',
    port: 0,
    publicHost: '127.0.0.1',
    logger: pino({ level: 'silent' }),
    timers: { T1, T2: 4 * T1, T4: 5 * T1 },
    tls,
  })

async function client(port: number, credentials: Pick<tls.ConnectionOptions, 'cert' | 'key'> = {}) {
  const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...credentials })
  await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject))
  const received = new SipTextBuffer()
  socket.on('data', received.push)
  return {
    socket,
    peerCn: () => (socket.getPeerCertificate().subject as { CN?: string }).CN,
    send: (text: string) => socket.write(Buffer.from(text, 'latin1')),
    next: (match: RegExp, timeoutMs?: number) => received.next(match, timeoutMs),
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
  const ua = tlsUa({ port: 0, certFile: first.cert, keyFile: first.key })
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

t.test('SIP_TLS_VERIFY_CLIENT=required: only a caller with a certificate from SIP_TLS_CA gets in', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sip-mtls-'))
  const ours = makeCert(dir, 'ours', 'agent.example')
  const pbx = makeCert(dir, 'pbx', 'pbx.example')
  const stranger = makeCert(dir, 'stranger', 'stranger.example')
  const ua = tlsUa({ port: 0, certFile: ours.cert, keyFile: ours.key, caFile: pbx.cert, verifyClient: true })
  await ua.start()
  t.teardown(() => ua.stop())
  const port = ua.address.tlsPort!

  /** An OPTIONS over a new connection: the answer's status line, or why there was none. */
  const options = async (credentials?: { cert: Buffer; key: Buffer }): Promise<string> => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...credentials })
    const received = new SipTextBuffer()
    socket.on('data', received.push)
    const closed = new Promise<string>((resolve) => {
      socket.once('error', (err) => resolve(`refused: ${err.message}`))
      socket.once('close', () => resolve('refused: closed'))
    })
    try {
      await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject))
      // TLS 1.3: the server judges the client's certificate after the client thinks it is connected
      socket.write(Buffer.from(request('OPTIONS', socket.localPort!, { callId: `mtls-${Math.random()}` }), 'latin1'))
      return await Promise.race([received.next(/^SIP\/2\.0/, 3000).then((m) => m.split('\r\n')[0]), closed])
    } catch (err) {
      return `refused: ${(err as Error).message}`
    } finally {
      socket.destroy()
    }
  }
  const read = (c: { cert: string; key: string }) => ({ cert: readFileSync(c.cert), key: readFileSync(c.key) })
  t.match(await options(), /^refused/, 'no client certificate: refused in the handshake, no SIP answered')
  t.match(await options(read(stranger)), /^refused/, 'a certificate from another CA: refused')
  t.equal(await options(read(pbx)), 'SIP/2.0 200 OK', "the PBX's certificate: OPTIONS answered")
})
