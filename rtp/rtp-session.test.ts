// RtpSession over real loopback UDP: latching, garbage and foreign packets, RFC 4733
// digits, the outgoing stream's marker bit and continuity, and packets prepared ahead of
// their send (flush, hold, resume, recvonly, and the encoder state after a dropped packet).
import dgram from 'node:dgram'
import { once } from 'node:events'
import pino from 'pino'
import t, { type Test } from 'tap'
import type { AudioCodec } from '../codecs/codec.ts'
import { createCodec, type CodecName } from '../codecs/index.ts'
import { PcmuCodec } from '../codecs/pcmu.ts'
import { writeTelephoneEvent } from '../codecs/telephone-event.ts'
import { writeRtpHeader } from './packet.ts'
import { RtpPortPool, type RtpPortPair } from './port-pool.ts'
import { RtpCounters } from './rtp-metrics.ts'
import { RTCP_BYE, RTCP_RR, RTCP_SR, parseRtcp, type RtcpPacket } from './rtcp.ts'
import { RtpSession, type RtpSessionOptions } from './rtp-session.ts'

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
function sessionOn(ports: RtpPortPair, metrics: RtpCounters, now?: () => number, extra: Partial<RtpSessionOptions> = {}): RtpSession {
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
    ...extra,
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
  const metrics = new RtpCounters()
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
    t.equal(session.jitterBuffer.stats.received, 1, "only the caller's PCMU reached the jitter buffer")
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
    t.same(
      got.map((b) => (b[1] & 0x80) !== 0),
      [true, false, false, false, false, false],
    )
    for (let i = 1; i < got.length; i++) {
      t.equal((got[i].readUInt16BE(2) - got[i - 1].readUInt16BE(2)) & 0xffff, 1)
      t.equal((got[i].readUInt32BE(4) - got[i - 1].readUInt32BE(4)) >>> 0, 160)
    }
    t.ok(
      got.slice(4).every((b) => b.length === 172 && b.subarray(12).every((x) => x === 0xff || x === 0x7f)),
      'silence (mu-law zero) once the prompt has played out',
    )
  })

  await t.test("RTCP: a BYE goes to the peer's RTCP port at close", async (t) => {
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
  t.equal(metrics.dropped['foreign-source'], 1, 'the foreign packet counted as dropped')
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
  const session = sessionOn(ports, new RtpCounters())
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

/** A session sending to `peer`, driven tick by tick as the pacing clock drives it. */
async function outgoing(t: Test, codec: AudioCodec, payloadType: number, base: number, timing = { ptimeMs: 20, clockPeriodMs: 20 }) {
  const pool = new RtpPortPool(base, base + 3, '127.0.0.1')
  const ports = (await pool.allocate())!
  const peer = await socket()
  const session = new RtpSession({
    ports,
    codec,
    payloadType,
    rtcpMux: false,
    signallingAddress: '127.0.0.1',
    ...timing,
    remote: { address: '127.0.0.1', port: peer.address().port, rtcpPort: peer.address().port },
    jitter: { initialDelayMs: 40, maxDelayMs: 200 },
    cname: 'test@127.0.0.1',
    metrics: new RtpCounters(),
    logger: pino({ level: 'silent' }),
  })
  const packets: Buffer[] = []
  const frames: Int16Array[] = []
  const events: string[] = []
  peer.on('message', (m) => packets.push(m))
  session.onFrame = (f) => frames.push(f.slice())
  session.onPromptStart = () => events.push(`start@${session.stats.packetsOut}`)
  let tick = 0
  const step = (n = 1) => {
    for (let i = 0; i < n; i++) {
      tick++
      session.onTick(tick)
      session.afterTick()
    }
  }
  t.teardown(() => {
    session.close()
    peer.close()
    pool.release(ports)
  })
  /** Until every packet sent has come in over loopback (a loaded machine may take a while). */
  const arrived = async () => {
    for (let i = 0; i < 200 && packets.length < session.stats.packetsOut; i++) await wait(10)
  }
  return { session, packets, frames, events, step, arrived }
}

/** 20 ms blocks at 16 kHz, block i holding the value 1000 * (i + 1). */
const blocks = (n: number) => Int16Array.from({ length: 320 * n }, (_, i) => 1000 * (Math.floor(i / 320) + 1))
/** Which block a 16 kHz frame carries (0 for silence). */
const blockOf = (f: Int16Array) => f[160] / 1000
/** Which block a PCMU packet carries, from its middle sample (the resampler smooths the edges). */
const blockOfPcmu = (b: Buffer) => {
  const out = new Int16Array(160)
  new PcmuCodec().decode(b.subarray(12), out)
  return Math.round(out[80] / 1000)
}
const marks = (packets: Buffer[]) => packets.map((b) => (b[1] & 0x80) !== 0)
const settled = <T>(p: Promise<T>) => {
  const state = { done: false, value: undefined as T | undefined }
  void p.then((v) => Object.assign(state, { done: true, value: v }))
  return state
}
const microtasks = () => new Promise((r) => setImmediate(r))

/** Counts the encodes made while `inSend` is set. */
function countingCodec(codec: AudioCodec) {
  const counts = { inSend: false, sendPhase: 0, all: 0 }
  const encode = codec.encode.bind(codec)
  codec.encode = (pcm, out) => {
    counts.all++
    if (counts.inSend) counts.sendPhase++
    return encode(pcm, out)
  }
  return counts
}

t.test('ptime 10 and 30 on the 10 ms clock: a packet every 1 or 3 ticks, sized and stamped for its ptime', async (t) => {
  for (const [ptimeMs, base] of [
    [30, 35300],
    [10, 35310],
  ]) {
    const o = await outgoing(t, new PcmuCodec(), 0, base, { ptimeMs, clockPeriodMs: 10 })
    t.equal(o.session.everyTicks, ptimeMs / 10, `ptime ${ptimeMs}: the clock calls it every ${ptimeMs / 10} ticks`)
    o.step(12)
    await o.arrived()
    t.equal(o.packets.length, 12 / (ptimeMs / 10), `ptime ${ptimeMs}: ${12 / (ptimeMs / 10)} packets in 120 ms`)
    t.ok(
      o.packets.every((b) => b.length === 12 + ptimeMs * 8),
      `${ptimeMs * 8} bytes of PCMU each`,
    )
    const ts = o.packets.map((b) => b.readUInt32BE(4))
    t.same(
      ts.slice(1).map((v, i) => (v - ts[i]) >>> 0),
      Array(ts.length - 1).fill(ptimeMs * 8),
      'timestamps step by the ptime',
    )
  }
})

t.test('the send phase encodes nothing: packets are prepared in afterTick', async (t) => {
  const codec = new PcmuCodec()
  const counts = countingCodec(codec)
  const o = await outgoing(t, codec, 0, 35200)
  const played = settled(o.session.play(blocks(3)))
  for (let tick = 1; tick <= 6; tick++) {
    counts.inSend = true
    o.session.onTick(tick)
    counts.inSend = false
    o.session.afterTick()
  }
  t.equal(counts.sendPhase, 0, 'no encode inside onTick, not even for the first packet')
  await o.arrived()
  t.same(o.packets.map(blockOfPcmu), [1, 2, 3, 0, 0, 0], 'a prompt queued between ticks still starts on the next packet')
  t.same(marks(o.packets), [true, false, false, false, false, false])
  t.same(o.frames.map(blockOf), [1, 2, 3, 0, 0, 0], "onFrame sees each packet's audio in send order")
  t.same(o.events, ['start@1'], 'onPromptStart when the first packet has left')
  t.same(played, { done: true, value: true })
})

t.test('a prompt is done when its last packet is sent, not when it is encoded', async (t) => {
  const o = await outgoing(t, new PcmuCodec(), 0, 35210)
  const played = settled(o.session.play(blocks(2)))
  o.step() // block 1 sent, block 2 prepared
  await microtasks()
  t.equal(played.done, false, 'its last packet is encoded but not sent')
  o.session.onTick(2)
  await microtasks()
  t.same(played, { done: true, value: true })
  const next = settled(o.session.play(blocks(1)))
  o.session.afterTick()
  o.step()
  await microtasks()
  t.same(next, { done: true, value: true })
  await o.arrived()
  t.same(o.packets.map(blockOfPcmu), [1, 2, 1], 'the next prompt follows without a gap')
  t.same(marks(o.packets), [true, false, false], 'and within the same talkspurt')
})

t.test('flush: the already encoded packet is dropped, the next packet is silence', async (t) => {
  const o = await outgoing(t, new PcmuCodec(), 0, 35220)
  const played = settled(o.session.play(blocks(3)))
  const next = settled(o.session.play(blocks(1)))
  o.step() // block 1 sent, block 2 encoded
  o.session.flush()
  await microtasks()
  t.same(played, { done: true, value: false }, 'a flushed prompt resolves false')
  t.same(next, { done: true, value: false })
  o.step(2)
  await o.arrived()
  t.same(o.packets.map(blockOfPcmu), [1, 0, 0])
  t.same(o.frames.map(blockOf), [1, 0, 0], 'the recording never sees the dropped packet')
  const seqs = o.packets.map((b) => b.readUInt16BE(2))
  t.same([(seqs[1] - seqs[0]) & 0xffff, (seqs[2] - seqs[1]) & 0xffff], [1, 1], 'no gap where the packet was dropped')
})

t.test('hold sends silence from the next packet and keeps the prompt; resume carries on at the next packet', async (t) => {
  const o = await outgoing(t, new PcmuCodec(), 0, 35230)
  const played = settled(o.session.play(blocks(4)))
  o.step(2) // blocks 1 and 2 sent, block 3 encoded
  o.session.hold()
  o.step(3)
  await microtasks()
  t.equal(played.done, false, 'held, not dropped')
  o.session.resume()
  o.step(3)
  await o.arrived()
  t.same(o.packets.map(blockOfPcmu), [1, 2, 0, 0, 0, 3, 4, 0])
  t.same(o.frames.map(blockOf), [1, 2, 0, 0, 0, 3, 4, 0])
  t.same(marks(o.packets), [true, false, false, false, false, false, false, false], 'resuming mid-prompt is no new talkspurt')
  t.same(o.events, ['start@1'])
  t.same(played, { done: true, value: true })
})

t.test('recvonly: the prompt plays out on time, nothing is encoded or sent', async (t) => {
  const codec = new PcmuCodec()
  const counts = countingCodec(codec)
  const o = await outgoing(t, codec, 0, 35240)
  o.session.update({ address: '127.0.0.1', port: 9, rtcpPort: 9 }, 'recvonly')
  const before = counts.all
  const played = settled(o.session.play(blocks(2)))
  o.step(3)
  await o.arrived()
  t.equal(counts.all, before, 'no encodes while not sending')
  t.equal(o.packets.length, 0)
  t.equal(o.session.stats.packetsOut, 0)
  t.same(o.frames.map(blockOf), [1, 2, 0], 'the recording still gets the audio the caller would have heard')
  t.same(played, { done: true, value: true })
})

// The far end's decoder is in step with our encoder only if our encoder saw exactly the audio
// of the packets sent: encoding the sent audio (onFrame) afresh must give the same bytes.
for (const [name, pt, base] of [
  ['G722', 9, 35250],
  ['opus', 111, 35260],
] as Array<[CodecName, number, number]>) {
  t.test(`${name}: after flush, hold and resume the stream sent is what a fresh encoder makes of the audio sent`, async (t) => {
    const o = await outgoing(t, createCodec(name), pt, base)
    const tone = Int16Array.from({ length: 8000 }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 16000)))
    void o.session.play(tone)
    o.step(10)
    o.session.hold() // a packet of tone was encoded: it is dropped
    o.step(3)
    o.session.resume()
    o.step(5)
    o.session.flush() // and again
    o.step(5)
    o.session.update({ address: '127.0.0.1', port: o.session.remoteAddress.port, rtcpPort: 9 }, 'recvonly') // encoded, then not sent
    o.step(1)
    void o.session.play(tone)
    o.step(2)
    o.session.update({ address: '127.0.0.1', port: o.session.remoteAddress.port, rtcpPort: 9 }, 'sendrecv')
    o.step(10)
    await o.arrived()
    t.equal(o.packets.length, o.session.stats.packetsOut)
    t.equal(o.frames.length, 36)
    const fresh = createCodec(name)
    const buf = new Uint8Array(1500)
    // The recvonly packets (frames 23 to 25) were never sent: the far end's encoder never saw them.
    const sentFrames = [...o.frames.slice(0, 23), ...o.frames.slice(26)]
    t.equal(o.packets.length, sentFrames.length)
    const mismatched = sentFrames.filter((f, k) => Buffer.compare(Buffer.from(buf.subarray(0, fresh.encode(f, buf))), o.packets[k].subarray(12)) !== 0)
    t.equal(mismatched.length, 0, 'every payload identical')
    t.ok(o.frames.slice(11, 13).every((f) => f.every((x) => x === 0)) && o.frames[13][160] !== 0, 'held, then resumed at the next packet')
  })
}

