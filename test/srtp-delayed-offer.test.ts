// SRTP=required and an INVITE without SDP: our offer in the 200 is RTP/SAVP with both suites, each
// with its own key; the caller's answer in the ACK picks AES_CM_128_HMAC_SHA1_32 and the call's
// media is SRTP with it both ways, through the media worker (the suite baresip 1.0.0 never offers).
import dgram from 'node:dgram'
import t from 'tap'
import { parse } from 'sdp-transform'
import { writeRtpHeader } from '../rtp/packet.ts'
import { newMasterKey } from '../rtp/srtp/sdes.ts'
import { SrtpReceiver, SrtpSender } from '../rtp/srtp/srtp-transform.ts'
import { peer, request } from './helpers/raw-sip-peer.ts'
import { startServerProcess } from './helpers/server-process.ts'
import { waitFor } from './helpers/storage-call.ts'

const SUITE = 'AES_CM_128_HMAC_SHA1_32'

t.test('delayed offer with SRTP=required: RTP/SAVP offered, the _32 suite answered, SRTP both ways', async (t) => {
  const s = await startServerProcess({ SRTP: 'required', MEDIA_WORKERS: '1', RTP_PORT_MIN: '33400', RTP_PORT_MAX: '33499' })
  t.teardown(() => s.stop())
  const p = await peer(s.sipPort)
  const rtp = dgram.createSocket('udp4')
  await new Promise<void>((r) => rtp.bind(0, '127.0.0.1', r))
  t.teardown(() => {
    p.close()
    rtp.close()
  })
  const callId = 'srtp-do-1'
  const to = 'To: <sip:sales@127.0.0.1>'
  p.send(request('INVITE', p.port, callId, 1, [to]))
  const ok = await p.next(/^SIP\/2\.0 200/, 10_000)
  const offer = parse(ok.slice(ok.indexOf('\r\n\r\n') + 4)).media[0]
  t.equal(offer.protocol, 'RTP/SAVP', 'our offer is RTP/SAVP')
  t.same(
    offer.crypto?.map((c) => c.suite),
    ['AES_CM_128_HMAC_SHA1_80', SUITE],
    'both suites',
  )
  const ours = offer.crypto!.find((c) => c.suite === SUITE)!
  const ourKey = ours.config.replace(/^inline:/, '')
  t.not(ourKey, offer.crypto![0].config.replace(/^inline:/, ''), 'a key per line')
  const theirKey = newMasterKey(SUITE)
  const answer = [
    'v=0',
    'o=- 7 7 IN IP4 127.0.0.1',
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${rtp.address().port} RTP/SAVP 0`,
    'a=rtpmap:0 PCMU/8000',
    `a=crypto:${ours.id} ${SUITE} inline:${theirKey}`,
    'a=sendrecv',
    '',
  ].join('\r\n')
  const toTag = /^To:.*;tag=([^;\s]+)/im.exec(ok)![1]
  p.send(request('ACK', p.port, callId, 1, [`${to};tag=${toTag}`], answer))

  // our packets: SRTP under the key of the line the answer chose, with the 32-bit tag
  const receiver = new SrtpReceiver(SUITE, Buffer.from(ourKey, 'base64'))
  let authenticated = 0
  let refused = 0
  let serverRtp: { port: number } | undefined
  rtp.on('message', (m, rinfo) => {
    if (m[1] >= 192 && m[1] <= 223) return // RTCP
    serverRtp = { port: rinfo.port }
    const plain = receiver.unprotect(Buffer.from(m))
    if (typeof plain === 'string') refused++
    else if (m.length === plain.length + 4) authenticated++
  })
  await waitFor('SRTP from the server', async () => authenticated >= 20)
  t.equal(refused, 0, `${authenticated} packets from the server authenticated and decrypted, none refused`)

  // theirs: 50 SRTP packets in, decrypted by the server
  const sender = new SrtpSender(SUITE, Buffer.from(theirKey, 'base64'))
  for (let i = 0; i < 50; i++) {
    const b = Buffer.alloc(12 + 160 + 4)
    writeRtpHeader(b, { marker: i === 0, payloadType: 0, sequenceNumber: 65500 + i, timestamp: i * 160, ssrc: 0x5151 })
    b.fill(0x7f, 12, 172)
    rtp.send(b.subarray(0, sender.protect(b, 172)), serverRtp!.port, '127.0.0.1')
    await new Promise((r) => setTimeout(r, 20))
  }
  const calls = (await s.api('/api/calls?limit=1')).body.calls
  const live = await waitFor('the call counters', async () => {
    const c = (await s.api(`/api/calls/${calls[0].id}`)).body
    return c.rtpStats?.packetsIn >= 50 && c
  })
  t.equal(live.rtpStats.srtp, SUITE)
  t.equal(live.rtpStats.dropped['srtp-auth'], undefined, 'every packet across the sequence number wrap authenticated')
  p.send(request('BYE', p.port, callId, 2, [`${to};tag=${toTag}`]))
  await p.next(/^SIP\/2\.0 200[\s\S]*CSeq: 2 BYE/)
})
