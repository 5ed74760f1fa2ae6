// npm run bench: the media path of N concurrent calls in this process, over loopback UDP,
// per codec. Each call: RTP in at 50 packets/s from a caller process with impairment (2%
// loss, 5% reordering, 30 ms jitter), through the jitter buffer, decode or concealment,
// resampling to 16 kHz, Silero VAD (at 8 kHz on the decoded audio of G.711 lines, as in a call;
// batched across calls, or one run per call, or off: BENCH_VAD)
// and the recording mix; RTP out at 50 packets/s from a
// looping 16 kHz prompt, resampled and encoded for the line, paced by the one shared clock;
// RTCP both ways. Reports per codec, VAD mode and N: pacing on the wire (|departure interval -
// 20 ms| of every stream, from a tcpdump capture on lo of the measured window: what the far end
// sees), the clock's own lateness p50/p99 beside it, the send
// phase's length p99 (how much later than the tick the last call's packet leaves), server CPU
// per call (all threads: VAD inference runs on onnxruntime's pool thread), RSS per call,
// whether the server lost anything and whether the VAD kept up. The caller sends a steady
// tone, so every VAD window passes the energy pre-gate: the worst case; BENCH_CALLER=talk has
// each caller talk half the time over an idle line (-70 dBFS). The first BENCH_WARMUP_S seconds
// of a step (default 1: every call starting in the same tick, jitter buffers filling, WASM tiering
// up in both processes) are not measured. OPUS_COMPLEXITY and VAD_TICK_MS as for the server. BENCH_PIN=1 (Linux,
// taskset) keeps the server, with all its threads, on CPU 0 and the callers on CPU 1, so "per
// core" is one core and the callers do not compete with it. Not part of npm test.
import { execFileSync, fork } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import pino from 'pino'
import { LoopbackCapture } from '../helpers/capture.ts'
import { pacingErrors, rtpPackets } from '../helpers/rtp-analysis.ts'
import { createCodec, type CodecName } from '../../codecs/index.ts'
import { PacingClock } from '../../rtp/pacing-clock.ts'
import { Metrics } from '../../media-server/metrics.ts'
import { RtpPortPool } from '../../rtp/port-pool.ts'
import { RtpSession } from '../../rtp/rtp-session.ts'
import { SileroVad, vadRateFor } from '../../vad/silero-vad.ts'

type VadMode = 'off' | 'batched' | 'unbatched'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const COUNTS = (process.env.BENCH_CALLS ?? '50,100,200,300,400').split(',').map(Number)
const CODECS = (process.env.BENCH_CODECS ?? 'PCMU,G722,opus').split(',') as CodecName[]
const IMPAIR = process.env.BENCH_IMPAIR ?? '2,5,30' // loss %, reorder %, jitter ms
const VAD_MODES = (process.env.BENCH_VAD ?? 'batched,unbatched').split(',') as VadMode[]
const CALLER = process.env.BENCH_CALLER === 'talk' ? 'talk' : 'tone'
const PIN = process.env.BENCH_PIN === '1'
const VAD_TICK_MS = Number(process.env.VAD_TICK_MS ?? 16) // as for the server
const WARMUP_MS = Number(process.env.BENCH_WARMUP_S ?? 1) * 1000
const OPUS_COMPLEXITY = process.env.OPUS_COMPLEXITY ? Number(process.env.OPUS_COMPLEXITY) : undefined
const PT: Record<string, number> = { PCMU: 0, PCMA: 8, G722: 9, opus: 111 }
const logger = pino({ level: 'silent' })
const CAPTURE_DIR = mkdtempSync(path.join(os.tmpdir(), 'media-bench-'))

function percentile(v: number[], p: number): number {
  const s = [...v].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN
}

