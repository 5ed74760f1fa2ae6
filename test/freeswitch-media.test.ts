// The FreeSWITCH media mode against the real servers (drachtio-server and FreeSWITCH from the
// offline kits). The anchor: a caller's offer answered by FreeSWITCH, the media core's leg made and
// bridged, RTP both ways through it (payloads intact), RFC 4733 digits carried across, and nothing
// after the release; the one-way delay FreeSWITCH adds is printed (a figure, not asserted). Then the
// whole server in this mode (SIP_BACKEND=drachtio, MEDIA_BACKEND=freeswitch): a SIPp caller answers
// the three-questions scenario, the greeting reaches it from FreeSWITCH's ports as speech, its
// answers reach the media core through FreeSWITCH (three caller turns, the lead), BYE from us.
import dgram from 'node:dgram'
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import Srf from 'drachtio-srf'
import pino from 'pino'
import t, { type Test } from 'tap'
import { parseRtp, writeRtpHeader } from '../rtp/packet.ts'
import { FreeswitchMedia } from '../sip/drachtio/freeswitch-media.ts'
import { DEFAULT_CODEC_PREFERENCE } from '../sip/sdp/codec-catalogue.ts'
import { createOffer } from '../sip/sdp/negotiate.ts'
import { startDrachtio } from './helpers/drachtio.ts'
import { startFreeswitch } from './helpers/freeswitch.ts'
import { createCodec } from '../codecs/index.ts'
import { buildCallerScript, THREE_QUESTIONS_DIR } from './helpers/caller-audio.ts'
import { LoopbackCapture } from './helpers/capture.ts'
import { rtpPackets, speechShare } from './helpers/rtp-analysis.ts'
import { renderScenario } from './helpers/scenario-file.ts'
import { startServerWithFreeswitch } from './helpers/sip-backend.ts'
import { runSipp } from './helpers/sipp.ts'
import { header, peer, reply, request } from './helpers/raw-sip-peer.ts'
import { waitFor } from './helpers/storage-call.ts'

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
  t.match(anchored.callerSdp, /^m=audio \d+ RTP\/AVP 0[ \r]/m, 'FreeSWITCH answers the caller with PCMU')
  // the media core offers all it codes, Opus first: its leg gets the caller's codec, so no transcoding
  const coreOffer = createOffer({ address: '127.0.0.1', port: core.port, codecs: DEFAULT_CODEC_PREFERENCE, sessionId: '1', sessionVersion: 1 })
  const coreAnswer = await anchored.connectCore(coreOffer, anchored.callerSdp)
  t.match(coreAnswer, /^m=audio \d+ RTP\/AVP 0[ \r]/m, "and the media core with the caller's codec")
  t.not(mediaPort(coreAnswer), mediaPort(anchored.callerSdp), 'two endpoints, two ports')

  const sentUp = new Map<string, number>()
  const sentDown = new Map<string, number>()
  await Promise.all([stream(caller.s, mediaPort(anchored.callerSdp), 100, sentUp), stream(core.s, mediaPort(coreAnswer), 100, sentDown)])
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

  telephoneEvent(caller.s, mediaPort(anchored.callerSdp), 5)
  await new Promise((r) => setTimeout(r, 500))
  const events = core.got.filter((a) => a.pt === 101)
  t.ok(events.length > 0, 'a digit the caller sends as RFC 4733 reaches the media core as RFC 4733')
  t.equal(events[0]?.payload[0], 5, 'the same digit')

  await anchored.release()
  const before = core.got.length
  await stream(caller.s, mediaPort(anchored.callerSdp), 10, new Map())
  await new Promise((r) => setTimeout(r, 200))
  t.equal(core.got.length, before, 'released: nothing is bridged any more')
})

