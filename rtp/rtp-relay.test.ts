// The relay between two real UDP peers on loopback: bytes untouched both ways, symmetric
// latching to the peer's real source port, strangers dropped; an SRTP side unprotected and
// protected in the relay.
import dgram from 'node:dgram'
import { once } from 'node:events'
import t from 'tap'
import { writeRtpHeader, RTP_HEADER_BYTES } from './packet.ts'
import { RtpRelay } from './rtp-relay.ts'
import { newMasterKey } from './srtp/sdes.ts'
import { relayContext, srtpContext } from './srtp/srtp-context.ts'

async function socket(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4')
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r))
  return s
}

function rtp(seq: number, ssrc: number): Buffer {
  const b = Buffer.alloc(RTP_HEADER_BYTES + 160, seq & 0xff)
  writeRtpHeader(b, { marker: false, payloadType: 0, sequenceNumber: seq, timestamp: seq * 160, ssrc })
  return b
}

t.test('RtpRelay forwards datagrams unchanged both ways', async (t) => {
  const [relayA, relayB, caller, seller] = await Promise.all([socket(), socket(), socket(), socket()])
  t.teardown(() => [relayA, relayB, caller, seller].forEach((s) => s.close()))
  // The caller's SDP names a port it does not send from: the relay must latch to the real one.
  const relay = new RtpRelay(
    { socket: relayA, remote: { address: '127.0.0.1', port: 9 } },
    { socket: relayB, remote: { address: '127.0.0.1', port: seller.address().port } },
  )
  t.throws(() => new RtpRelay({ socket: relayA, remote: { address: '127.0.0.1', port: 1 } }, { socket: relayA, remote: { address: '127.0.0.1', port: 2 } }))
  relay.start()

  const atSeller: Buffer[] = []
  const atCaller: Buffer[] = []
  seller.on('message', (m) => {
    atSeller.push(m)
    seller.send(m, relayB.address().port, '127.0.0.1') // echo, as the test's seller phone does
  })
  caller.on('message', (m) => atCaller.push(m))
  const sent = Array.from({ length: 20 }, (_, i) => rtp(65530 + i, 0xcafe0001))
  for (const p of sent) caller.send(p, relayA.address().port, '127.0.0.1')
  while (atCaller.length < sent.length) await once(caller, 'message')
  t.same(
    atSeller.map((b) => b.toString('hex')),
    sent.map((b) => b.toString('hex')),
    'the seller got every packet byte for byte, in order',
  )
  t.same(
    atCaller.map((b) => b.toString('hex')),
    sent.map((b) => b.toString('hex')),
    "the echo came back to the caller's real port unchanged",
  )
  t.equal(relay.remotes.a.port, caller.address().port, "latched to the caller's source port")
  t.same({ aToB: relay.counts.aToB, bToA: relay.counts.bToA }, { aToB: 20, bToA: 20 })

  relay.stop()
  caller.send(rtp(1, 1), relayA.address().port, '127.0.0.1')
  await new Promise((r) => setTimeout(r, 50))
  t.equal(relay.counts.aToB, 20, 'nothing is forwarded after stop()')
})

t.test('RtpRelay drops datagrams from anyone but the peers', async (t) => {
  const [relayA, relayB, seller] = await Promise.all([socket(), socket(), socket()])
  const stranger = dgram.createSocket('udp4')
  await new Promise<void>((r) => stranger.bind(0, '127.0.0.2', r))
  t.teardown(() => [relayA, relayB, seller, stranger].forEach((s) => s.close()))
  const relay = new RtpRelay(
    { socket: relayA, remote: { address: '127.0.0.1', port: 9 } },
    { socket: relayB, remote: { address: '127.0.0.1', port: seller.address().port } },
  )
  relay.start()
  t.teardown(() => relay.stop())
  let got = 0
  seller.on('message', () => got++)
  stranger.send(rtp(1, 2), relayA.address().port, '127.0.0.1')
  await new Promise((r) => setTimeout(r, 50))
  t.equal(got, 0, "a stranger's packet is not forwarded")
  t.equal(relay.counts.dropped, 1)
  t.equal(relay.remotes.a.port, 9, 'and does not move the latch')
})

