// SIP interop on a live server over raw UDP: delayed offer (our offer in the 200, the caller's
// answer in the ACK, RTP sent where that answer says), a delayed offer whose ACK brings no
// usable answer (BYE, record failed / bad-answer), and a session that expires (RFC 4028: BYE
// with session-expired when no refresh comes).
import dgram from 'node:dgram'
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import t from 'tap'
import { startServerProcess } from './helpers/server-process.ts'
import { makeCert } from './helpers/tls-cert.ts'
import { freeTcpPort } from './helpers/free-port.ts'

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Peer {
  port: number
  rtpPort: number
  rtpIn: () => number
  send(text: string): void
  next(match: RegExp, timeoutMs?: number): Promise<string>
  close(): void
}

async function peer(sipPort: number): Promise<Peer> {
  const bind = async () => {
    const s = dgram.createSocket('udp4')
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r))
    return s
  }
  const s = await bind()
  const rtp = await bind()
  let rtpIn = 0
  rtp.on('message', () => rtpIn++)
  const received: string[] = []
  let cursor = 0
  s.on('message', (m) => received.push(m.toString('latin1')))
  return {
    port: s.address().port,
    rtpPort: rtp.address().port,
    rtpIn: () => rtpIn,
    send: (text) => s.send(Buffer.from(text, 'latin1'), sipPort, '127.0.0.1'),
    async next(match, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs
      while (Date.now() < deadline) {
        for (; cursor < received.length; cursor++) if (match.test(received[cursor])) return received[cursor++]
        await wait(5)
      }
      throw new Error(`no message matching ${match} in ${timeoutMs} ms; got:\n${received.map((m) => m.split('\r\n')[0]).join('\n')}`)
    },
    close: () => {
      s.close()
      rtp.close()
    },
  }
}

