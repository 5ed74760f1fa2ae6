// The bridge of a transfer over real loopback UDP: RTP between the two socket pairs, RTCP on its
// own sockets when neither phone muxes it, inside the RTP relay when both do.
import dgram from 'node:dgram'
import { once } from 'node:events'
import t, { type Test } from 'tap'
import type { RtpPortPair } from '../rtp/port-pool.ts'
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
async function phone(ours: RtpPortPair, rtcpMux: boolean) {
  const rtp = await socket()
  const rtcp = rtcpMux ? rtp : await socket()
  const side: BridgeSide = { ports: ours, rtp: { address: '127.0.0.1', port: rtp.address().port }, rtcp: { address: '127.0.0.1', port: rtcp.address().port }, rtcpMux }
  return { rtp, rtcp, side }
}

async function bridged(t: Test, rtcpMux: boolean) {
  const [callerPorts, sellerPorts] = await Promise.all([pair(), pair()])
  const caller = await phone(callerPorts, rtcpMux)
  const seller = await phone(sellerPorts, rtcpMux)
  t.teardown(() => new Set([callerPorts.rtp, callerPorts.rtcp, sellerPorts.rtp, sellerPorts.rtcp, caller.rtp, caller.rtcp, seller.rtp, seller.rtcp]).forEach((s) => s.close()))
  const bridge = new TransferBridge(caller.side, seller.side)
  bridge.start()
  return { bridge, caller, seller, callerPorts, sellerPorts }
}

t.test('neither side muxes: RTP and RTCP each on their own relay', async (t) => {
  const { bridge, caller, seller, callerPorts, sellerPorts } = await bridged(t, false)
  const rtpAtSeller = once(seller.rtp, 'message')
  caller.rtp.send(Buffer.from('rtp from the caller'), callerPorts.port, '127.0.0.1')
  t.equal(String((await rtpAtSeller)[0]), 'rtp from the caller')
  const rtcpAtCaller = once(caller.rtcp, 'message')
  seller.rtcp.send(Buffer.from('rtcp from the seller'), sellerPorts.rtcp.address().port, '127.0.0.1')
  t.equal(String((await rtcpAtCaller)[0]), 'rtcp from the seller', "the seller's RTCP reaches the caller's RTCP port")
  t.same(bridge.counts, {
    rtp: { callerToSeller: 1, sellerToCaller: 0, dropped: 0 },
    rtcp: { callerToSeller: 0, sellerToCaller: 1, dropped: 0 },
  })
  bridge.stop()
})

t.test('both mux: one relay carries everything', async (t) => {
  const { bridge, caller, seller, sellerPorts } = await bridged(t, true)
  const atCaller = once(caller.rtp, 'message')
  seller.rtp.send(Buffer.from('rtcp or rtp'), sellerPorts.port, '127.0.0.1')
  await atCaller
  t.same(bridge.counts, { rtp: { callerToSeller: 0, sellerToCaller: 1, dropped: 0 } }, 'no separate RTCP relay')
  bridge.stop()
})
