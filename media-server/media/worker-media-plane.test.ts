// The media plane in real worker threads, over real UDP: a call's RTP both ways, its audio back to
// the main thread through the shared ring, its recording written by the worker, the least loaded
// worker chosen, and a worker that dies taking only its own calls with it.
import dgram from 'node:dgram'
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pino from 'pino'
import t from 'tap'
import { Metrics } from '../metrics.ts'
import { linearToUlaw } from '../../codecs/g711.ts'
import { parseRtp, writeRtpHeader } from '../../rtp/packet.ts'
import type { MediaSession, SessionSpec } from './media-session.ts'
import { WorkerMediaPlane } from './worker-media-plane.ts'

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms))
const logger = pino({ level: 'silent' })

async function phone(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4')
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r))
  return s
}

function spec(callId: string, port: number, remotePort: number): SessionSpec {
  return {
    callId,
    port,
    codec: 'PCMU',
    payloadType: 0,
    remote: { address: '127.0.0.1', port: remotePort, rtcpPort: remotePort + 1 },
    rtcpMux: false,
    signallingAddress: '127.0.0.1',
    ptimeMs: 20,
    jitter: { initialDelayMs: 40, maxDelayMs: 200 },
    cname: `${callId}@test`,
    opusComplexity: 2,
    direction: 'sendrecv',
    bargeIn: { minSpeechMs: 60, echo: { tailMs: 400, marginDb: 6 } },
  }
}

async function metric(m: Metrics, name: string): Promise<number> {
  const text = await m.registry.metrics()
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0)
}

/** The process's threads scheduled SCHED_RR (/proc task stat field 41, policy 2). */
function realtimeThreads(): number {
  return readdirSync('/proc/self/task').filter((tid) => {
    try {
      return readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ')[38] === '2'
    } catch {
      return false // the thread ended meanwhile
    }
  }).length
}

t.test(
  'MEDIA_PRIORITY=realtime: each media worker thread, and no other, runs SCHED_RR',
  { skip: process.getuid?.() !== 0 && 'needs root or CAP_SYS_NICE' },
  async (t) => {
    const before = realtimeThreads()
    const plane = await WorkerMediaPlane.start({
      workers: 2,
      realtime: true,
      portMin: 36300,
      portMax: 36319,
      host: '127.0.0.1',
      metrics: new Metrics(),
      logger,
    })
    t.equal(realtimeThreads() - before, 2, 'two workers, two real-time threads; the main thread and the VAD stay as they were')
    await plane.close()
  },
)

t.test('a call through a media worker', async (t) => {
  const metrics = new Metrics()
  const plane = await WorkerMediaPlane.start({ workers: 2, realtime: false, portMin: 36000, portMax: 36019, host: '127.0.0.1', metrics, logger })
  t.teardown(() => plane.close())
  t.equal(plane.available, 10, 'the range is split between the workers')
  const names = readdirSync('/proc/self/task').map((tid) => readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim())
  t.ok(names.includes('media-w0') && names.includes('media-w1'), 'each worker names its OS thread (top -H, ps -L)')
  const caller = await phone()
  t.teardown(() => caller.close())
  const port = (await plane.allocate())!
  const session = plane.open(spec('call-1', port, caller.address().port), logger)
  const dir = mkdtempSync(path.join(os.tmpdir(), 'media-worker-'))
  await session.record(`${dir}/call.wav`)
  let audio = 0
  let promptStarts = 0
  session.onAudio = (pcm, line) => {
    if (pcm.length === 2 * line.length) audio++ // 16 kHz beside the 8 kHz line audio
  }
  session.onPromptStart = () => promptStarts++
  let received = 0
  caller.on('message', () => received++)
  session.start()
  session.confirm(performance.timeOrigin + performance.now()) // the ACK: the call's audio ring is made now
  // the caller's RTP: 1 s of PCMU
  const pkt = Buffer.alloc(172, 0xff)
  for (let i = 0; i < 50; i++) {
    writeRtpHeader(pkt, { marker: i === 0, payloadType: 0, sequenceNumber: 100 + i, timestamp: 160 * i, ssrc: 0x1234 })
    caller.send(pkt, port, '127.0.0.1')
    await wait(20)
  }
  const played = await session.play(new Int16Array(16000).fill(3000)) // 1 s prompt at 16 kHz
  t.equal(played, true, 'the prompt played out')
  t.equal(promptStarts, 1, 'its first packet was reported')
  for (let i = 0; i < 100 && audio < 25; i++) await wait(20) // a loaded machine's main thread reads the ring late
  t.ok(audio >= 25, `the caller's audio reached the main thread through the ring (${audio} chunks)`)
  t.ok(received >= 50, `RTP reached the caller (${received} packets)`)
  await wait(1100) // a report
  t.ok((session.stats() as any).packetsIn >= 50, 'live statistics come from the worker')
  const closed = await session.close()
  plane.release(port)
  t.ok((closed.stats as any).packetsOut >= 50, 'final statistics at close')
  t.ok(closed.recording && closed.recording.seconds > 1.5, `the worker wrote the recording (${closed.recording?.seconds} s)`)
  t.ok(statSync(`${dir}/call.wav`).size > 44 + 32000 * 2, 'the WAV is on disk')
  t.ok((await metric(metrics, 'voice_rtp_packets_total{direction="in"}')) >= 50, 'counters reach the main registry')
  t.ok((await metric(metrics, 'voice_pacing_clock_lateness_seconds_count')) > 0, 'and the clock lateness')
  t.equal(plane.inUse.size, 0)
})

