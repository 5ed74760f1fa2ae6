// The long fuzz run behind `npm run fuzz`: the SIP fuzzer in rounds against a server process
// (started here unless --target names one), RSS measured idle before and after each round,
// a crash bisected to its case and the server restarted.
import { cpuMs, rssMiB, processAlive } from '../helpers/proc-memory.ts'
import { startServerProcess, type ServerHandle } from '../helpers/server-process.ts'
import { makeCase, corpus, probeOptions, runSipFuzz, type SipFuzzResult } from './sip-fuzz.ts'

export interface CampaignOptions {
  target?: string
  seed: number
  start: number
  count: number
  rate: number
  tcpShare: number
  exclude: Set<string>
  /** Stop after this long (0: no limit); the count actually run is reported. */
  maxMs: number
  probeEvery: number
  /** Cases per round; RSS is taken idle between rounds. */
  round?: number
  seeds?: string[]
  /** Wait for idle (and take RSS then) every this many rounds; 0: only at the end. */
  idleEvery?: number
}

const SERVER_ENV = { LOG_LEVEL: 'info', RTP_PORT_MIN: '40000', RTP_PORT_MAX: '49999' }

/** Live calls per /metrics (voice_active_calls). */
export async function activeCalls(httpPort: number): Promise<number> {
  const text = await fetch(`http://127.0.0.1:${httpPort}/metrics`).then((r) => r.text())
  return Number(/^voice_active_calls (\S+)/m.exec(text)?.[1] ?? NaN)
}

/**
 * Waits until the server is idle: no call live (fuzzed INVITEs that got 200 end by ACK
 * timeout, 64*T1) for three polls in a row while the process used under 10% of a core (a
 * backlog of INVITEs may still be waiting for their call records: those calls appear later).
 * Returns the live calls left at the deadline.
 */
export async function waitIdle(server: ServerHandle, timeoutMs = 120_000, settleMs = 3000): Promise<number> {
  const deadline = Date.now() + timeoutMs
  let quiet = 0
  let live = NaN
  while (quiet < 3 && Date.now() < deadline) {
    const cpu0 = cpuMs(server.pid)
    await new Promise((r) => setTimeout(r, 2000))
    live = await activeCalls(server.httpPort)
    quiet = live === 0 && cpuMs(server.pid) - cpu0 < 200 ? quiet + 1 : 0
  }
  await new Promise((r) => setTimeout(r, settleMs))
  return live
}

function log(o: object): void {
  console.log(JSON.stringify({ t: new Date().toISOString(), ...o }))
}