/** A session on a fresh port pair of its own, with options over sessionOn's. */
async function isolated(t: Test, extra: Partial<RtpSessionOptions>) {
  const pool = new RtpPortPool(35100, 35199, '127.0.0.1')
  const ports = (await pool.allocate())!
  const session = sessionOn(ports, new RtpCounters(), extra.now, extra)
  t.teardown(() => {
    session.close()
    pool.release(ports)
  })
  return { session, ports }
}

// Issue 13: m=audio 65535 (RTCP on 65536) was answered and the first RTCP report threw
// ERR_SOCKET_BAD_PORT out of a timer, which took the process and every call down.
t.test('a send that throws stops this session alone and reports a fault', async (t) => {
  const faults: string[] = []
  const { session } = await isolated(t, {
    remote: { address: '127.0.0.1', port: 9, rtcpPort: 65536 },
    onFault: (err, where) => faults.push(`${where}: ${(err as NodeJS.ErrnoException).code}`),
  })
  session.onTick(0)
  // the RTCP interval is randomised around 5 s (RFC 3550 6.3.1); the first one comes sooner
  for (let i = 0; i < 80 && !faults.length; i++) await wait(100)
  t.same(faults, ['rtcp.timer: ERR_SOCKET_BAD_PORT'])
  const before = session.stats.packetsOut
  session.onTick(1)
  t.equal(session.stats.packetsOut, before, 'a faulted session sends nothing more')
})