t.test('a port pair released while a report was on its way stays free', async (t) => {
  const metrics = new Metrics()
  const plane = await WorkerMediaPlane.start({ workers: 1, realtime: false, portMin: 36400, portMax: 36409, host: '127.0.0.1', metrics, logger })
  t.teardown(() => plane.close())
  metrics.watchPorts(plane)
  const port = (await plane.allocate())!
  t.equal(plane.available, 4)
  // The main thread busy past the worker's once-a-second report, then the release: the report
  // (counted with the pair still held) is read after the release.
  const until = Date.now() + 1200
  while (Date.now() < until);
  plane.release(port)
  await wait(100)
  t.equal(plane.available, 5, 'the late report does not take the pair back')
  t.equal(await metric(metrics, 'voice_rtp_ports_free'), 5, 'nor does the gauge')
  await wait(1100) // a report counted after the release
  t.equal(plane.available, 5)
})

t.test("the least loaded worker takes the next call; a seller leg goes to its call's worker", async (t) => {
  const plane = await WorkerMediaPlane.start({ workers: 2, realtime: false, portMin: 36100, portMax: 36119, host: '127.0.0.1', metrics: new Metrics(), logger })
  t.teardown(() => plane.close())
  const a = (await plane.allocate())!
  const sa = plane.open(spec('a', a, 9), logger)
  const b = (await plane.allocate())!
  plane.open(spec('b', b, 9), logger)
  t.ok(a < 36110 !== b < 36110, `two calls on two workers (ports ${a}, ${b})`)
  const seller = (await plane.allocate(sa))!
  t.equal(seller < 36110, a < 36110, `the seller leg is on call a's worker (port ${seller})`)
})

t.test('a media worker that dies ends its own calls and is started again', async (t) => {
  process.env.VOICE_FAILPOINTS = 'media-worker.crash'
  const metrics = new Metrics()
  const plane = await WorkerMediaPlane.start({ workers: 2, realtime: false, portMin: 36200, portMax: 36219, host: '127.0.0.1', metrics, logger })
  delete process.env.VOICE_FAILPOINTS
  t.teardown(() => plane.close())
  const open = async (id: string, near?: MediaSession) => {
    const port = (await plane.allocate(near))!
    const s = plane.open(spec(id, port, 9), logger)
    const faults: string[] = []
    s.onFault = (_err, where) => faults.push(where)
    s.start()
    return { s, port, faults }
  }
  const victim = await open('victim')
  const other = await open('other') // on the other worker: least loaded
  const dir = mkdtempSync(path.join(os.tmpdir(), 'media-worker-'))
  await victim.s.record(`${dir}/call.wav`)
  const playing = victim.s.play(new Int16Array(160_000)) // the first prompt on the worker kills it
  for (let i = 0; i < 100 && !victim.faults.length; i++) await wait(50)
  t.same(victim.faults, ['media-worker'], "the dead worker's call got a media-worker fault")
  t.equal(await playing, false, 'its prompt ended unplayed')
  t.same(other.faults, [], "the other worker's call did not")
  t.equal(await metric(metrics, 'voice_media_worker_restarts_total'), 1)
  t.equal(plane.inUse.has(victim.port), false, 'its ports are no longer counted as held')
  await wait(500)
  const again = await open('again', other.s) // any worker: the restarted one is the least loaded
  t.ok(again.port, 'calls are taken again')
  const fresh = await plane.allocate()
  t.ok(fresh !== null && fresh < 36210, `the restarted worker hands out its slice again (${fresh})`)
  t.not(fresh, victim.port, "but not the dead call's port first: its caller may still stream there and would latch the new call")
})

