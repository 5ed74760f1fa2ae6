// One SIPp call that speaks only Opus, end to end: SIPp offers opus/48000/2 alone, the server
// answers Opus, greets in Opus (checked on the wire: 48 kHz timestamps, decodable, speech), and
// takes the caller's first answer from Opus RTP that SIPp replays (play_pcap_audio) from a pcap
// this test encodes with the project's Opus codec. The caller then hangs up.
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { createCodec } from '../codecs/index.ts'
import { OpusCodec } from '../codecs/opus.ts'
import { resample } from '../codecs/resample.ts'
import { readWav } from '../codecs/wav.ts'
import { writeRtpHeader, RTP_HEADER_BYTES } from '../rtp/packet.ts'
import { levelDb } from '../vad/level.ts'
import { buildCallerScript, THREE_QUESTIONS_DIR } from './helpers/caller-audio.ts'
import { LoopbackCapture, type UdpPacket } from './helpers/capture.ts'
import { buildPcap } from './helpers/pcap-writer.ts'
import { rtpPackets, speechShare } from './helpers/rtp-analysis.ts'
import { renderScenario } from './helpers/scenario-file.ts'
import { startServerProcess } from './helpers/server-process.ts'
import { runSipp } from './helpers/sipp.ts'

const RTP_MIN = 31400
const RTP_MAX = 31499
const MEDIA_PORT = 32400 // SIPp's -mp: the port in its SDP and the source of its replayed RTP
const PT = 111
const CALLER_SSRC = 0x4f505553
const RATE = 16000
const FRAME = RATE / 50 // 20 ms

/** 20 ms frames of `pcm` (16 kHz) as Opus RTP packets, 20 ms apart, as SIPp will replay them. */
function opusRtp(pcm: Int16Array): UdpPacket[] {
  const codec = new OpusCodec({ sampleRate: RATE })
  const coded = new Uint8Array(1500)
  const packets: UdpPacket[] = []
  for (let i = 0; (i + 1) * FRAME <= pcm.length; i++) {
    const n = codec.encode(pcm.subarray(i * FRAME, (i + 1) * FRAME), coded)
    const payload = Buffer.alloc(RTP_HEADER_BYTES + n)
    writeRtpHeader(payload, { marker: i === 0, payloadType: PT, sequenceNumber: 1000 + i, timestamp: 48000 + 960 * i, ssrc: CALLER_SSRC })
    payload.set(coded.subarray(0, n), RTP_HEADER_BYTES)
    // The destination port only sets SIPp's base; it sends to the port of the server's answer.
    packets.push({ t: i * 20, src: '127.0.0.1', srcPort: MEDIA_PORT, dst: '127.0.0.1', dstPort: 6000, payload })
  }
  return packets
}

const dbfs = (pcm: Int16Array): number => levelDb(pcm, 32768)

/** End (in s) of the last 20 ms frame louder than -45 dBFS in [from, to) s of `pcm`. */
function speechEnd(pcm: Int16Array, from: number, to: number): number {
  let end = from
  for (let s = Math.round(from * RATE); s + FRAME <= Math.min(pcm.length, to * RATE); s += FRAME) {
    if (dbfs(pcm.subarray(s, s + FRAME)) > -45) end = (s + FRAME) / RATE
  }
  return end
}

