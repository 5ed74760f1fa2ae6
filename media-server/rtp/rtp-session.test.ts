// RtpSession over real loopback UDP: latching, garbage and foreign packets, RFC 4733
// digits, and the outgoing stream's marker bit and continuity.
import dgram from 'node:dgram'
import { once } from 'node:events'
import pino from 'pino'
import t from 'tap'
import { PcmuCodec } from '../../codecs/pcmu.ts'
import { writeTelephoneEvent } from '../../codecs/telephone-event.ts'
import { Metrics } from '../metrics.ts'
import { writeRtpHeader } from './packet.ts'
import { RtpPortPool, type RtpPortPair } from './port-pool.ts'
import { RTCP_BYE, RTCP_RR, RTCP_SR, parseRtcp, type RtcpPacket } from './rtcp.ts'
import { RtpSession } from './rtp-session.ts'

async function socket(address = '127.0.0.1'): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4')
  await new Promise<void>((r) => s.bind(0, address, r))
  return s
}

function rtp(pt: number, seq: number, ts: number, payload: Uint8Array, marker = false, ssrc = 0x1234): Buffer {
  const b = Buffer.alloc(12 + payload.length)
  writeRtpHeader(b, { marker, payloadType: pt, sequenceNumber: seq, timestamp: ts, ssrc })
  b.set(payload, 12)
  return b
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A PCMU session whose SDP names 127.0.0.2: the caller (127.0.0.1) is trusted because it is the SIP peer. */
function sessionOn(ports: RtpPortPair, metrics: Metrics, now?: () => number): RtpSession {
  return new RtpSession({
    ports,
    codec: new PcmuCodec(),
    payloadType: 0,
    telephoneEventPt: 101,
    remote: { address: '127.0.0.2', port: 9, rtcpPort: 10 },
    rtcpMux: false,
    signallingAddress: '127.0.0.1',
    ptimeMs: 20,
    clockPeriodMs: 20,
    jitter: { initialDelayMs: 40, maxDelayMs: 200 },
    cname: 'test@127.0.0.1',
    now,
    metrics,
    logger: pino({ level: 'silent' }),
  })
}

t.test('RTP session', async (t) => {
  const pool = new RtpPortPool(35000, 35009, '127.0.0.1')
  const ports = await pool.allocate()
  t.ok(ports)
  t.equal(ports!.port % 2, 0, 'RTP port is even')
  const caller = await socket()
  const stranger = await socket('127.0.0.3') // neither the SDP nor the SIP peer's address
  t.teardown(() => {
    caller.close()
    stranger.close()
  })
  const metrics = new Metrics()
  const callerRtcp = await socket()
  t.teardown(() => callerRtcp.close())
  let now = 1000
  const session = sessionOn(ports!, metrics, () => now)
  const audio: number[] = []
  const digits: string[] = []
  session.onAudio = (pcm) => audio.push(pcm.length)
  session.onDtmf = (d, source) => digits.push(`${d}:${source}`)
  const send = (s: dgram.Socket, b: Buffer) => s.send(b, ports!.port, '127.0.0.1')

  await t.test('garbage is counted and ignored', async (t) => {
    send(caller, Buffer.from([0x80, 0x00, 0x01])) // too short
    send(caller, Buffer.from('this is not RTP at all, not even close')) // version 1
    send(stranger, rtp(0, 7, 700, new Uint8Array(160))) // before the caller's source is known
    await wait(50)
    t.equal(session.stats.dropped['foreign-source'], 1, 'a stranger before latching is counted and ignored')
    t.equal(audio.length, 0)
    t.equal(session.stats.dropped['too-short'], 1)
    t.equal(session.stats.dropped['bad-version'], 1)
  })

  await t.test('symmetric RTP: latch onto the caller, ignore strangers', async (t) => {
    send(caller, rtp(0, 100, 16000, new Uint8Array(160).fill(0xff)))
    await wait(30)
    t.equal(audio.length, 0, 'held in the jitter buffer')
    now += 100
    session.onTick(1)
    t.equal(audio.length, 0, 'sending comes first in a tick')
    session.afterTick()
    t.equal(audio.length, 1, 'played out on the clock tick after the buffer delay')
    t.ok(audio[0] > 200 && audio[0] <= 320, `decoded to 16 kHz (${audio[0]} samples)`)
    t.same(session.remoteAddress, { address: '127.0.0.1', port: caller.address().port, latched: true })
    send(stranger, rtp(0, 101, 16160, new Uint8Array(160).fill(0xff)))
    send(caller, rtp(18, 102, 16320, new Uint8Array(20))) // G.729, not negotiated
    send(caller, Buffer.from([0x80, 201, 0, 1, 0, 0, 0, 1])) // an RTCP RR on the RTP port without rtcp-mux
    await wait(30)
    t.equal(session.jitterBuffer.stats.received, 1, 'only the caller\'s PCMU reached the jitter buffer')
    t.equal(session.stats.dropped['rtcp-on-rtp-port'], 1)
    // After latching the socket is connected to the caller: the kernel drops the stranger.
    t.equal(session.stats.dropped['foreign-source'], 1)
    t.equal(session.stats.dropped['unknown-payload-type'], 1)
  })

  await t.test('RFC 4733: one digit per key press, end retransmissions removed', async (t) => {
    const ev = new Uint8Array(4)
    let seq = 200
    const press = (event: number, ts: number) => {
      for (let d = 160; d <= 800; d += 160) {
        writeTelephoneEvent(ev, { event, end: false, volume: 10, duration: d })
        send(caller, rtp(101, seq++, ts, ev, d === 160))
      }
      for (let i = 0; i < 3; i++) {
        writeTelephoneEvent(ev, { event, end: true, volume: 10, duration: 960 })
        send(caller, rtp(101, seq++, ts, ev))
      }
    }
    press(7, 20000)
    press(7, 21600) // the same key again is a new press: new timestamp
    press(11, 23200)
    await wait(80)
    t.same(digits, ['7:rfc4733', '7:rfc4733', '#:rfc4733'])
  })

  await t.test('outgoing: marker on the first packet of a prompt, continuous seq and timestamp', async (t) => {
    const got: Buffer[] = []
    caller.on('message', (m) => got.push(m))
    const prompt = new Int16Array(960).fill(4000) // 60 ms at 16 kHz: three packets
    const played = session.play(prompt)
    for (let tick = 2; tick <= 7; tick++) session.onTick(tick)
    t.equal(await played, true)
    await wait(30)
    t.equal(got.length, 6)
    t.same(got.map((b) => (b[1] & 0x80) !== 0), [true, false, false, false, false, false])
    for (let i = 1; i < got.length; i++) {
      t.equal((got[i].readUInt16BE(2) - got[i - 1].readUInt16BE(2)) & 0xffff, 1)
      t.equal((got[i].readUInt32BE(4) - got[i - 1].readUInt32BE(4)) >>> 0, 160)
    }
    t.ok(got.slice(4).every((b) => b.length === 172 && b.subarray(12).every((x) => x === 0xff || x === 0x7f)), 'silence (mu-law zero) once the prompt has played out')
  })

  await t.test('RTCP: a BYE goes to the peer\'s RTCP port at close', async (t) => {
    session.update({ address: '127.0.0.1', port: caller.address().port, rtcpPort: callerRtcp.address().port }, 'sendrecv')
    const got: Buffer[] = []
    callerRtcp.on('message', (m) => got.push(m))
    session.close()
    await wait(50)
    t.ok(got.length >= 1, 'RTCP sent at close')
    const packets = parseRtcp(got.at(-1)!)
    t.ok(Array.isArray(packets), 'a valid compound packet')
    const types = (packets as RtcpPacket[]).map((p) => p.type)
    t.ok(types[0] === RTCP_SR || types[0] === RTCP_RR, 'a report leads the compound (RFC 3550 §6.1)')
    t.ok(types.includes(RTCP_BYE), 'it carries a BYE')
  })
  pool.release(ports!)
  const m = await metrics.registry.metrics()
  t.match(m, /voice_rtp_packets_dropped_total\{reason="foreign-source"\} 1/)
})

t.test('handOver: the session stops its own media and leaves the sockets usable by a new owner', async (t) => {
  const pool = new RtpPortPool(35010, 35019, '127.0.0.1')
  const ports = (await pool.allocate())!
  const [caller, elsewhere] = await Promise.all([socket(), socket()])
  t.teardown(() => {
    caller.close()
    elsewhere.close()
    pool.release(ports)
  })
  const session = sessionOn(ports, new Metrics())
  const first = once(ports.rtp, 'message')
  caller.send(rtp(0, 1, 160, new Uint8Array(160)), ports.port, '127.0.0.1')
  await first
  t.equal(session.remoteAddress.latched, true, 'latched (and connected) to the caller')

  const peer = session.handOver()
  t.equal(peer.ports, ports, 'the sockets are handed over')
  t.same(peer.rtp, { address: '127.0.0.1', port: caller.address().port }, 'the latched peer is handed over')
  t.same(peer.rtcp, { address: '127.0.0.2', port: 10 }, "and where the peer's RTCP goes")
  const heard: Buffer[] = []
  caller.on('message', (m) => heard.push(m))
  session.onTick(0)
  session.play(new Int16Array(320))
  session.onTick(1)
  // A connected socket would throw ERR_SOCKET_DGRAM_IS_CONNECTED on a send with an address.
  const relayed = once(elsewhere, 'message')
  ports.rtp.send(Buffer.from('relayed'), elsewhere.address().port, '127.0.0.1')
  t.equal(String((await relayed)[0]), 'relayed', 'the new owner sends from the RTP socket to another peer')
  const next = once(ports.rtp, 'message')
  caller.send(rtp(0, 2, 320, new Uint8Array(160)), ports.port, '127.0.0.1')
  await next
  t.equal(session.stats.packetsIn, 1, "the caller's next packet is not the session's any more")
  t.equal(session.stats.packetsOut, 0, 'and the clock ticks send nothing')
  t.same(heard, [], 'no RTP reached the caller after the hand-over')
})

t.test('the port pool runs dry and refills', async (t) => {
  const pool = new RtpPortPool(35100, 35103, '127.0.0.1')
  const a = await pool.allocate()
  const b = await pool.allocate()
  t.same([a?.port, b?.port], [35100, 35102])
  t.equal(await pool.allocate(), null, 'exhausted: the caller answers 503')
  pool.release(a!)
  const c = await pool.allocate()
  t.equal(c?.port, 35100)
  pool.release(b!)
  pool.release(c!)
})
