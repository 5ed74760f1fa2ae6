// npm run bench: the media path of N concurrent G.711 calls in this process, over loopback
// UDP. Each call: RTP in at 50 packets/s from a caller process (decode, energy VAD, the
// recording mix), RTP out at 50 packets/s from a looping prompt, paced by the one shared
// clock. Reports per N: the clock's lateness p50/p99, server CPU per call, RSS per call, and
// whether every packet went both ways. Not part of npm test.
import { fork } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pino from 'pino'
import { PcmuCodec } from '../../codecs/pcmu.ts'
import { PacingClock } from '../../media-server/clock/pacing-clock.ts'
import { Metrics } from '../../media-server/metrics.ts'
import { RtpPortPool } from '../../media-server/rtp/port-pool.ts'
import { RtpSession } from '../../media-server/rtp/rtp-session.ts'
import { EnergyDetector } from '../../vad/energy-detector.ts'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const COUNTS = (process.env.BENCH_CALLS ?? '50,100,200,300,400,600').split(',').map(Number)
const logger = pino({ level: 'silent' })

function percentile(v: number[], p: number): number {
  const s = [...v].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN
}

async function run(n: number) {
  const lateness: number[] = []
  const clock = new PacingClock(20, (ms) => lateness.push(ms))
  const pool = new RtpPortPool(40000, 40000 + 2 * n + 1, '127.0.0.1')
  const metrics = new Metrics()
  const prompt = Int16Array.from({ length: 8000 }, (_, i) => Math.round(6000 * Math.sin((2 * Math.PI * 440 * i) / 8000)))
  global.gc?.()
  const rssBefore = process.memoryUsage().rss
  const sessions: RtpSession[] = []
  const ports = []
  for (let i = 0; i < n; i++) {
    const pair = await pool.allocate()
    if (!pair) throw new Error('port pool exhausted')
    ports.push(pair)
    const s = new RtpSession({ ports: pair, codec: new PcmuCodec(), payloadType: 0, remote: { address: '127.0.0.1', port: 9 }, signallingAddress: '127.0.0.1', ptimeMs: 20, clockPeriodMs: 20, metrics, logger })
    const vad = new EnergyDetector()
    const mix = new Int16Array(320)
    s.onAudio = (pcm) => {
      vad.isSpeech(pcm)
      for (let j = 0; j < pcm.length; j++) mix[j * 2] = pcm[j]
    }
    const loop = () => void s.play(prompt).then((played) => played && loop())
    loop()
    sessions.push(s)
  }
  const caller = fork(path.join(HERE, 'caller-load.ts'), [ports.map((p) => p.port).join(','), String(SECONDS)], { execArgv: ['--import', 'tsx'] })
  const callerPort = await new Promise<number>((r) => caller.once('message', (m: any) => r(m.port)))
  // Latch every session onto the caller process's socket before measuring.
  for (const s of sessions) s.update({ address: '127.0.0.1', port: callerPort }, 'sendrecv')
  for (const s of sessions) clock.add(s)
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const result = await new Promise<any>((r) => caller.on('message', (m: any) => m.sent !== undefined && r(m)))
  const wall = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  const rss = process.memoryUsage().rss
  for (const s of sessions) {
    clock.remove(s)
    s.close()
  }
  const packetsIn = sessions.reduce((a, s) => a + s.stats.packetsIn, 0)
  for (const p of ports) pool.release(p)
  const cpuMs = (cpu.user + cpu.system) / 1000
  return {
    calls: n,
    clockP50Ms: +percentile(lateness, 50).toFixed(3),
    clockP99Ms: +percentile(lateness, 99).toFixed(3),
    cpuPercentOfCore: +((cpuMs / wall) * 100).toFixed(1),
    cpuPerCallPercent: +((cpuMs / wall / n) * 100).toFixed(3),
    rssPerCallKiB: Math.round((rss - rssBefore) / 1024 / n),
    lossIn: result.sent - packetsIn,
    callerGotBack: `${result.received}/${result.sent}`,
  }
}

console.log(`media bench: ${SECONDS} s per step, ${os.cpus().length} cores (${os.cpus()[0].model}), node ${process.version}`)
const rows = []
for (const n of COUNTS) {
  const row = await run(n)
  rows.push(row)
  console.log(JSON.stringify(row))
}
console.table(rows)
const ok = rows.filter((r) => r.clockP99Ms <= 2 && r.lossIn === 0)
console.log(`largest N with clock p99 <= 2 ms and no loss: ${ok.length ? Math.max(...ok.map((r) => r.calls)) : 'none'} (G.711, one process, one core for media)`)
writeFileSync(path.join(os.tmpdir(), 'media-bench.json'), JSON.stringify(rows, null, 2))
