// A trunk reached over TLS: a carrier played by a TLS server with its own self-signed certificate
// for "localhost". With the carrier's CA (SIP_TLS_CA) the INVITE goes over TLS with the name in SNI,
// Via and Contact say TLS and our TLS port, the 2xx is ACKed and BYE follows on the same connection;
// without it the certificate is refused, nothing reaches the carrier and the dial fails with 503 at
// once (a transport error), as it does towards a TCP port where nothing listens.
import { mkdtempSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import pino from 'pino'
import t, { type Test } from 'tap'
import { header, reply } from '../../test/helpers/raw-sip-peer.ts'
import { makeCert } from '../../test/helpers/tls-cert.ts'
import { SipTextBuffer } from '../../test/helpers/sip-text-buffer.ts'
import { testTrunk } from '../../test/helpers/trunk.ts'
import { freeTcpPort } from '../../test/helpers/free-port.ts'
import { OutboundGuard } from '../trunks/outbound-guard.ts'
import { DialError } from '../ua/call-control.ts'
import { EmbeddedCallControl } from '../ua/embedded-call-control.ts'

const T1 = 40
const logger = pino({ level: 'silent' })
const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n'
const dir = mkdtempSync(path.join(os.tmpdir(), 'sip-tls-trunk-'))
const ours = makeCert(dir, 'ours', 'agent.example')
const carrierCert = makeCert(dir, 'carrier', 'localhost')

/** The carrier's TLS listener: every message it received, split, with the name the client asked for. */
async function carrier(t: Test, options: tls.TlsOptions = {}) {
  const received = new SipTextBuffer()
  const names: string[] = []
  const sockets: tls.TLSSocket[] = []
  const server = tls.createServer({ cert: readFileSync(carrierCert.cert), key: readFileSync(carrierCert.key), ...options }, (s) => {
    names.push(String(s.servername))
    sockets.push(s)
    s.on('data', received.push)
    s.on('error', () => {})
  })
  await new Promise<void>((r) => server.listen(0, r))
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    server.close()
  })
  return {
    port: (server.address() as { port: number }).port,
    names,
    /** the client certificate each connection presented (its subject CN; '' when none) */
    clientNames: () => sockets.map((s) => String((s.getPeerCertificate()?.subject as { CN?: string } | undefined)?.CN ?? '')),
    received: () => received.messages(),
    send: (text: string) => sockets[sockets.length - 1].write(Buffer.from(text, 'latin1')),
    next: (match: RegExp, timeoutMs = 3000) => received.next(match, timeoutMs),
  }
}

async function ua(t: Test, carrierPort: number, caFile?: string, transport: 'tls' | 'tcp' = 'tls'): Promise<EmbeddedCallControl> {
  const trunk = testTrunk({ host: 'localhost', port: carrierPort, transport })
  const u = new EmbeddedCallControl({
    host: '127.0.0.1',
    port: 0,
    publicHost: '127.0.0.1',
    logger,
    timers: { T1, T2: 4 * T1, T4: 5 * T1 },
    outbound: new OutboundGuard({ trunks: [trunk], allowPrefixes: ['8'], maxCallsPerHour: 10, logger }),
    tls: { port: 0, certFile: ours.cert, keyFile: ours.key, ...(caFile && { caFile }) },
  })
  await u.start()
  t.teardown(() => u.stop())
  return u
}

t.test('with the carrier’s CA: the call goes over TLS, named in SNI, and says so in Via and Contact', async (t) => {
  const c = await carrier(t)
  const u = await ua(t, c.port, carrierCert.cert)
  const dialling = u.dial('sip:89990001122@carrier.ru', { sdp: SDP })
  const invite = await c.next(/^INVITE /)
  t.same(c.names, ['localhost'], 'SNI carries the trunk’s host name')
  t.match(header(invite, 'Via'), new RegExp(`^SIP/2\\.0/TLS 127\\.0\\.0\\.1:${u.address.tlsPort};`), 'Via: TLS and our TLS port')
  t.match(header(invite, 'Contact'), new RegExp(`:${u.address.tlsPort};transport=tls>`), 'Contact: our TLS port, transport=tls')
  c.send(reply(invite, '200 OK', [`Contact: <sip:seller@localhost:${c.port};transport=tls>`], SDP))
  const leg = await dialling
  t.match(await c.next(/^ACK /), /^ACK sip:seller@localhost:\d+;transport=tls SIP\/2\.0/)
  const hangup = leg.hangup()
  const bye = await c.next(/^BYE /)
  t.match(header(bye, 'Via'), /^SIP\/2\.0\/TLS /)
  c.send(reply(bye, '200 OK'))
  await hangup
})

t.test('without it: the carrier’s certificate is refused, the dial fails with 503, no request is sent in clear', async (t) => {
  const c = await carrier(t)
  const u = await ua(t, c.port)
  const err = await u.dial('sip:89990001122@carrier.ru', { sdp: SDP }).then(
    () => null,
    (e) => e,
  )
  t.ok(err instanceof DialError, 'the dial fails')
  t.equal(err?.status, 503, 'at once, as a transport error (RFC 3261 §8.1.3.1), not after Timer B')
  t.same(c.received(), [], 'the carrier got no SIP')
})

t.test('a TCP trunk where nothing listens: 503 at once', async (t) => {
  const closed = await freeTcpPort()
  const u = await ua(t, closed, undefined, 'tcp')
  const err = await u.dial('sip:89990001122@carrier.ru', { sdp: SDP }).then(
    () => null,
    (e) => e,
  )
  t.equal(err?.status, 503)
})

t.test('a carrier that requires a client certificate (mutual TLS) gets ours', async (t) => {
  const c = await carrier(t, { requestCert: true, rejectUnauthorized: true, ca: [readFileSync(ours.cert)] })
  const u = await ua(t, c.port, carrierCert.cert)
  const dialling = u.dial('sip:89990001122@carrier.ru', { sdp: SDP })
  const invite = await c.next(/^INVITE /)
  t.same(c.clientNames(), ['agent.example'], 'the connection presented our certificate')
  c.send(reply(invite, '486 Busy Here'))
  const err = await dialling.then(
    () => null,
    (e) => e,
  )
  t.equal(err?.status, 486, 'and the call went on over it')
})
