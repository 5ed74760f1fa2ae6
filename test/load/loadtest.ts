// `npm run loadtest`: a started server (as `npm start` runs it) under N concurrent SIPp calls that
// answer the scenario's questions with speech, while HTTP requests and a scenario reload hit the
// control plane. Measured outside the process: the pacing of every RTP stream the server sends,
// from departure times captured on `lo` (tcpdump); CPU of all of the process's threads from
// /proc/<pid>/stat; RSS from /proc/<pid>/status. Calls start right after the server says ready, so
// the cold start is inside the measurement.
//
//   LOAD_CALLS=200 LOAD_SECONDS=60 MEDIA_WORKERS=2 npm run loadtest
//
// LOAD_CALLS (default 50), LOAD_RATE calls started per second (default 20), LOAD_HTTP_RPS (50),
// LOAD_RELOAD_AT_S (10: the scenario file is rewritten then), MEDIA_WORKERS as for the server.
// LOAD_SHAPE: `embedded` (default), `drachtio` (SIP_BACKEND=drachtio, drachtio-server in front) or
// `freeswitch` (drachtio-server and FreeSWITCH in the media path: the pacing is then FreeSWITCH's
// packets to the callers, and the CPU is the three processes' together).
// Beside the server runs a reference clock (reference-clock.py: SCHED_RR above the media workers,
// 10 ms deadlines): its lateness is the machine's, and the output says how many of the wire's late
// episodes it shared (a host stall delays both; a late packet it did not see is ours).
// LOAD_REFERENCE_PRIORITY (50): 10 puts it beside the workers, to see what their threads wait for.
// LOAD_LOGS=<file>: the server's log lines (stdout and stderr) are written there at the end.
import { spawn } from 'node:child_process'
import { copyFileSync, cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { buildCallerScript, THREE_QUESTIONS_DIR } from '../helpers/caller-audio.ts'
import { LoopbackCapture, percentile } from '../helpers/capture.ts'
import { pacingErrors, rtpPackets, type RtpOnWire } from '../helpers/rtp-analysis.ts'
import { renderScenario } from '../helpers/scenario-file.ts'
import { startServerWith, startServerWithFreeswitch } from '../helpers/sip-backend.ts'
import { runSipp } from '../helpers/sipp.ts'
import { requireTool } from '../helpers/system-tools.ts'

const env = process.env
const CALLS = Number(env.LOAD_CALLS ?? 50)
const RATE = Number(env.LOAD_RATE ?? 20)
const HTTP_RPS = Number(env.LOAD_HTTP_RPS ?? 50)
const RELOAD_AT_S = Number(env.LOAD_RELOAD_AT_S ?? 10)
const SHAPE = env.LOAD_SHAPE ?? 'embedded'
const REFERENCE_PRIORITY = env.LOAD_REFERENCE_PRIORITY ?? '50'
if (!['embedded', 'drachtio', 'freeswitch'].includes(SHAPE)) throw new Error(`LOAD_SHAPE must be embedded, drachtio or freeswitch, got "${SHAPE}"`)
const RTP_MIN = 40000
const RTP_MAX = 40000 + CALLS * 2 + 99
/** FreeSWITCH's RTP range: two endpoints per call (the caller's and the media core's), RTP and RTCP each */
const FS_RTP = { start: 46000, end: 46000 + CALLS * 4 + 199 }
/** The ports whose packets the callers receive: ours, or FreeSWITCH's in that shape. */
const [OUT_MIN, OUT_MAX] = SHAPE === 'freeswitch' ? [FS_RTP.start, FS_RTP.end] : [RTP_MIN, RTP_MAX]

/** utime + stime of every thread of the process, in seconds (/proc/<pid>/stat fields 14, 15). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** The same per thread name of the process's live threads (the server names its workers: media-w0,
 *  vad, ...; "node" is the main thread with libuv's and V8's helpers). */
function cpuSecondsByThread(pid: number): Record<string, number> {
  const out: Record<string, number> = {}
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      out[name] = (out[name] ?? 0) + (Number(fields[11]) + Number(fields[12])) / 100
    } catch {
      // the thread ended meanwhile
    }
  }
  return out
}

/** The pacing clock's lateness histogram from /metrics, as "<= le ms: count" per bucket. */
function latenessBuckets(text: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const m of text.matchAll(/^voice_pacing_clock_lateness_seconds_bucket\{le="([^"]+)"\} (\d+)/gm)) {
    out[m[1] === '+Inf' ? '+Inf' : `<=${Number(m[1]) * 1000}ms`] = Number(m[2])
  }
  return out
}