function request(method: string, p: Peer, o: { callId: string; toTag?: string; cseq?: number; body?: string; extra?: string[] }): string {
  const body = o.body ?? ''
  return [
    `${method} sip:sales@127.0.0.1 SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${p.port};branch=z9hG4bK${Math.random().toString(36).slice(2)};rport`,
    `From: <sip:79990000000@127.0.0.1>;tag=${o.callId}-caller`,
    `To: <sip:sales@127.0.0.1>${o.toTag ? ';tag=' + o.toTag : ''}`,
    `Call-ID: ${o.callId}`,
    `CSeq: ${o.cseq ?? 1} ${method}`,
    `Contact: <sip:79990000000@127.0.0.1:${p.port}>`,
    'Max-Forwards: 70',
    ...(o.extra ?? []),
    ...(body ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(body, 'latin1')}`,
    '',
    body,
  ].join('\r\n')
}

const toTagOf = (msg: string) => /^To:.*;tag=([^;\s]+)/im.exec(msg)?.[1] ?? ''
const bodyOf = (msg: string) => msg.slice(msg.indexOf('\r\n\r\n') + 4)
const answerSdp = (rtpPort: number, pt = 0, name = 'PCMU') =>
  `v=0\r\no=- 7 7 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${rtpPort} RTP/AVP ${pt}\r\na=rtpmap:${pt} ${name}/8000\r\na=sendrecv\r\n`

t.test('interop on a live server', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'voice-interop-'))
  const { cert, key } = makeCert(dir, 'sip', 'voice-agent.test')
  const tlsPort = await freeTcpPort()
  const server = await startServerProcess({
    SIP_T1_MS: '50',
    SESSION_EXPIRES_S: '3',
    MIN_SE_S: '2',
    SIP_TLS_PORT: String(tlsPort),
    SIP_TLS_CERT: cert,
    SIP_TLS_KEY: key,
  })
  t.teardown(() => server.stop())
  const record = async (callId: string) => {
    const calls = (await server.api('/api/calls')).body.calls as Array<Record<string, unknown>>
    return calls.find((c) => c.sipCallId === callId)
  }

  await t.test('delayed offer: our offer in the 200, the answer from the ACK is where RTP goes', async (t) => {
    const p = await peer(server.sipPort)
    t.teardown(() => p.close())
    p.send(request('INVITE', p, { callId: 'do-1' }))
    await p.next(/^SIP\/2\.0 180/)
    const ok = await p.next(/^SIP\/2\.0 200/)
    t.match(ok, /^Content-Type: application\/sdp/m, 'the 200 carries SDP')
    const offer = bodyOf(ok)
    t.match(offer, /^m=audio \d+ RTP\/AVP [\d ]+/m, 'an audio offer')
    t.match(offer, /a=rtpmap:0 PCMU\/8000/, 'PCMU offered')
    t.match(offer, /telephone-event/, 'telephone-event offered')
    p.send(request('ACK', p, { callId: 'do-1', toTag: toTagOf(ok), body: answerSdp(p.rtpPort) }))
    const deadline = Date.now() + 3000
    while (p.rtpIn() < 5 && Date.now() < deadline) await wait(20)
    t.ok(p.rtpIn() >= 5, `RTP reaches the port of the ACK's answer (${p.rtpIn()} packets)`)
    // a re-INVITE without SDP: the stream as it is offered in the 200, the answer in the ACK moves RTP
    const rtp2 = dgram.createSocket('udp4')
    await new Promise<void>((r) => rtp2.bind(0, '127.0.0.1', r))
    t.teardown(() => rtp2.close())
    let rtp2In = 0
    rtp2.on('message', () => rtp2In++)
    p.send(request('INVITE', p, { callId: 'do-1', toTag: toTagOf(ok), cseq: 2 }))
    const reOk = await p.next(/^SIP\/2\.0 200[\s\S]*CSeq: 2 INVITE/)
    const reOffer = bodyOf(reOk)
    t.match(reOffer, /^m=audio \d+ RTP\/AVP 0\r$/m, 'offered: the codec in use under its payload type (no telephone-event: the first answer had none)')
    t.match(reOffer, /^o=- \d+ 2 IN IP4/m, 'a new session version')
    p.send(request('ACK', p, { callId: 'do-1', toTag: toTagOf(ok), cseq: 2, body: answerSdp(rtp2.address().port) }))
    const until = Date.now() + 3000
    while (rtp2In < 5 && Date.now() < until) await wait(20)
    t.ok(rtp2In >= 5, `RTP moved to the port of the new answer (${rtp2In} packets)`)
    p.send(request('BYE', p, { callId: 'do-1', toTag: toTagOf(ok), cseq: 3 }))
    await p.next(/^SIP\/2\.0 200[\s\S]*CSeq: 3 BYE/)
    await wait(300)
    const rec = await record('do-1')
    t.equal(rec?.codec, 'PCMU')
    t.equal(rec?.result, 'caller-hangup')
  })

  await t.test('delayed offer with no usable answer in the ACK: BYE, failed / bad-answer', async (t) => {
    const p = await peer(server.sipPort)
    t.teardown(() => p.close())
    for (const [callId, body] of [
      ['do-none', ''],
      ['do-g729', answerSdp(p.rtpPort, 18, 'G729')],
    ]) {
      p.send(request('INVITE', p, { callId }))
      const ok = await p.next(new RegExp(`^SIP/2\\.0 200[\\s\\S]*Call-ID: ${callId}`))
      p.send(request('ACK', p, { callId, toTag: toTagOf(ok), body }))
      const bye = await p.next(new RegExp(`^BYE [\\s\\S]*Call-ID: ${callId}`))
      p.send(
        `SIP/2.0 200 OK\r\n${bye
          .split('\r\n')
          .filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l))
          .join('\r\n')}\r\nContent-Length: 0\r\n\r\n`,
      )
      await wait(300)
      const rec = await record(callId)
      t.equal(rec?.result, 'failed', `${callId}: failed`)
      t.equal(rec?.endReason, 'bad-answer', `${callId}: bad-answer`)
    }
  })

  await t.test('session timers: 422 below MIN_SE_S; BYE and failed / session-expired without a refresh', async (t) => {
    const p = await peer(server.sipPort)
    t.teardown(() => p.close())
    const sdp = answerSdp(p.rtpPort)
    p.send(request('INVITE', p, { callId: 'st-small', body: sdp, extra: ['Supported: timer', 'Session-Expires: 1'] }))
    const r422 = await p.next(/^SIP\/2\.0 422[\s\S]*Call-ID: st-small/)
    t.match(r422, /^Min-SE: 2\r$/m, 'Min-SE: MIN_SE_S')
    p.send(request('INVITE', p, { callId: 'st-exp', body: sdp, extra: ['Supported: timer'] }))
    const ok = await p.next(/^SIP\/2\.0 200[\s\S]*Call-ID: st-exp/)
    t.match(ok, /^Session-Expires: 3;refresher=uac\r$/m, 'SESSION_EXPIRES_S, the caller refreshes')
    t.match(ok, /^Require: timer\r$/m)
    p.send(request('ACK', p, { callId: 'st-exp', toTag: toTagOf(ok) }))
    const t0 = Date.now()
    const bye = await p.next(/^BYE [\s\S]*Call-ID: st-exp/, 5000)
    t.ok(Date.now() - t0 >= 1800, `BYE ${Date.now() - t0} ms after the 200 (3 s less a third)`)
    p.send(
      `SIP/2.0 200 OK\r\n${bye
        .split('\r\n')
        .filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l))
        .join('\r\n')}\r\nContent-Length: 0\r\n\r\n`,
    )
    await wait(500)
    const rec = await record('st-exp')
    t.equal(rec?.endReason, 'session-expired')
    t.equal(rec?.result, 'failed')
  })

  await t.test('a call over TLS (SIP_TLS_PORT): answered over the connection, RTP flows, BYE', async (t) => {
    const rtp = dgram.createSocket('udp4')
    await new Promise<void>((r) => rtp.bind(0, '127.0.0.1', r))
    let rtpIn = 0
    rtp.on('message', () => rtpIn++)
    t.teardown(() => rtp.close())
    const socket = tls.connect({ host: '127.0.0.1', port: tlsPort, rejectUnauthorized: false })
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject))
    t.teardown(() => socket.destroy())
    t.equal((socket.getPeerCertificate().subject as { CN?: string }).CN, 'voice-agent.test', 'our certificate')
    let data = ''
    socket.on('data', (d) => (data += d.toString('latin1')))
    const next = async (match: RegExp) => {
      const deadline = Date.now() + 5000
      while (Date.now() < deadline) {
        const m = match.exec(data)
        if (m) {
          data = data.slice(m.index + m[0].length)
          return m[0]
        }
        await wait(10)
      }
      throw new Error(`no ${match} over TLS; got ${data.slice(0, 300)}`)
    }
    const local = socket.localPort!
    const p = { port: local } as Peer
    const tlsRequest = (method: string, o: Parameters<typeof request>[2]) =>
      request(method, p, o)
        .replace('SIP/2.0/UDP', 'SIP/2.0/TLS')
        .replace(/^(Contact: <[^>]+)>/m, '$1;transport=tls>')
    socket.write(tlsRequest('INVITE', { callId: 'tls-1', body: answerSdp(rtp.address().port) }))
    const ok = await next(/SIP\/2\.0 200 OK\r\n[\s\S]*?\r\n\r\n/)
    t.match(ok, new RegExp(`^Contact: .*:${tlsPort};transport=tls`, 'm'))
    socket.write(tlsRequest('ACK', { callId: 'tls-1', toTag: toTagOf(ok) }))
    const until = Date.now() + 3000
    while (rtpIn < 5 && Date.now() < until) await wait(20)
    t.ok(rtpIn >= 5, `RTP flows (${rtpIn} packets)`)
    socket.write(tlsRequest('BYE', { callId: 'tls-1', toTag: toTagOf(ok), cseq: 2 }))
    await next(/SIP\/2\.0 200 OK\r\n(?:[^\r]*\r\n)*?CSeq: 2 BYE/)
    await wait(300)
    const rec = await record('tls-1')
    t.equal(rec?.result, 'caller-hangup')
  })
})