// Issue 13: an INVITE that was never ACKed made the server stream to whatever its SDP named.
t.test("awaitPeer: nothing is sent before confirm() or the caller's own first packet", async (t) => {
  const target = await socket()
  t.teardown(() => target.close())
  let got = 0
  target.on('message', () => got++)
  const { session } = await isolated(t, {
    remote: { address: '127.0.0.1', port: target.address().port, rtcpPort: target.address().port },
    signallingAddress: '127.0.0.9',
    awaitPeer: true,
  })
  for (let tick = 0; tick < 10; tick++) {
    session.onTick(tick)
    session.afterTick()
  }
  await wait(50)
  t.equal(got, 0, 'unconfirmed: no RTP to the address in the SDP')
  t.equal(session.stats.packetsOut, 0)
  session.confirm()
  for (let tick = 10; tick < 13; tick++) session.onTick(tick)
  await wait(50)
  t.equal(got, 3, 'after the ACK the stream flows')

  // the caller's own packet confirms as well (it latches, so it must come from the SDP address)
  const other = await isolated(t, { remote: { address: '127.0.0.1', port: target.address().port, rtcpPort: target.address().port }, awaitPeer: true })
  got = 0
  other.session.onTick(0)
  await wait(30)
  t.equal(got, 0)
  target.send(rtp(0, 1, 160, new Uint8Array(160)), other.ports.port, '127.0.0.1')
  await wait(30)
  other.session.onTick(1)
  await wait(30)
  t.equal(got, 1, "the caller's RTP confirmed the peer")
})