t.test('a SIPp caller answers the scenario with FreeSWITCH in the media path', async (t) => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'voice-fs-call-'))
  const script = await buildCallerScript(dataDir, 'ru', 700, 'PCMU')
  const FS_RTP = { start: 23000, end: 23099 }
  const SIPP_MEDIA_PORT = 32200
  const server = await startServerWithFreeswitch(
    { SCENARIO_DIR: THREE_QUESTIONS_DIR, DATA_DIR: dataDir, RTP_PORT_MIN: '31200', RTP_PORT_MAX: '31299', LANGUAGE: 'ru' },
    FS_RTP,
  )
  t.teardown(() => server.stop())
  const cap = new LoopbackCapture(path.join(dataDir, 'call.pcap'), `udp and (port ${server.sipPort} or portrange ${FS_RTP.start}-${FS_RTP.end})`)
  await cap.start()
  const scenario = renderScenario('uac-answers.xml', dataDir, {
    WAV: script.wav,
    PT: 0,
    CODEC: 'PCMU',
    BYE_TIMEOUT_MS: Math.round((script.totalSeconds + 30) * 1000),
  })
  const sipp = await runSipp(scenario, `127.0.0.1:${server.sipPort}`, ['-m', '1', '-l', '1', '-mp', String(SIPP_MEDIA_PORT)])
  const packets = await cap.stop()
  t.equal(sipp.successful, 1, `SIPp passed its scenario (${sipp.stderr.slice(-400)})`)

  const sip = packets.filter((p) => p.srcPort === server.sipPort || p.dstPort === server.sipPort).map((p) => ({ ...p, text: p.payload.toString('latin1') }))
  // the capture keeps 512 bytes of each packet, so the 200's SDP is cut: the RTP itself says where it comes from
  const rtp = rtpPackets(
    packets.filter((p) => p.dstPort === SIPP_MEDIA_PORT),
    (p) => p >= FS_RTP.start && p <= FS_RTP.end,
  )
  t.ok(rtp.length > 100, `the caller's RTP comes from FreeSWITCH's ports, not the media core's (${rtp.length} packets)`)
  const toCore = rtpPackets(
    packets.filter((p) => p.dstPort >= 31200 && p.dstPort <= 31299),
    (p) => p >= FS_RTP.start && p <= FS_RTP.end,
  )
  t.ok(toCore.length > 100, `FreeSWITCH streams the caller to the media core (${toCore.length} packets)`)
  t.same([...new Set(toCore.map((p) => p.pt))], [0], "in the caller's codec, PCMU: the bridge passes frames through")
  const ack = sip.find((p) => p.dstPort === server.sipPort && p.text.startsWith('ACK '))
  const first = rtp.find((p) => p.t >= (ack?.t ?? 0))
  t.ok(ack && first, 'FreeSWITCH sends the caller RTP after the ACK')
  const greeting = first ? rtp.filter((p) => p.t >= first.t + 300 && p.t < first.t + script.greetingSeconds * 1000) : []
  const share = speechShare(greeting, createCodec('PCMU'))
  t.ok(share > 0.3, `the greeting reaches the caller as speech through FreeSWITCH (${(share * 100).toFixed(0)}% of frames)`)

  const list = await server.api('/api/calls')
  const call = (await server.api(`/api/calls/${list.body.calls[0].id}`)).body
  t.equal(call.result, 'completed')
  t.same(
    call.turns.filter((x: any) => x.who === 'caller').map((x: any) => x.step),
    ['name', 'need', 'phone'],
    "the caller's answers reached the media core through FreeSWITCH",
  )
  t.equal(call.lead?.outcome, 'qualified_lead')
  const shares = call.turns.filter((x: any) => x.who === 'bot' && x.timing?.ownShareMs !== undefined).map((x: any) => x.timing.ownShareMs)
  if (ack && first)
    t.comment(`FreeSWITCH mode: ACK -> first RTP to the caller ${(first.t - ack.t).toFixed(1)} ms; own share per turn (ms): ${shares.join(', ')}`)
})

/** The server answering the three-question scenario with FreeSWITCH in the media path, its RTP on
 *  100 ports from `rtpPorts` and FreeSWITCH's from `fsPorts`; stopped with the test. */
async function scenarioServer(t: Test, name: string, rtpPorts: number, fsPorts: number) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `voice-fs-${name}-`))
  const server = await startServerWithFreeswitch(
    { SCENARIO_DIR: THREE_QUESTIONS_DIR, DATA_DIR: dataDir, RTP_PORT_MIN: String(rtpPorts), RTP_PORT_MAX: String(rtpPorts + 99) },
    { start: fsPorts, end: fsPorts + 99 },
  )
  t.teardown(() => server.stop())
  return server
}