async function run(codecName: CodecName, n: number, vadMode: VadMode) {
  const vadModel = vadMode === 'off' ? undefined : await SileroVad.load({ batched: vadMode === 'batched', tickMs: VAD_TICK_MS })
  let measuring = false
  const lateness: number[] = []
  const sendPhase: number[] = []
  const clock = new PacingClock(20, (ms) => measuring && lateness.push(ms))
  // Subscribers are called in the order added: these two bracket every call's send.
  let sendStart = 0
  const first = { onTick: () => void (sendStart = performance.now()) }
  const last = { onTick: () => void (measuring && sendPhase.push(performance.now() - sendStart)) }
  const PORT_MIN = 40000
  const pool = new RtpPortPool(PORT_MIN, PORT_MIN + 2 * n + 1, '127.0.0.1')
  const capture = new LoopbackCapture(path.join(CAPTURE_DIR, `${codecName}-${vadMode}-${n}.pcap`), `udp and src portrange ${PORT_MIN}-${PORT_MIN + 2 * n + 1}`)
  const metrics = new Metrics()
  const prompt = Int16Array.from({ length: 16000 }, (_, i) => Math.round(6000 * Math.sin((2 * Math.PI * 440 * i) / 16000)))
  global.gc?.()
  const rssBefore = process.memoryUsage().rss
  const sessions: RtpSession[] = []
  const ports = []
  for (let i = 0; i < n; i++) {
    const pair = await pool.allocate()
    if (!pair) throw new Error('port pool exhausted')
    ports.push(pair)
    const s = new RtpSession({
      ports: pair,
      codec: createCodec(codecName, { opusComplexity: OPUS_COMPLEXITY }),
      payloadType: PT[codecName],
      telephoneEventPt: 101,
      remote: { address: '127.0.0.1', port: 9, rtcpPort: 10 },
      rtcpMux: false,
      signallingAddress: '127.0.0.1',
      ptimeMs: 20,
      clockPeriodMs: 20,
      jitter: { initialDelayMs: 40, maxDelayMs: 200 },
      cname: `bench-${i}`,
      metrics,
      logger,
    })
    // As in a call: the VAD at the line's rate for 8 kHz lines.
    const vadRate = vadRateFor(s.lineRate)
    const vadAtLineRate = vadRate === s.lineRate
    const vad = vadModel?.open(vadRate, () => {})
    const mix = new Int16Array(2 * 16000)
    s.onAudio = (pcm, _buffered, line) => {
      vad?.push(vadAtLineRate ? line : pcm)
      for (let j = 0; j < pcm.length; j++) mix[j * 2] = pcm[j]
    }
    const loop = () => void s.play(prompt).then((played) => played && loop())
    loop()
    sessions.push(s)
  }
  const caller = fork(path.join(HERE, 'caller-load.ts'), [ports.map((p) => p.port).join(','), String(SECONDS), codecName, IMPAIR, CALLER], {
    execArgv: ['--import', 'tsx'],
  })
  if (PIN) pinTo(caller.pid!, 1)
  const callerPort = await new Promise<number>((r) => caller.once('message', (m: any) => r(m.port)))
  // Latch every session onto the caller process's socket before measuring.
  for (const s of sessions) s.update({ address: '127.0.0.1', port: callerPort, rtcpPort: callerPort }, 'sendrecv')
  clock.add(first)
  for (const s of sessions) clock.add(s)
  clock.add(last)
  const done = new Promise<any>((r) => caller.on('message', (m: any) => m.sent !== undefined && r(m)))
  await new Promise((r) => setTimeout(r, WARMUP_MS))
  await capture.start()
  measuring = true
  const cpu0 = process.cpuUsage()
  const elu0 = performance.eventLoopUtilization()
  const t0 = performance.now()
  const result = await done
  const wall = performance.now() - t0
  const wire = pacingErrors(rtpPackets(await capture.stop(), (p) => p >= PORT_MIN && p < PORT_MIN + 2 * n + 2 && p % 2 === 0))
  const cpu = process.cpuUsage(cpu0)
  const elu = performance.eventLoopUtilization(elu0)
  const rss = process.memoryUsage().rss
  clock.remove(first)
  clock.remove(last)
  for (const s of sessions) {
    clock.remove(s)
    s.close()
  }
  const packetsIn = sessions.reduce((a, s) => a + s.stats.packetsIn, 0)
  const concealed = sessions.reduce((a, s) => a + s.jitterBuffer.stats.lost, 0)
  const late = sessions.reduce((a, s) => a + s.jitterBuffer.stats.late, 0)
  for (const p of ports) pool.release(p)
  const vadStats = vadModel?.stats
  await vadModel?.close()
  const cpuMs = (cpu.user + cpu.system) / 1000
  return {
    codec: codecName,
    vad: vadMode,
    caller: CALLER,
    calls: n,
    wireP99Ms: +percentile(wire, 99).toFixed(3),
    wireMaxMs: +wire.reduce((m, x) => (x > m ? x : m), 0).toFixed(3),
    clockP50Ms: +percentile(lateness, 50).toFixed(3),
    clockP99Ms: +percentile(lateness, 99).toFixed(3),
    sendPhaseP99Ms: +percentile(sendPhase, 99).toFixed(3),
    cpuPercentOfCore: +((cpuMs / wall) * 100).toFixed(1),
    cpuPerCallPercent: +((cpuMs / wall / n) * 100).toFixed(3),
    // The main thread's busy share (the media path; VAD inference is on its worker thread).
    mainThreadBusyPercent: +(elu.utilization * 100).toFixed(1),
    rssPerCallKiB: Math.round((rss - rssBefore) / 1024 / n),
    notReceived: result.sent - packetsIn,
    concealedFrames: concealed,
    lateDrops: late,
    vadWindows: vadStats?.windows ?? 0,
    vadGated: vadStats?.gated ?? 0,
    vadDropped: vadStats?.dropped ?? 0,
    vadMaxBatch: vadStats?.maxBatch ?? 0,
    vadMsPerWindow: vadStats?.windows ? +(vadStats.inferenceMs / vadStats.windows).toFixed(3) : 0,
  }
}