// Issue 13: a packet with a stray SSRC reset the jitter buffer (209 resets in a 16 s call with
// garbage), and the loss statistics then covered only the last stretch.
t.test("stray SSRCs from the caller's address are dropped; a real change of source takes over", async (t) => {
  const caller = await socket()
  t.teardown(() => caller.close())
  const { session, ports } = await isolated(t, { now: () => 1000 })
  const send = (b: Buffer) => caller.send(b, ports.port, '127.0.0.1')
  let seq = 1000
  for (let i = 0; i < 50; i++) {
    send(rtp(0, seq, seq * 160, new Uint8Array(160), false, 0xaaaa))
    // garbage in between: each stray has an SSRC of its own
    send(rtp(0, (seq * 7919) & 0xffff, i * 12345, new Uint8Array(160), false, 0x5000 + i))
    seq++
  }
  await wait(100)
  t.equal(session.jitterBuffer.stats.resets, 0, 'no reset from strays')
  t.equal(session.stats.dropped['stray-ssrc'], 50)
  t.equal(session.jitterBuffer.stats.received, 50)
  // a new source that sends in sequence takes over after three packets
  for (let i = 0; i < 5; i++) send(rtp(0, 7000 + i, 90000 + i * 160, new Uint8Array(160), i === 0, 0xbbbb))
  await wait(50)
  t.equal(session.jitterBuffer.stats.resets, 1, 'one reset: the real change of source')
  t.equal(session.stats.ssrc, 0xbbbb)
  t.equal(session.stats.dropped['stray-ssrc'], 52, 'its first two packets were held as strays')
})

// Found by test/fuzz: a 1376-byte PCMU payload threw out of the decoder in the clock's playout
// phase, which ended the call (and before the clock dropped faulty subscribers, broke its playout).
t.test('a payload the codec cannot decode is counted and skipped; the call goes on', async (t) => {
  const caller = await socket()
  t.teardown(() => caller.close())
  let now = 1000
  const faults: string[] = []
  const { session, ports } = await isolated(t, { now: () => now, onFault: (_e, where) => faults.push(where) })
  const audio: number[] = []
  session.onAudio = (pcm) => audio.push(pcm.length)
  const send = (b: Buffer) => caller.send(b, ports.port, '127.0.0.1')
  send(rtp(0, 1, 160, new Uint8Array(160)))
  send(rtp(0, 2, 320, new Uint8Array(1376)))
  send(rtp(0, 3, 480, new Uint8Array(160)))
  await wait(50)
  now += 200
  session.afterTick()
  t.same(faults, [])
  t.equal(session.stats.dropped['undecodable'], 1)
  t.equal(audio.filter((n) => n === 320).length, 2, 'the packets around it were played')
})