t.test('FreeSWITCH crashes mid-call: the call ends with our BYE, new calls get 503 until it is back', async (t) => {
  const server = await scenarioServer(t, 'crash', 31300, 23100)
  const p = await peer(server.sipPort)
  const media = await socket(t)
  t.teardown(() => p.close())
  const to = 'To: <sip:sales@127.0.0.1>'

  p.send(request('INVITE', p.port, 'fs-crash-1', 1, [to], sdp(media.port)))
  const ok = await p.next(/^SIP\/2\.0 200[\s\S]*Call-ID: fs-crash-1/m, 15_000)
  const toTag = /^To:.*;tag=([^;\s]+)/im.exec(ok)![1]
  p.send(request('ACK', p.port, 'fs-crash-1', 1, [`${to};tag=${toTag}`]))
  await new Promise((r) => setTimeout(r, 1500))
  t.ok(media.got.length > 20, `the greeting flows from FreeSWITCH before the crash (${media.got.length} packets)`)

  await server.freeswitch.kill()
  const crashedAt = Date.now()
  const bye = await p.next(/^BYE [\s\S]*Call-ID: fs-crash-1/m, 10_000)
  p.send(reply(bye, '200 OK'))
  t.comment(`BYE to the caller ${Date.now() - crashedAt} ms after FreeSWITCH was killed`)

  p.send(request('OPTIONS', p.port, 'fs-options-1', 1, [to]))
  const options = await p.next(/^SIP\/2\.0 \d+[\s\S]*Call-ID: fs-options-1/m, 5000)
  t.match(options, /^SIP\/2\.0 503/, 'OPTIONS answers 503 while FreeSWITCH is away (a dispatcher sends elsewhere)')
  t.equal(header(options, 'Retry-After'), '5', 'with Retry-After')
  const sentAt = Date.now()
  p.send(request('INVITE', p.port, 'fs-crash-2', 1, [to], sdp(media.port)))
  const refused = await p.next(/^SIP\/2\.0 [3-6]\d\d[\s\S]*Call-ID: fs-crash-2/m, 5000)
  t.match(refused, /^SIP\/2\.0 503/, 'a new call gets 503 at once, not a wait for a dead FreeSWITCH')
  t.ok(Date.now() - sentAt < 2000, `within ${Date.now() - sentAt} ms`)
  p.send(request('ACK', p.port, 'fs-crash-2', 1, [`${to};tag=${/^To:.*;tag=([^;\s]+)/im.exec(refused)![1]}`]))

  const record = await waitFor(
    "the crashed call's record",
    async () => {
      const list = (await server.api('/api/calls')).body.calls as Array<{ id: string; sipCallId?: string; result?: string }>
      const c = list.find((x) => x.result)
      return c ? (await server.api(`/api/calls/${c.id}`)).body : undefined
    },
    10_000,
  )
  t.equal(record.result, 'failed', 'the call reached a final state: failed')
  t.equal(record.endReason, 'media-lost', 'and says why')

  await server.freeswitch.restart()
  let back = ''
  for (let i = 0; i < 60 && !back.startsWith('SIP/2.0 200'); i++) {
    await new Promise((r) => setTimeout(r, 500))
    p.send(request('OPTIONS', p.port, `fs-options-back-${i}`, 1, [to]))
    back = await p.next(new RegExp(`^SIP/2\\.0 \\d+[\\s\\S]*Call-ID: fs-options-back-${i}\\r`, 'm'), 5000)
  }
  t.match(back, /^SIP\/2\.0 200/, 'OPTIONS answers 200 again once the ESL link is back')
  p.send(request('INVITE', p.port, 'fs-crash-3', 1, [to], sdp(media.port)))
  const again = await p.next(/^SIP\/2\.0 [2-6]\d\d[\s\S]*Call-ID: fs-crash-3/m, 15_000)
  t.match(again, /^SIP\/2\.0 200/, 'and a new call is answered through the restarted FreeSWITCH')
  const tag3 = /^To:.*;tag=([^;\s]+)/im.exec(again)![1]
  p.send(request('ACK', p.port, 'fs-crash-3', 1, [`${to};tag=${tag3}`]))
  p.send(request('BYE', p.port, 'fs-crash-3', 2, [`${to};tag=${tag3}`]))
  await p.next(/^SIP\/2\.0 200[\s\S]*CSeq: 2 BYE/m, 5000)
})