/** The media workers' GC pauses from /metrics: per kind, how many, their total, and how many over 5 ms. */
function gcPauses(text: string): Record<string, { count: number; totalMs: number; over5ms: number }> {
  const out: Record<string, { count: number; totalMs: number; over5ms: number }> = {}
  const of = (kind: string) => (out[kind] ??= { count: 0, totalMs: 0, over5ms: 0 })
  for (const m of text.matchAll(/^voice_media_gc_pause_seconds_count\{kind="(\w+)"\} (\d+)/gm)) of(m[1]).count = Number(m[2])
  for (const m of text.matchAll(/^voice_media_gc_pause_seconds_sum\{kind="(\w+)"\} ([\d.e-]+)/gm)) of(m[1]).totalMs = Math.round(Number(m[2]) * 1000)
  for (const m of text.matchAll(/^voice_media_gc_pause_seconds_bucket\{le="0.005",kind="(\w+)"\} (\d+)/gm)) of(m[1]).over5ms = of(m[1]).count - Number(m[2])
  return out
}

/**
 * The reference clock's lateness over the RTP's span, and the wire's late episodes (packets more
 * than 3 ms late, within 50 ms of each other) that began within 30 ms after a late wakeup of it.
 */
function referenceClock(csv: string, rtp: RtpOnWire[]) {
  const text = readFileSync(csv, 'utf8')
  const policy = /^# policy (\w+ \d+)/.exec(text)?.[1] ?? 'unknown'
  const [from, to] = [rtp[0]?.t ?? 0, rtp.at(-1)?.t ?? 0]
  const wakeups = text
    .split('\n')
    .filter((l) => /^\d/.test(l))
    .map((l) => l.split(',').map(Number))
    .filter(([t]) => t * 1000 >= from && t * 1000 <= to)
  const late = wakeups.map(([, ms]) => ms)
  const lateAt = wakeups.filter(([, ms]) => ms > 3).map(([t, ms]) => t * 1000 - ms)
  const episodes: number[] = []
  for (const t of lateIntervals(rtp)) if (!episodes.length || t - episodes.at(-1)! > 50) episodes.push(t)
  const shared = episodes.filter((t) => lateAt.some((r) => r >= t - 30 && r <= t + 10)).length
  return {
    policy,
    lateness: `p50 ${percentile(late, 50).toFixed(2)} ms, p99 ${percentile(late, 99).toFixed(2)} ms, max ${Math.max(0, ...late).toFixed(2)} ms`,
    wakeupsOver3ms: lateAt.length,
    wireLateEpisodes: episodes.length,
    wireLateEpisodesItShared: shared,
  }
}

/** Departure times of packets that left more than 3 ms after their stream's previous one plus 20 ms, in order. */
function lateIntervals(rtp: RtpOnWire[]): number[] {
  const last = new Map<number, RtpOnWire>()
  const out: number[] = []
  for (const p of rtp) {
    const prev = last.get(p.ssrc)
    if (prev && p.seq === ((prev.seq + 1) & 0xffff) && p.t - prev.t - 20 > 3) out.push(p.t)
    last.set(p.ssrc, p)
  }
  return out.sort((a, b) => a - b)
}

/** The server's warnings and errors by message, with the error's own message when it logged one. */
function complaints(logs: string[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const line of logs) {
    if (!/"level":(4|5)\d/.test(line)) continue
    try {
      const entry = JSON.parse(line) as { msg: string; err?: { message?: string } }
      const key = entry.err?.message ? `${entry.msg} (${entry.err.message})` : entry.msg
      out[key] = (out[key] ?? 0) + 1
    } catch {
      // not a log line of ours
    }
  }
  return out
}

function rssMiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024
}

requireTool('sipp', 'sip-tester')
requireTool('tcpdump', 'tcpdump')
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'voice-loadtest-'))
const scenarioDir = path.join(dataDir, 'scenarios')
cpSync(THREE_QUESTIONS_DIR, scenarioDir, { recursive: true })
const script = await buildCallerScript(dataDir, 'ru', 700)
const cap = new LoopbackCapture(path.join(dataDir, 'load.pcap'), `udp and src portrange ${OUT_MIN}-${OUT_MAX}`)
await cap.start()
const t0 = Date.now()
const serverEnv = {
  SCENARIO_DIR: scenarioDir,
  DATA_DIR: dataDir,
  RTP_PORT_MIN: String(RTP_MIN),
  RTP_PORT_MAX: String(RTP_MAX),
  ...(env.MEDIA_WORKERS !== undefined && { MEDIA_WORKERS: env.MEDIA_WORKERS }),
}
// drachtio-server at info logs a line per message: production runs it quieter
const shapeOptions = { drachtioLogLevel: 'notice' }
const server =
  SHAPE === 'freeswitch'
    ? await startServerWithFreeswitch(serverEnv, FS_RTP, shapeOptions)
    : await startServerWith(SHAPE === 'drachtio' ? 'drachtio' : 'embedded', serverEnv, shapeOptions)
const startMs = Date.now() - t0
const pid = server.pid
const idleRss = rssMiB(pid)
/** CPU seconds of the server and of what its shape runs beside it, each by name */
const cpuByProcess = () =>
  Object.fromEntries([['server', cpuSeconds(pid)], ...server.companions.map((c) => [c.name, cpuSeconds(c.pid())])]) as Record<string, number>
const cpu0 = cpuByProcess()
const threadCpu0 = cpuSecondsByThread(pid)
const wall0 = Date.now()