/** Every thread of the process onto one CPU; threads started later inherit it. */
function pinTo(pid: number, cpu: number): void {
  execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' })
}

if (PIN) pinTo(process.pid, 0)
console.log(
  `media bench: ${SECONDS} s per step (the first ${WARMUP_MS / 1000} s not measured), Opus complexity ${OPUS_COMPLEXITY ?? 'default'}, caller ${CALLER}, impairment loss/reorder/jitter ${IMPAIR}, ${os.cpus().length} cores (${os.cpus()[0].model}), node ${process.version}${PIN ? ', server pinned to CPU 0, callers to CPU 1' : ''}`,
)
const rows = []
for (const codec of CODECS) {
  for (const vad of VAD_MODES) {
    for (const n of COUNTS) {
      const row = await run(codec, n, vad)
      rows.push(row)
      console.log(JSON.stringify(row))
      if (row.wireP99Ms > 20 || row.vadDropped > 0) break // saturated: larger N only takes longer to say so
    }
  }
}
console.table(rows)
for (const codec of CODECS) {
  for (const vad of VAD_MODES) {
    const ok = rows.filter((r) => r.codec === codec && r.vad === vad && r.wireP99Ms <= 2 && r.notReceived === 0 && r.vadDropped === 0)
    const best = ok.sort((a, b) => b.calls - a.calls)[0]
    console.log(
      `${codec}, VAD ${vad}: largest N with pacing p99 <= 2 ms on the wire, nothing lost by the server and the VAD keeping up: ` +
        (best
          ? `${best.calls} (process CPU ${best.cpuPercentOfCore}% of one core, so about ${Math.floor(best.calls / (best.cpuPercentOfCore / 100))} calls per core by CPU)`
          : 'none'),
    )
  }
}
writeFileSync(path.join(os.tmpdir(), 'media-bench.json'), JSON.stringify(rows, null, 2))
