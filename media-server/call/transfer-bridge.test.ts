// The bridge of a transfer over real loopback UDP: RTP between the two socket pairs, RTCP on its
// own sockets when neither phone muxes it, inside the RTP relay when both do.
import dgram from 'node:dgram'
import { once } from 'node:events'
import t, { type Test } from 'tap'
import { RTP_HEADER_BYTES, writeRtpHeader } from '../../rtp/packet.ts'
import type { RtpPortPair } from '../../rtp/port-pool.ts'
import { TransferBridge, type BridgeSide } from './transfer-bridge.ts'

async function socket(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4')
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r))
  return s
}

async function pair(): Promise<RtpPortPair> {
  const [rtp, rtcp] = await Promise.all([socket(), socket()])
  return { port: rtp.address().port, rtp, rtcp }
}

/** A phone: its RTP and RTCP sockets, and the bridge side that sends to them through `ours`. */
async function phone(ours: RtpPortPair, rtcpMux: boolean, payloadTypes: number[]) {
  const rtp = await socket()
  const rtcp = rtcpMux ? rtp : await socket()
  const side: BridgeSide = {
    ports: ours,
    rtp: { address: '127.0.0.1', port: rtp.address().port },
    rtcp: { address: '127.0.0.1', port: rtcp.address().port },
    rtcpMux,
    payloadTypes: new Set(payloadTypes),
  }
  return { rtp, rtcp, side }
}

function rtpPacket(payloadType: number, seq: number): Buffer {
  const b = Buffer.alloc(RTP_HEADER_BYTES + 4)
  writeRtpHeader(b, { marker: false, payloadType, sequenceNumber: seq, timestamp: seq * 160, ssrc: 7 })
  return b
}

/** An RTCP receiver report with no blocks (RFC 3550 6.4.2): packet type 201 in the second byte. */
const RTCP_RR = Buffer.from([0x80, 201, 0, 1, 0, 0, 0, 7])

async function bridged(t: Test, rtcpMux: boolean, sellerTakes = [0, 101]) {
  const [callerPorts, sellerPorts] = await Promise.all([pair(), pair()])
  const caller = await phone(callerPorts, rtcpMux, [0, 101])
  const seller = await phone(sellerPorts, rtcpMux, sellerTakes)
  t.teardown(() =>
    new Set([callerPorts.rtp, callerPorts.rtcp, sellerPorts.rtp, sellerPorts.rtcp, caller.rtp, caller.rtcp, seller.rtp, seller.rtcp]).forEach((s) => s.close()),
  )
  const bridge = new TransferBridge(caller.side, seller.side)
  bridge.start()
  return { bridge, caller, seller, callerPorts, sellerPorts }
}

t.test('neither side muxes: RTP and RTCP each on their own relay', async (t) => {
  const { bridge, caller, seller, callerPorts, sellerPorts } = await bridged(t, false)
  const rtpAtSeller = once(seller.rtp, 'message')
  caller.rtp.send(rtpPacket(0, 1), callerPorts.port, '127.0.0.1')
  t.same((await rtpAtSeller)[0], rtpPacket(0, 1), "the caller's packet, unchanged")
  const rtcpAtCaller = once(caller.rtcp, 'message')
  seller.rtcp.send(RTCP_RR, sellerPorts.rtcp.address().port, '127.0.0.1')
  t.same((await rtcpAtCaller)[0], RTCP_RR, "the seller's RTCP reaches the caller's RTCP port")
  t.same(bridge.counts, {
    rtp: { callerToSeller: 1, sellerToCaller: 0, dropped: 0, filtered: 0, unauthenticated: 0 },
    rtcp: { callerToSeller: 0, sellerToCaller: 1, dropped: 0, filtered: 0, unauthenticated: 0 },
  })
  bridge.stop()
})

t.test('both mux: one relay carries everything', async (t) => {
  const { bridge, caller, seller, sellerPorts } = await bridged(t, true)
  const atCaller = once(caller.rtp, 'message')
  seller.rtp.send(RTCP_RR, sellerPorts.port, '127.0.0.1')
  t.same((await atCaller)[0], RTCP_RR, 'muxed RTCP passes the payload-type filter')
  t.same(bridge.counts, { rtp: { callerToSeller: 0, sellerToCaller: 1, dropped: 0, filtered: 0, unauthenticated: 0 } }, 'no separate RTCP relay')
  bridge.stop()
})

t.test("the caller's RFC 4733 digits reach the seller only if the seller's answer kept telephone-event", async (t) => {
  for (const [takes, want] of [
    [[0, 101], 2],
    [[0], 1],
  ] as const) {
    const { bridge, caller, seller, callerPorts } = await bridged(t, false, [...takes])
    const got: number[] = []
    seller.rtp.on('message', (m: Buffer) => got.push(m[1] & 0x7f))
    caller.rtp.send(rtpPacket(101, 1), callerPorts.port, '127.0.0.1') // a digit
    caller.rtp.send(rtpPacket(0, 2), callerPorts.port, '127.0.0.1') // then audio
    while (got.length < want) await once(seller.rtp, 'message')
    await new Promise((r) => setTimeout(r, 30))
    t.same(got, want === 2 ? [101, 0] : [0], `seller takes ${takes.join(', ')}: it got payload types ${got.join(', ')}`)
    t.equal(bridge.counts.rtp.filtered, 2 - want)
    bridge.stop()
  }
})