t.test('an Opus-only SIPp caller is answered, greeted and heard in Opus', async (t) => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'voice-opus-'))
  // The caller's answers and their timing (which also warms the server's prompt cache); only the
  // first answer is sent, re-encoded from the script's G.711 to Opus.
  const script = await buildCallerScript(dataDir, 'ru', 700)
  const pcm = resample(readWav(readFileSync(script.wav)).samples, 8000, RATE)
  const answerEnd = speechEnd(pcm, script.answersAt[0], script.answersAt[1])
  t.ok(answerEnd - script.answersAt[0] > 0.5, `the first answer lasts ${(answerEnd - script.answersAt[0]).toFixed(2)} s`)
  const sent = opusRtp(pcm.subarray(0, Math.round((answerEnd + 1.5) * RATE)))
  const pcap = path.join(dataDir, 'caller-opus.pcap')
  writeFileSync(pcap, buildPcap(sent))

  const server = await startServerProcess({
    SCENARIO_DIR: THREE_QUESTIONS_DIR,
    DATA_DIR: dataDir,
    RTP_PORT_MIN: String(RTP_MIN),
    RTP_PORT_MAX: String(RTP_MAX),
    LANGUAGE: 'ru',
  })
  t.teardown(() => server.stop())
  const cap = new LoopbackCapture(path.join(dataDir, 'call.pcap'), `udp and portrange ${RTP_MIN}-${RTP_MAX}`)
  await cap.start()
  const scenario = renderScenario('uac-opus.xml', dataDir, { PT, PCAP: pcap, HANGUP_AFTER_MS: sent.length * 20 + 300 })
  const messages = path.join(dataDir, 'sipp-messages.log')
  const sipp = await runSipp(
    scenario,
    `127.0.0.1:${server.sipPort}`,
    ['-m', '1', '-l', '1', '-mp', String(MEDIA_PORT), '-trace_msg', '-message_file', messages],
    60_000,
  )
  const packets = await cap.stop()
  t.equal(sipp.code, 0, `SIPp passed its scenario (${sipp.stderr.slice(-400)})`)
  t.equal(sipp.successful, 1)

  // The answer (SIPp's message log: the capture's snap length cuts long SIP messages).
  const ok = readFileSync(messages, 'latin1')
    .split(/-{20,}/)
    .find((m) => /^SIP\/2\.0 200 OK/m.test(m) && /^CSeq:\s*1 INVITE/im.test(m))
  t.ok(ok, '200 OK to the INVITE logged')
  const media = /^m=audio (\d+) RTP\/AVP ([\d ]+)\r?$/m.exec(ok ?? '')
  t.ok(media, 'the answer has an audio m-line')
  const answerPort = Number(media?.[1])
  t.equal(media?.[2].trim(), String(PT), 'the answer keeps the one payload type offered, Opus')
  t.match(ok, new RegExp(`^a=rtpmap:${PT} opus/48000/2\\r?$`, 'm'), 'rtpmap opus/48000/2')
  t.match(ok, new RegExp(`^a=fmtp:${PT} .*useinbandfec=1`, 'm'), 'fmtp asks for in-band FEC')

  // The server's media towards SIPp: Opus on a 48 kHz clock, one SSRC, no gaps.
  const rtp = rtpPackets(packets, (port) => port === answerPort)
  t.ok(rtp.length > 200, `${rtp.length} RTP packets from the server's port`)
  t.same([...new Set(rtp.map((p) => p.pt))], [PT], 'every packet is Opus')
  t.equal(new Set(rtp.map((p) => p.ssrc)).size, 1, 'one SSRC')
  const steps = new Set(rtp.slice(1).map((p, i) => `${(p.seq - rtp[i].seq) & 0xffff}/${(p.ts - rtp[i].ts) >>> 0}`))
  t.same([...steps], ['1/960'], 'each packet: next sequence number, 960 ticks (20 ms at 48 kHz) later')
  const firstTalk = rtp.find((p) => p.marker)
  t.ok(firstTalk, 'a packet with the marker bit starts the greeting')
  const greeting = rtp.filter((p) => p.t >= firstTalk!.t && p.t < firstTalk!.t + script.greetingSeconds * 1000)
  const decoder = createCodec('opus') as OpusCodec
  const share = speechShare(greeting, decoder)
  t.equal(decoder.invalidPackets, 0, 'libopus decodes every packet of the greeting')
  t.ok(share > 0.4, `greeting is speech: ${(share * 100).toFixed(0)}% of frames above -40 dBFS`)

  // The server heard the caller: the Opus it received became a caller turn and the recording.
  let call: any
  for (let i = 0; i < 50 && !call?.endReason; i++) {
    const id = (await server.api('/api/calls')).body.calls[0]?.id
    if (id) call = (await server.api(`/api/calls/${id}`)).body
    if (!call?.endReason) await new Promise((r) => setTimeout(r, 100))
  }
  t.equal(call.endReason, 'remote-bye', 'the caller hung up')
  t.equal(call.codec, 'opus')
  t.equal(call.rtpStats.ssrcIn, CALLER_SSRC, "the caller's stream was the one received")
  t.ok(call.rtpStats.packetsIn >= sent.length * 0.95, `${call.rtpStats.packetsIn} of ${sent.length} packets in`)
  const jb = call.rtpStats.jitterBuffer
  t.comment(`jitter buffer: ${jb.received} received, ${jb.lost} lost or late, ${jb.jitterMs} ms jitter`)
  const name = call.turns.find((x: any) => x.who === 'caller' && x.step === 'name')
  t.ok(name, 'the first answer is a caller turn')
  t.ok(name.endMs - name.startMs > 400, `it lasts ${name.endMs - name.startMs} ms`)
  const clip = readWav(readFileSync(name.clipPath))
  t.ok(dbfs(clip.samples) > -45, `the answer's clip is decoded audio (${dbfs(clip.samples).toFixed(1)} dBFS)`)
  const rec = readWav(readFileSync(call.recordingPath))
  const callerChannel = new Int16Array(rec.samples.length / 2).map((_, i) => rec.samples[i * 2])
  t.ok(dbfs(callerChannel) > -45, `caller channel of the recording has audio (${dbfs(callerChannel).toFixed(1)} dBFS)`)
})