t.test('a prompt played again is stored in its worker once per line rate, and plays whole each time', async (t) => {
  const plane = await WorkerMediaPlane.start({ workers: 1, realtime: false, portMin: 36400, portMax: 36409, host: '127.0.0.1', metrics: new Metrics(), logger })
  t.teardown(() => plane.close())
  const open = async (id: string, codec: 'PCMU' | 'G722', payloadType: number) => {
    const port = (await plane.allocate())!
    const s = plane.open({ ...spec(id, port, 9), codec, payloadType }, logger)
    s.start()
    s.confirm(performance.timeOrigin + performance.now())
    return s
  }
  const pcmu = await open('narrow', 'PCMU', 0)
  const g722 = await open('wide', 'G722', 9)
  const prompt = new Int16Array(8000).fill(3000) // 0.5 s at 16 kHz
  // The first play crosses, the second stores, the third names the stored copy. A copy stored at
  // the other call's line rate would play at half or double length.
  for (const [name, s] of [
    ['PCMU', pcmu],
    ['G.722', g722],
  ] as const) {
    for (let play = 1; play <= 3; play++) {
      const t0 = Date.now()
      t.equal(await s.play(prompt), true, `${name} play ${play} played out`)
      const ms = Date.now() - t0
      t.ok(ms > 350 && ms < 900, `${name} play ${play} lasted the prompt's 0.5 s (${ms} ms)`)
    }
  }
  await pcmu.close()
  await g722.close()
})

t.test("barge-in step one in the worker: the caller's loud audio holds the prompt with no command from the main thread", async (t) => {
  const plane = await WorkerMediaPlane.start({ workers: 1, realtime: false, portMin: 36500, portMax: 36509, host: '127.0.0.1', metrics: new Metrics(), logger })
  t.teardown(() => plane.close())
  const caller = await phone()
  t.teardown(() => caller.close())
  const port = (await plane.allocate())!
  const session = plane.open(spec('barge', port, caller.address().port), logger)
  const origin = performance.timeOrigin + performance.now()
  const now = () => performance.timeOrigin + performance.now() - origin
  const held: { onsetMs: number; atMs: number }[] = []
  session.onHeld = (onsetMs, atMs) => held.push({ onsetMs, atMs })
  const near: boolean[] = []
  session.onAudio = (_pcm, _line, nearEnd) => near.push(nearEnd)
  // The bot's packets, loud (a prompt) or silent (0xff is PCMU's zero), as they leave.
  const sent: { atMs: number; loud: boolean }[] = []
  caller.on('message', (msg) => {
    const p = parseRtp(msg)
    if (typeof p !== 'string') sent.push({ atMs: now(), loud: p.payload.some((b: number) => b !== 0xff && b !== 0x7f) })
  })
  session.start()
  session.confirm(origin)
  session.watchBargeIn(true)
  const prompt = Int16Array.from({ length: 16000 * 3 }, (_, i) => Math.round(6000 * Math.sin((2 * Math.PI * 440 * i) / 16000)))
  const playing = session.play(prompt)
  await wait(600)
  t.ok(
    sent.some((p) => p.loud),
    'the prompt is on the wire',
  )
  // 300 ms of a loud 1 kHz tone from the caller: not the bot's 440 Hz coming back.
  const tone = Buffer.alloc(172)
  const onsetMs = now()
  for (let i = 0; i < 15; i++) {
    writeRtpHeader(tone, { marker: i === 0, payloadType: 0, sequenceNumber: 500 + i, timestamp: 160 * i, ssrc: 0x4321 })
    for (let k = 0; k < 160; k++) tone[12 + k] = linearToUlaw(Math.round(12000 * Math.sin((2 * Math.PI * 1000 * (i * 160 + k)) / 8000)))
    caller.send(tone, port, '127.0.0.1')
    await wait(20)
  }
  await wait(300)
  t.equal(held.length, 1, 'the worker reported one hold')
  t.ok(
    held[0].onsetMs >= onsetMs - 20 && held[0].onsetMs < onsetMs + 100,
    `its onset is the tone's (${Math.round(held[0].onsetMs - onsetMs)} ms after the first packet left)`,
  )
  t.ok(near.some(Boolean), "the caller's audio came through marked as the caller's")
  const after = sent.filter((p) => p.atMs > held[0].atMs + 40)
  t.ok(after.length >= 5 && after.every((p) => !p.loud), `silence on the wire after the hold (${after.length} packets)`)
  session.resume() // step two, the main thread's: not speech
  await wait(200)
  t.ok(
    sent.slice(-3).every((p) => p.loud),
    'the prompt carries on once resumed',
  )
  session.flush()
  t.equal(await playing, false, 'a flushed prompt ends unplayed')
  await session.close()
})
