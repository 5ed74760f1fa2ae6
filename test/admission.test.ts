// Call admission on a live server over UDP: 488 when no offered codec is supported, 503
// when the RTP port pool is empty, and the pool refilled when a call ends.
import dgram from 'node:dgram'
import t from 'tap'
import { startServerProcess } from './helpers/server-process.ts'

function invite(callId: string, port: number, payloads: string, rtpmaps: string): string {
  const sdp = `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP ${payloads}\r\n${rtpmaps}`
  return [
    'INVITE sip:sales@127.0.0.1 SIP/2.0',
    `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK${callId};rport`,
    `From: <sip:79990000000@127.0.0.1>;tag=${callId}`,
    'To: <sip:sales@127.0.0.1>',
    `Call-ID: ${callId}`,
    'CSeq: 1 INVITE',
    `Contact: <sip:79990000000@127.0.0.1:${port}>`,
    'Max-Forwards: 70',
    'Content-Type: application/sdp',
    `Content-Length: ${sdp.length}`,
    '',
    sdp,
  ].join('\r\n')
}

t.test('admission: 488 for no common codec, 503 for no RTP port', async (t) => {
  // One RTP/RTCP pair only.
  const server = await startServerProcess({ RTP_PORT_MIN: '36200', RTP_PORT_MAX: '36201', ANSWER_DELAY_MS: '60000' })
  t.teardown(() => server.stop())
  const sock = dgram.createSocket('udp4')
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r))
  t.teardown(() => sock.close())
  const port = sock.address().port
  const finals = new Map<string, string>()
  sock.on('message', (m) => {
    const text = m.toString('latin1')
    const status = /^SIP\/2\.0 (\d{3}) ([^\r]*)/.exec(text)
    const callId = /^Call-ID: (.*)$/m.exec(text)?.[1]?.trim()
    if (status && callId && status[1] !== '100' && !finals.has(callId)) finals.set(callId, `${status[1]} ${status[2]}`)
  })
  const send = (text: string) => sock.send(Buffer.from(text, 'latin1'), server.sipPort, '127.0.0.1')
  const settle = () => new Promise((r) => setTimeout(r, 500))

  send(invite('g729only', port, '18', 'a=rtpmap:18 G729/8000\r\n'))
  await settle()
  t.match(finals.get('g729only'), /^488/, 'no supported codec: 488')

  send(invite('first', port, '0', 'a=rtpmap:0 PCMU/8000\r\n'))
  await settle()
  t.match(finals.get('first'), /^180/, 'the first call takes the only port pair and rings')

  send(invite('second', port, '0', 'a=rtpmap:0 PCMU/8000\r\n'))
  await settle()
  t.match(finals.get('second'), /^503/, 'no RTP port left: 503')

  const calls = (await server.api('/api/calls')).body.calls
  const byId = Object.fromEntries(calls.map((c: any) => [c.sipCallId, c]))
  t.equal(byId.g729only.result, 'failed')
  t.match(byId.g729only.endReason, /^488 /)
  t.match(byId.second.endReason, /^503 /)
  t.equal(byId.first.endedAt, null, 'the first call is still in progress')
})