t.test('a phone whose SDP names another address (behind NAT) is taken from its SIP address, and answered there', async (t) => {
  const [relayA, relayB, caller] = await Promise.all([socket(), socket(), socket()])
  const natted = dgram.createSocket('udp4') // the seller's phone: SDP says 192.0.2.77, it sends from 127.0.0.2
  await new Promise<void>((r) => natted.bind(0, '127.0.0.2', r))
  t.teardown(() => [relayA, relayB, caller, natted].forEach((s) => s.close()))
  const relay = new RtpRelay(
    { socket: relayA, remote: { address: '127.0.0.1', port: caller.address().port } },
    { socket: relayB, remote: { address: '192.0.2.77', port: 4000 }, signallingAddress: '127.0.0.2' },
  )
  relay.start()
  t.teardown(() => relay.stop())
  let toCaller = 0
  let toPhone = 0
  caller.on('message', () => toCaller++)
  natted.on('message', () => toPhone++)
  natted.send(rtp(1, 2), relayB.address().port, '127.0.0.1')
  await new Promise((r) => setTimeout(r, 50))
  t.equal(toCaller, 1, 'its packet from the SIP address reaches the caller')
  t.same(relay.remotes.b, { address: '127.0.0.2', port: natted.address().port }, 'and the relay answers where it came from')
  caller.send(rtp(2, 3), relayA.address().port, '127.0.0.1')
  await new Promise((r) => setTimeout(r, 50))
  t.equal(toPhone, 1, "the caller's packet reaches the phone at its real address")
  t.equal(relay.counts.dropped, 0)
})

t.test('RtpRelay with an SRTP side: unprotected towards the plain side, protected back, forgeries dropped', async (t) => {
  const [relayA, relayB, caller, seller] = await Promise.all([socket(), socket(), socket(), socket()])
  t.teardown(() => [relayA, relayB, caller, seller].forEach((s) => s.close()))
  // The caller's phone and our side of its call, each with the other's key, as SDES left them.
  const phoneKey = newMasterKey('AES_CM_128_HMAC_SHA1_80')
  const ourKey = newMasterKey('AES_CM_128_HMAC_SHA1_80')
  const phone = srtpContext({ suite: 'AES_CM_128_HMAC_SHA1_80', local: phoneKey, remote: ourKey })
  const ours = { suite: 'AES_CM_128_HMAC_SHA1_80' as const, local: ourKey, remote: phoneKey }
  const relay = new RtpRelay(
    { socket: relayA, remote: { address: '127.0.0.1', port: caller.address().port }, srtp: relayContext(ours, srtpContext(ours)) },
    { socket: relayB, remote: { address: '127.0.0.1', port: seller.address().port } },
  )
  relay.start()
  const atSeller: Buffer[] = []
  const atCaller: Buffer[] = []
  seller.on('message', (m) => {
    atSeller.push(m)
    seller.send(m, relayB.address().port, '127.0.0.1')
  })
  caller.on('message', (m) => atCaller.push(m))
  const sent = Array.from({ length: 10 }, (_, i) => rtp(100 + i, 0xcafe0002))
  for (const p of sent) {
    const out = Buffer.alloc(p.length + phone.rtpOut.overhead)
    p.copy(out)
    caller.send(out.subarray(0, phone.rtpOut.protect(out, p.length)), relayA.address().port, '127.0.0.1')
  }
  caller.send(rtp(999, 0xcafe0002), relayA.address().port, '127.0.0.1') // in the clear: a forgery
  while (atCaller.length < sent.length) await once(caller, 'message')
  t.same(
    atSeller.map((b) => b.toString('hex')),
    sent.map((b) => b.toString('hex')),
    'the plain seller got the clear packets',
  )
  const back = atCaller.map((m) => phone.rtpIn.unprotect(Buffer.from(m)))
  t.ok(
    back.every((b) => typeof b !== 'string'),
    "the caller's phone authenticates what came back",
  )
  t.same(
    back.map((b) => (b as Buffer).toString('hex')),
    sent.map((b) => b.toString('hex')),
    'and it decrypts to what the seller sent',
  )
  t.equal(relay.counts.unauthenticated, 1, 'the clear packet from the SRTP side was dropped and counted')
})