t.test('FreeSWITCH that stops answering: the waiting call gets 503 at our bound, new calls and OPTIONS get 503 at once until it answers again', async (t) => {
  const server = await scenarioServer(t, 'stall', 31500, 23400)
  // a phone per call: a peer's next() skips what it passes over, and two waits run at once here
  const phones = new Map<string, Awaited<ReturnType<typeof peer>>>()
  const phone = async (id: string) => {
    const p = await peer(server.sipPort)
    t.teardown(() => p.close())
    phones.set(id, p)
    return p
  }
  const media = await socket(t)
  const to = 'To: <sip:sales@127.0.0.1>'
  const options = async (id: string) => {
    const p = await phone(id)
    p.send(request('OPTIONS', p.port, id, 1, [to]))
    return p.next(new RegExp(`^SIP/2\\.0 \\d+[\\s\\S]*Call-ID: ${id}\\r`, 'm'), 5000)
  }
  /** an INVITE's final answer, ACKed when it is an error (ours would be ACKed with the dialog) */
  const invite = async (id: string, timeoutMs: number) => {
    const p = await phone(id)
    const sentAt = Date.now()
    p.send(request('INVITE', p.port, id, 1, [to], sdp(media.port)))
    const final = await p.next(new RegExp(`^SIP/2\\.0 [2-6]\\d\\d[\\s\\S]*Call-ID: ${id}\\r`, 'm'), timeoutMs)
    const tag = /^To:.*;tag=([^;\s]+)/im.exec(final)![1]
    p.send(request('ACK', p.port, id, 1, [`${to};tag=${tag}`]))
    return { final, ms: Date.now() - sentAt, dialog: `${to};tag=${tag}` }
  }

  // FreeSWITCH hangs (SIGSTOP): its sockets stay open, nothing answers
  process.kill(server.freeswitch.pid, 'SIGSTOP')
  t.teardown(() => void (server.freeswitch.pid && process.kill(server.freeswitch.pid, 'SIGCONT')))
  const stalled = invite('fs-stall-1', 15_000)
  await new Promise((r) => setTimeout(r, 1500))
  t.match(await options('fs-stall-options-1'), /^SIP\/2\.0 503/, 'OPTIONS answers 503 once an endpoint has been in the making for a second')
  const refused = await invite('fs-stall-2', 5000)
  t.match(refused.final, /^SIP\/2\.0 503/, 'a new call meanwhile gets 503')
  t.equal(header(refused.final, 'Retry-After'), '5', 'with Retry-After')
  t.ok(refused.ms < 1000, `at once (${refused.ms} ms), not after a wait of its own`)
  const first = await stalled
  t.match(first.final, /^SIP\/2\.0 503/, 'the call that was waiting gets 503')
  t.ok(first.ms >= 4000 && first.ms < 8000, `at the bound on making an endpoint (${first.ms} ms)`)
  t.match(await options('fs-stall-options-2'), /^SIP\/2\.0 503/, 'OPTIONS stays 503 while FreeSWITCH still has not answered')

  process.kill(server.freeswitch.pid, 'SIGCONT')
  let back = ''
  for (let i = 0; i < 40 && !back.startsWith('SIP/2.0 200'); i++) {
    await new Promise((r) => setTimeout(r, 250))
    back = await options(`fs-stall-back-${i}`)
  }
  t.match(back, /^SIP\/2\.0 200/, 'OPTIONS answers 200 once FreeSWITCH answers again')
  const again = await invite('fs-stall-3', 15_000)
  t.match(again.final, /^SIP\/2\.0 200/, 'and a new call is answered')
  const p3 = phones.get('fs-stall-3')!
  p3.send(request('BYE', p3.port, 'fs-stall-3', 2, [again.dialog]))
  await p3.next(/^SIP\/2\.0 200[\s\S]*CSeq: 2 BYE/m, 5000)
  const calls = (await server.api('/api/calls')).body.calls as Array<{ sipCallId: string; result?: string }>
  t.equal(calls.find((c) => c.sipCallId === 'fs-stall-1')?.result, 'failed', 'the call that waited reached a final state: failed')
  t.notOk(
    calls.find((c) => c.sipCallId === 'fs-stall-2'),
    'the call refused at once was never taken: no record',
  )
})

