// One SIPp call over UDP, end to end: the caller streams a G.711 WAV (rtp_stream) that
// answers the bot's three questions; the bot greets (checked on the wire: speech, not
// silence), records the answers, files a lead and hangs up with BYE.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { createCodec } from '../codecs/index.ts'
import { readWav } from '../codecs/wav.ts'
import { levelDb } from '../vad/level.ts'
import { buildCallerScript, THREE_QUESTIONS_DIR } from './helpers/caller-audio.ts'
import { LoopbackCapture } from './helpers/capture.ts'
import { pacingErrors, percentile, rtpPackets, speechShare } from './helpers/rtp-analysis.ts'
import { renderScenario } from './helpers/scenario-file.ts'
import { startServerWith } from './helpers/sip-backend.ts'
import { runSipp } from './helpers/sipp.ts'

const RTP_MIN = 31000
const RTP_MAX = 31099

const CODECS = [
  { codec: 'PCMU', pt: 0 },
  { codec: 'G722', pt: 9 }, // wideband: 16 kHz audio, RTP clock 8000 (RFC 3551)
] as const

// The codec is the media core's business: through drachtio-server one codec is enough.
const CASES = [...CODECS.map((c) => ({ ...c, backend: 'embedded' as const })), { ...CODECS[0], backend: 'drachtio' as const }]