// The control plane busy meanwhile: HTTP requests, and the scenario rewritten (a hot reload).
let httpDone = 0
const http = setInterval(() => {
  void fetch(`http://127.0.0.1:${server.httpPort}/api/calls?limit=20`)
    .then((r) => r.arrayBuffer())
    .then(
      () => httpDone++,
      () => {},
    )
}, 1000 / HTTP_RPS)
const reload = setTimeout(() => {
  const file = path.join(scenarioDir, 'three-questions.yaml')
  writeFileSync(file, readFileSync(file, 'utf8') + '\n# reloaded by the load test\n')
}, RELOAD_AT_S * 1000)
let peakRss = idleRss
const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, rssMiB(pid))), 500)

const referenceCsv = path.join(dataDir, 'reference-clock.csv')
const reference = spawn('python3', [path.join(import.meta.dirname, 'reference-clock.py'), referenceCsv, '900', REFERENCE_PRIORITY], { stdio: 'ignore' })

const scenario = renderScenario('uac-answers.xml', dataDir, {
  WAV: script.wav,
  PT: 0,
  CODEC: 'PCMU',
  BYE_TIMEOUT_MS: Math.round((script.totalSeconds + 60) * 1000),
})
const sipp = await runSipp(
  scenario,
  `127.0.0.1:${server.sipPort}`,
  ['-m', String(CALLS), '-l', String(CALLS), '-r', String(RATE), '-rp', '1000', '-mp', '34000'],
  600_000,
)
const cpuEach = Object.fromEntries(Object.entries(cpuByProcess()).map(([name, s]) => [name, s - cpu0[name]]))
const threadCpu = Object.entries(cpuSecondsByThread(pid)).map(([name, s]) => [name, s - (threadCpu0[name] ?? 0)] as const)
const cpu = Object.values(cpuEach).reduce((a, b) => a + b, 0)
const wall = (Date.now() - wall0) / 1000
clearInterval(http)
clearInterval(rssTimer)
clearTimeout(reload)
reference.kill()
const packets = await cap.stop()
// The worker's own view of its clock, beside the wire's: a late tick (scheduling, GC) shows in both.
const metricsText = await fetch(`http://127.0.0.1:${server.httpPort}/metrics`).then(
  (r) => r.text(),
  () => '',
)
await server.stop()

// FreeSWITCH's packets to the media core are not what a caller sees: only those to the callers count
const toCallers = packets.filter((p) => p.dstPort < RTP_MIN || p.dstPort > RTP_MAX)
const rtp = rtpPackets(toCallers, (p) => p >= OUT_MIN && p <= OUT_MAX)
const errors = pacingErrors(rtp)
const first30 = pacingErrors(rtp.filter((p) => p.t <= rtp[0].t + 30_000))
const streams = new Set(rtp.map((p) => p.ssrc)).size
const max = (xs: number[]) => xs.reduce((m, x) => (x > m ? x : m), 0) // spread would overflow the stack
const fmt = (xs: number[]) => `p50 ${percentile(xs, 50).toFixed(2)} ms, p99 ${percentile(xs, 99).toFixed(2)} ms, max ${max(xs).toFixed(2)} ms`
const result = {
  shape: SHAPE,
  calls: CALLS,
  mediaWorkers: env.MEDIA_WORKERS ?? `default (${os.availableParallelism()})`,
  sippSuccessful: sipp.successful,
  sippFailed: sipp.failed,
  // why calls failed, as the server logged it (the messages of its warn and error lines, counted)
  ...(sipp.failed > 0 && { serverComplaints: complaints(server.logs) }),
  startMs,
  streams,
  intervals: errors.length,
  pacing: fmt(errors),
  pacingFirst30s: fmt(first30),
  cpuPercentOfOneCore: Math.round((cpu / wall) * 1000) / 10,
  cpuPerCallPercent: Math.round(((cpu / wall) * 100 * 1000) / CALLS) / 1000,
  cpuPercentByProcess: Object.fromEntries(Object.entries(cpuEach).map(([name, s]) => [name, Math.round((s / wall) * 1000) / 10])),
  serverCpuPercentByThread: Object.fromEntries(threadCpu.map(([name, s]) => [name, Math.round((s / wall) * 1000) / 10])),
  idleRssMiB: Math.round(idleRss),
  peakRssMiB: Math.round(peakRss),
  rssPerCallKiB: Math.round(((peakRss - idleRss) * 1024) / CALLS),
  httpRequests: httpDone,
  wallSeconds: Math.round(wall),
  clockLatenessInWorkers: latenessBuckets(metricsText),
  referenceClock: referenceClock(referenceCsv, rtp),
  gcPausesInWorkers: gcPauses(metricsText),
}
if (env.LOAD_LOGS) writeFileSync(env.LOAD_LOGS, server.logs.join('\n') + '\n')
console.log(JSON.stringify(result, null, 2))
copyFileSync(path.join(dataDir, 'load.pcap'), path.join(os.tmpdir(), 'voice-loadtest-last.pcap'))