t.test("FreeSWITCH follows the caller's re-INVITEs (moved media, hold) and makes the offer to an INVITE without SDP", async (t) => {
  const server = await scenarioServer(t, 'reinvite', 31400, 23200)
  const p = await peer(server.sipPort)
  t.teardown(() => p.close())
  const first = await socket(t)
  const moved = await socket(t)
  const to = 'To: <sip:sales@127.0.0.1>'
  p.send(request('INVITE', p.port, 'fs-move-1', 1, [to], sdp(first.port)))
  const ok = await p.next(/^SIP\/2\.0 200[\s\S]*CSeq: 1 INVITE/m, 15_000)
  const toTag = /^To:.*;tag=([^;\s]+)/im.exec(ok)![1]
  const dialog = `${to};tag=${toTag}`
  p.send(request('ACK', p.port, 'fs-move-1', 1, [dialog]))
  await new Promise((r) => setTimeout(r, 1000))
  t.ok(first.got.length > 20, `the greeting reaches the first port (${first.got.length} packets)`)

  // the caller's media moves to another port (a new offer, version up): FreeSWITCH follows
  const movedOffer = sdp(moved.port).replace('o=- 1 1 ', 'o=- 1 2 ')
  p.send(request('INVITE', p.port, 'fs-move-1', 2, [dialog], movedOffer))
  const reAnswer = await p.next(/^SIP\/2\.0 [2-6]\d\d[\s\S]*CSeq: 2 INVITE/m, 10_000)
  t.match(reAnswer, /^SIP\/2\.0 200/, 'the re-INVITE that moves the media is answered 200, not 488')
  t.match(reAnswer, /^m=audio \d+ RTP\/AVP 0/m, "with FreeSWITCH's answer")
  p.send(request('ACK', p.port, 'fs-move-1', 2, [dialog]))
  const before = first.got.length
  await new Promise((r) => setTimeout(r, 1000))
  t.ok(moved.got.length > 20, `the bot's audio now reaches the new port (${moved.got.length} packets)`)
  t.ok(first.got.length - before < 5, `and no longer the old one (${first.got.length - before} after the move)`)

  // hold: the caller sends sendonly, FreeSWITCH answers recvonly
  const hold = sdp(moved.port).replace('o=- 1 1 ', 'o=- 1 3 ').replace('a=sendrecv', 'a=sendonly')
  p.send(request('INVITE', p.port, 'fs-move-1', 3, [dialog], hold))
  const held = await p.next(/^SIP\/2\.0 [2-6]\d\d[\s\S]*CSeq: 3 INVITE/m, 10_000)
  t.match(held, /^SIP\/2\.0 200/)
  t.match(held, /^a=recvonly/m, 'a hold is answered recvonly')
  p.send(request('ACK', p.port, 'fs-move-1', 3, [dialog]))

  p.send(request('BYE', p.port, 'fs-move-1', 4, [dialog]))
  await p.next(/^SIP\/2\.0 200[\s\S]*CSeq: 4 BYE/m, 5000)

  // delayed offer: FreeSWITCH's offer in our 200, the caller's answer in the ACK goes on to it
  const late = await socket(t)
  p.send(request('INVITE', p.port, 'fs-late-1', 1, [to]))
  const offer = await p.next(/^SIP\/2\.0 200[\s\S]*Call-ID: fs-late-1/m, 15_000)
  const offered = Number(/^m=audio (\d+) RTP\/AVP/m.exec(offer)?.[1])
  t.ok(offered >= 23200 && offered <= 23299, `the 200 to an INVITE without SDP carries FreeSWITCH's offer (port ${offered})`)
  const lateDialog = `${to};tag=${/^To:.*;tag=([^;\s]+)/im.exec(offer)![1]}`
  p.send(request('ACK', p.port, 'fs-late-1', 1, [lateDialog], sdp(late.port)))
  await new Promise((r) => setTimeout(r, 1500))
  const greeting = late.got.filter((a) => a.pt === 0)
  t.ok(greeting.length > 20, `the greeting reaches the port the ACK's answer named (${greeting.length} packets)`)
  p.send(request('BYE', p.port, 'fs-late-1', 2, [lateDialog]))
  await p.next(/^SIP\/2\.0 200[\s\S]*Call-ID: fs-late-1/m, 5000)
})