for (const { codec, pt, backend } of CASES)
  t.test(`a SIPp caller answers the three-questions scenario (${codec}, ${backend})`, async (t) => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'voice-call-'))
    const script = await buildCallerScript(dataDir, 'ru', 700, codec)
    const server = await startServerWith(backend, {
      SCENARIO_DIR: THREE_QUESTIONS_DIR,
      DATA_DIR: dataDir,
      RTP_PORT_MIN: String(RTP_MIN),
      RTP_PORT_MAX: String(RTP_MAX),
      LANGUAGE: 'ru',
    })
    t.teardown(() => server.stop())
    const cap = new LoopbackCapture(path.join(dataDir, 'call.pcap'), `udp and (port ${server.sipPort} or portrange ${RTP_MIN}-${RTP_MAX})`)
    await cap.start()
    const scenario = renderScenario('uac-answers.xml', dataDir, {
      WAV: script.wav,
      PT: pt,
      CODEC: codec,
      BYE_TIMEOUT_MS: Math.round((script.totalSeconds + 30) * 1000),
    })
    const sipp = await runSipp(scenario, `127.0.0.1:${server.sipPort}`, ['-m', '1', '-l', '1', '-mp', '32000'])
    const packets = await cap.stop()
    t.equal(sipp.code, 0, `SIPp passed its scenario (${sipp.stderr.slice(-400)})`)
    t.equal(sipp.successful, 1)
    t.equal(sipp.failed, 0)

    // Signalling on the wire: 100, 180, 200 to the INVITE; the server's BYE answered 200.
    const sip = packets.filter((p) => p.srcPort === server.sipPort || p.dstPort === server.sipPort).map((p) => ({ ...p, text: p.payload.toString('latin1') }))
    const fromServer = sip.filter((p) => p.srcPort === server.sipPort).map((p) => p.text.split('\r\n')[0])
    t.ok(fromServer.includes('SIP/2.0 100 Trying'), '100 Trying sent')
    t.ok(fromServer.includes('SIP/2.0 180 Ringing'), '180 Ringing sent')
    t.ok(fromServer.includes('SIP/2.0 200 OK'), '200 OK sent')
    t.ok(
      fromServer.some((l) => l.startsWith('BYE ')),
      'the server hung up with BYE',
    )
    t.ok(
      sip.some((p) => p.dstPort === server.sipPort && p.text.startsWith('SIP/2.0 200') && /CSeq:\s*\d+ BYE/i.test(p.text)),
      'the BYE was answered 200',
    )

    // Media on the wire: the greeting is speech, and it starts soon after the ACK.
    const rtp = rtpPackets(packets, (port) => port >= RTP_MIN && port <= RTP_MAX)
    const ack = sip.find((p) => p.dstPort === server.sipPort && p.text.startsWith('ACK '))
    t.ok(ack, 'ACK seen')
    const firstTalk = rtp.find((p) => p.marker && p.t >= ack!.t)
    t.ok(firstTalk, 'a packet with the marker bit starts the greeting')
    const ackToAudio = firstTalk!.t - ack!.t
    t.comment(`ACK -> first greeting packet: ${ackToAudio.toFixed(1)} ms`)
    const greeting = rtp.filter((p) => p.t >= firstTalk!.t && p.t < firstTalk!.t + script.greetingSeconds * 1000)
    const share = speechShare(greeting, createCodec(codec))
    t.ok(share > 0.4, `greeting is speech: ${(share * 100).toFixed(0)}% of frames above -40 dBFS`)
    const seqs = rtp.filter((p) => p.ssrc === firstTalk!.ssrc)
    const gaps = seqs.slice(1).filter((p, i) => ((p.seq - seqs[i].seq) & 0xffff) !== 1 || (p.ts - seqs[i].ts) >>> 0 !== 160)
    t.equal(gaps.length, 0, 'sequence numbers and timestamps run on without gaps across prompts and silence')
    const errors = pacingErrors(rtp)
    t.comment(
      `pacing error on the wire, 1 call: p50 ${percentile(errors, 50).toFixed(2)} ms, p99 ${percentile(errors, 99).toFixed(2)} ms over ${errors.length} intervals`,
    )

    // Records: the call, its turns, the caller's clips, the lead and the recording.
    const list = await server.api('/api/calls')
    t.equal(list.status, 200)
    t.equal(list.body.calls.length, 1)
    const call = (await server.api(`/api/calls/${list.body.calls[0].id}`)).body
    t.equal(call.result, 'completed')
    t.equal(call.endReason, 'local-bye')
    t.equal(call.codec, codec)
    t.equal(call.callerId, '79161234567')
    const callerTurns = call.turns.filter((x: any) => x.who === 'caller')
    t.same(
      callerTurns.map((x: any) => x.step),
      ['name', 'need', 'phone'],
      'each answer is a caller turn',
    )
    // The media server's own share of each turn: caller's end of speech -> first RTP of the next
    // prompt, less the end-of-utterance silence (no providers in this scenario).
    const shares = call.turns.filter((x: any) => x.who === 'bot' && x.timing?.ownShareMs !== undefined).map((x: any) => x.timing.ownShareMs)
    t.equal(shares.length, 3, 'every prompt that answers the caller has its own share timed')
    t.comment(
      `own share per turn (ms): ${shares.join(', ')}; speech end -> EOU: ${callerTurns.map((x: any) => x.timing.eouMs - x.timing.speechEndMs).join(', ')}`,
    )
    for (const turn of callerTurns) {
      t.ok(turn.clipPath && existsSync(turn.clipPath), `clip for ${turn.step} saved`)
      t.ok(turn.endMs - turn.startMs > 400, `${turn.step} answer lasts ${turn.endMs - turn.startMs} ms`)
    }
    t.same(
      call.turns.filter((x: any) => x.who === 'bot').map((x: any) => x.step),
      ['greeting', 'askNeed', 'askPhone', 'thanks'],
    )
    t.ok(call.lead, 'lead filed')
    t.equal(call.lead.outcome, 'qualified_lead', "the scenario's outcome")
    t.same(Object.keys(call.lead.clips).sort(), ['name', 'need', 'phone'])
    t.ok(call.rtpStats.packetsIn > 100, `RTP in counted (${call.rtpStats.packetsIn})`)
    const rec = readWav(readFileSync(call.recordingPath))
    t.equal(rec.channels, 2)
    t.equal(rec.sampleRate, 16000, 'recorded at the internal 16 kHz rate')
    const channelLevel = (ch: number) => {
      const s = new Int16Array(rec.samples.length / 2)
      for (let i = 0; i < s.length; i++) s[i] = rec.samples[i * 2 + ch]
      return levelDb(s, 32768)
    }
    t.ok(channelLevel(0) > -45, `caller channel has audio (${channelLevel(0).toFixed(1)} dBFS)`)
    t.ok(channelLevel(1) > -45, `bot channel has audio (${channelLevel(1).toFixed(1)} dBFS)`)

    const metrics = await fetch(`http://127.0.0.1:${server.httpPort}/metrics`).then((r) => r.text())
    t.match(metrics, /voice_calls_total\{result="completed"\} 1/)
    t.match(metrics, /voice_sip_messages_total\{direction="in",kind="INVITE"\} 1/)
    t.ok(call.rtpStats.jitterBuffer.received > 100, `jitter buffer took ${call.rtpStats.jitterBuffer.received} packets`)
  })
