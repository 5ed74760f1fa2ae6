// The FreeSWITCH media mode's anchor against the real servers (drachtio-server and FreeSWITCH from
// the offline kits): a caller's offer answered by FreeSWITCH, the media core's leg made and bridged,
// RTP both ways through it (payloads intact), RFC 4733 digits carried across, and nothing after the
// release. The one-way delay FreeSWITCH adds is printed (a figure, not asserted).
import dgram from 'node:dgram'
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import Srf from 'drachtio-srf'
import pino from 'pino'
import t, { type Test } from 'tap'
import { parseRtp, writeRtpHeader } from '../rtp/packet.ts'
import { FreeswitchMedia } from '../sip/drachtio/freeswitch-media.ts'
import { startDrachtio } from './helpers/drachtio.ts'
import { startFreeswitch } from './helpers/freeswitch.ts'

const log = pino({ level: 'silent' })
const sdp = (port: number) =>
  `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n`
const mediaPort = (s: string) => Number(/^m=audio (\d+)/m.exec(s)![1])

interface Arrival {
  pt: number
  seq: number
  payload: Buffer
  at: number
}

async function socket(t: Test) {
  const s = dgram.createSocket('udp4')
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r))
  const got: Arrival[] = []
  s.on('message', (m) => {
    const p = parseRtp(m)
    if (typeof p !== 'string') got.push({ pt: p.payloadType, seq: p.sequenceNumber, payload: Buffer.from(p.payload), at: performance.now() })
  })
  t.teardown(() => s.close())
  return { s, port: s.address().port, got }
}

/** 20 ms PCMU frames whose bytes name their frame (so a payload can be matched across FreeSWITCH). */
function frame(n: number): Buffer {
  const b = Buffer.alloc(160)
  for (let i = 0; i < 160; i++) b[i] = (n * 7 + i) & 0x7f // μ-law codes below 0x80: no two frames alike
  return b
}

async function stream(from: dgram.Socket, toPort: number, frames: number, sent: Map<string, number>): Promise<void> {
  const buf = Buffer.alloc(172)
  const t0 = performance.now()
  for (let n = 0; n < frames; n++) {
    writeRtpHeader(buf, { marker: n === 0, payloadType: 0, sequenceNumber: 1000 + n, timestamp: n * 160, ssrc: 0x1234 })
    frame(n).copy(buf, 12)
    sent.set(frame(n).toString('hex'), performance.now())
    from.send(buf, toPort, '127.0.0.1')
    const next = t0 + (n + 1) * 20
    await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())))
  }
}

function telephoneEvent(from: dgram.Socket, toPort: number, digit: number): void {
  for (let i = 0; i < 6; i++) {
    const buf = Buffer.alloc(16)
    writeRtpHeader(buf, { marker: i === 0, payloadType: 101, sequenceNumber: 5000 + i, timestamp: 80_000, ssrc: 0x1234 })
    buf[12] = digit
    buf[13] = (i >= 3 ? 0x80 : 0) | 10 // end bit on the last three, volume 10
    buf.writeUInt16BE(160 * (i + 1), 14)
    setTimeout(() => from.send(buf, toPort, '127.0.0.1'), i * 20)
  }
}

t.test('FreeSWITCH anchors the caller and bridges it to the media core', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'voice-fs-'))
  const fs = await startFreeswitch(path.join(dir, 'fs'))
  t.teardown(() => fs.stop())
  const drachtio = await startDrachtio(path.join(dir, 'drachtio'))
  t.teardown(() => drachtio.stop())
  const srf = new Srf()
  await srf.connect({ host: '127.0.0.1', port: drachtio.adminPort, secret: drachtio.secret })
  t.teardown(() => srf.disconnect())
  const media = await FreeswitchMedia.connect(srf, { host: '127.0.0.1', port: fs.eslPort, secret: fs.secret, callbackAddress: '127.0.0.1' }, log)
  t.teardown(() => media.close())

  const caller = await socket(t)
  const core = await socket(t)
  const anchored = await media.anchor(sdp(caller.port), 'fs-1')
  t.match(anchored.callerAnswer, /^m=audio \d+ RTP\/AVP 0[ \r]/m, 'FreeSWITCH answers the caller with PCMU')
  const coreAnswer = await anchored.connectCore(sdp(core.port))
  t.match(coreAnswer, /^m=audio \d+ RTP\/AVP 0[ \r]/m, 'and the media core')
  t.not(mediaPort(coreAnswer), mediaPort(anchored.callerAnswer), 'two endpoints, two ports')

  const sentUp = new Map<string, number>()
  const sentDown = new Map<string, number>()
  await Promise.all([stream(caller.s, mediaPort(anchored.callerAnswer), 100, sentUp), stream(core.s, mediaPort(coreAnswer), 100, sentDown)])
  await new Promise((r) => setTimeout(r, 300))
  const delays = (got: Arrival[], sent: Map<string, number>) =>
    got.flatMap((a) => (a.pt === 0 && sent.has(a.payload.toString('hex')) ? [a.at - sent.get(a.payload.toString('hex'))!] : []))
  const up = delays(core.got, sentUp)
  const down = delays(caller.got, sentDown)
  t.ok(up.length >= 90, `the caller's frames reach the media core intact (${up.length} of 100)`)
  t.ok(down.length >= 90, `the media core's frames reach the caller intact (${down.length} of 100)`)
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)]
  t.comment(
    `one-way delay through FreeSWITCH: caller->core median ${median(up).toFixed(1)} ms, p95 ${p95(up).toFixed(1)} ms; core->caller median ${median(down).toFixed(1)} ms, p95 ${p95(down).toFixed(1)} ms`,
  )

  telephoneEvent(caller.s, mediaPort(anchored.callerAnswer), 5)
  await new Promise((r) => setTimeout(r, 500))
  const events = core.got.filter((a) => a.pt === 101)
  t.ok(events.length > 0, 'a digit the caller sends as RFC 4733 reaches the media core as RFC 4733')
  t.equal(events[0]?.payload[0], 5, 'the same digit')

  await anchored.release()
  const before = core.got.length
  await stream(caller.s, mediaPort(anchored.callerAnswer), 10, new Map())
  await new Promise((r) => setTimeout(r, 200))
  t.equal(core.got.length, before, 'released: nothing is bridged any more')
})