export async function runCampaign(o: CampaignOptions): Promise<void> {
  const round = o.round ?? 20_000
  const t0 = Date.now()
  let server: ServerHandle | undefined
  let host = '127.0.0.1'
  let port = 0
  const start = async () => {
    server = await startServerProcess(SERVER_ENV, { maxLogLines: 200 })
    port = server.sipPort
    await waitIdle(server, 10_000, 3000)
    log({ event: 'server started', pid: server.pid, rssMiB: rssMiB(server.pid) })
  }
  if (o.target) [host, port] = [o.target.split(':')[0], Number(o.target.split(':')[1])]
  else await start()
  const rss0 = server ? rssMiB(server.pid) : undefined

  const crashes: object[] = []
  const totals = { sent: 0, responses: {} as Record<string, number>, mutations: {} as Record<string, number> }
  let next = o.start
  let sendingMs = 0
  let rounds = 0
  while (next < o.start + o.count && (!o.maxMs || Date.now() - t0 < o.maxMs)) {
    const n = Math.min(round, o.start + o.count - next)
    const r: SipFuzzResult = await runSipFuzz({
      host,
      port,
      seed: o.seed,
      start: next,
      count: n,
      rate: o.rate,
      tcpShare: o.tcpShare,
      exclude: o.exclude,
      probeEvery: o.probeEvery,
      seeds: o.seeds,
      alive: () => !server || processAlive(server.pid),
    })
    sendingMs += r.elapsedMs
    totals.sent += r.sent
    for (const [k, v] of Object.entries(r.responses)) totals.responses[k] = (totals.responses[k] ?? 0) + v
    for (const [k, v] of Object.entries(r.mutations)) totals.mutations[k] = (totals.mutations[k] ?? 0) + v
    next += r.sent
    if (r.deadAfter !== undefined || (server && !processAlive(server.pid))) {
      const crash = {
        afterCase: r.deadAfter ?? next - 1,
        exit: server ? await Promise.race([server.exited, new Promise((res) => setTimeout(() => res('still running'), 1000))]) : undefined,
        log: server?.logs.slice(-15),
      }
      log({ event: 'server stopped answering', ...crash })
      const entry: Record<string, unknown> = { ...crash }
      crashes.push(entry)
      if (!server) break
      await server.stop()
      await start()
      const culprit = await bisect(
        server!,
        o,
        r.recent.map((x) => x.index),
        async () => {
          await start()
          return server!
        },
      )
      entry.culprit = culprit
      log({ event: 'crash case', culprit })
      await server!.stop()
      await start()
      continue
    }
    // RSS is taken idle (all fuzzed calls ended) every `idleEvery` rounds, else as it is
    rounds++
    const idle = server ? (o.idleEvery && rounds % o.idleEvery === 0 ? { live: await waitIdle(server) } : {}) : {}
    if (server) Object.assign(idle, { rssMiB: Math.round(rssMiB(server.pid)) })
    log({ event: 'round', sent: totals.sent, ratePerS: Math.round(r.sent / (r.elapsedMs / 1000)), ...idle })
  }
  const live = server ? await waitIdle(server) : undefined
  const rss1 = server ? rssMiB(server.pid) : undefined
  log({
    event: 'done',
    seed: o.seed,
    start: o.start,
    sent: totals.sent,
    minutes: +((Date.now() - t0) / 60_000).toFixed(1),
    ratePerS: Math.round(totals.sent / (sendingMs / 1000)),
    crashes: crashes.length,
    liveCallsLeft: live,
    rssIdleBeforeMiB: rss0 && Math.round(rss0),
    rssIdleAfterMiB: rss1 && Math.round(rss1),
    responses: totals.responses,
    mutations: totals.mutations,
    crashList: crashes,
  })
  await server?.stop()
}

/**
 * Finds the case that killed the server among those sent just before, by halves: a half is
 * replayed, and after a pause longer than an RTCP interval (some crashes wait for a timer) the
 * server is checked; the half that kills it is kept (and the server restarted).
 */
async function bisect(server: ServerHandle, o: CampaignOptions, indexes: number[], restart: () => Promise<ServerHandle>): Promise<object | undefined> {
  const seeds = corpus(undefined, o.seeds)
  const kills = async (cases: number[]): Promise<boolean> => {
    for (const index of cases) {
      await runSipFuzz({
        host: '127.0.0.1',
        port: server.sipPort,
        seed: o.seed,
        start: index,
        count: 1,
        rate: 1000,
        exclude: o.exclude,
        probeEvery: 0,
        seeds: o.seeds,
      })
    }
    await new Promise((r) => setTimeout(r, 8000))
    return !processAlive(server.pid) || !(await probeOptions('127.0.0.1', server.sipPort, 1))
  }
  let candidates = indexes
  let log: string[] = []
  while (candidates.length > 1) {
    const half = candidates.slice(0, Math.ceil(candidates.length / 2))
    if (await kills(half)) {
      candidates = half
      log = server.logs.slice(-8)
    } else {
      candidates = candidates.slice(half.length)
    }
    if (!processAlive(server.pid) || !(await probeOptions('127.0.0.1', server.sipPort, 1))) {
      await server.stop()
      server = await restart()
    }
  }
  if (candidates.length !== 1 || !(await kills(candidates))) return undefined
  log = server.logs.slice(-8)
  const c = makeCase(seeds, { address: '127.0.0.1', port: 5099, target: '127.0.0.1', rtpSink: 40000 }, o.seed, candidates[0], o.exclude)
  return {
    index: candidates[0],
    seed: c.seed,
    mutations: c.mutations,
    reproduce: `node --import tsx test/fuzz/sip-fuzz.ts --seed ${o.seed} --start ${candidates[0]} --count 1 --show${o.seeds?.length ? ' --seeds ' + o.seeds.join(',') : ''}`,
    log,
  }
}
