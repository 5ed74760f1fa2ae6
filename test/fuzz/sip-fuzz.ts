// The SIP mutation fuzzer: seeded cases (seed message + mutations) sent over UDP (and a share
// over TCP) to a live server at a fixed rate, with a liveness probe (OPTIONS must get 200)
// every few thousand cases. Case i of seed s is always the same bytes: `--start i --count 1`
// replays it.
//
//   node --import tsx test/fuzz/sip-fuzz.ts --count 1000000 --seed 1 --rate 2000
//   node --import tsx test/fuzz/sip-fuzz.ts --target 127.0.0.1:5060 --count 20000
//
// Without --target the fuzzer starts the server itself (test/helpers/server-process.ts),
// reports its RSS before and after (idle: once the fuzzed calls have ended), and on a crash
// replays the last cases one at a time to name the one that killed it, then restarts it.
import dgram from 'node:dgram'
import net from 'node:net'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { instantiate, freshen, tortureSeeds, VALID, type Endpoint, type Seed } from './corpus.ts'
import { EXCLUDABLE, mutate } from './sip-mutator.ts'
import { Prng } from './prng.ts'
import { RFC4475_DIR } from '../helpers/rfc4475.ts'

export interface SipFuzzOptions {
  host: string
  port: number
  seed: number
  /** First case index (to resume or replay). */
  start?: number
  count: number
  /** Cases per second. */
  rate: number
  /** Share of cases sent over TCP. */
  tcpShare?: number
  exclude?: Set<string>
  /** Every this many cases, an OPTIONS must be answered (0: never). */
  probeEvery?: number
  /** Extra check after each probe, e.g. that the process is still there. */
  alive?: () => boolean
  torturePath?: string
  /** Only seeds whose name starts with one of these (e.g. ['invite'] for a call-heavy run). */
  seeds?: string[]
  onProgress?: (p: FuzzProgress) => void
}

export interface FuzzProgress {
  sent: number
  elapsedMs: number
}

export interface SipFuzzResult {
  sent: number
  udp: number
  tcp: number
  bytes: number
  elapsedMs: number
  /** Responses received, by status code. */
  responses: Record<string, number>
  /** Requests the server sent us (its BYEs after the ACK timeout), by method. */
  requests: Record<string, number>
  mutations: Record<string, number>
  /** The first case index after which the server no longer answered, if it stopped. */
  deadAfter?: number
  /** The last cases sent before that (index and mutations), newest last. */
  recent: Array<{ index: number; seed: string; mutations: string[] }>
}

export const DEFAULT_TORTURE = RFC4475_DIR

export function corpus(torturePath = DEFAULT_TORTURE, only?: string[]): Seed[] {
  // Valid traffic weighs as much as the torture set: it is what reaches calls and media.
  const torture = tortureSeeds(torturePath)
  const valid = VALID.flatMap((s) => Array<Seed>(Math.max(1, Math.round(torture.length / VALID.length))).fill(s))
  const all = [...torture, ...valid]
  return only?.length ? all.filter((s) => only.some((p) => s.name.startsWith(p))) : all
}

/** The bytes of case `index`: same seed and index, same bytes. */
export function makeCase(seeds: Seed[], ep: Endpoint, seed: number, index: number, exclude: Set<string>) {
  const rng = Prng.forCase(seed, index)
  const s = rng.pick(seeds)
  const text = s.name.startsWith('rfc4475/') ? freshen(s.text, rng) : instantiate(s.text, ep, rng)
  return { seed: s.name, ...mutate(text, rng, exclude) }
}

function firstLine(buf: Buffer): string {
  const end = buf.indexOf('\r\n')
  return buf.subarray(0, end < 0 ? Math.min(buf.length, 80) : end).toString('latin1')
}

export async function runSipFuzz(opts: SipFuzzOptions): Promise<SipFuzzResult> {
  const exclude = opts.exclude ?? new Set<string>()
  const seeds = corpus(opts.torturePath, opts.seeds)
  const start = opts.start ?? 0
  const result: SipFuzzResult = { sent: 0, udp: 0, tcp: 0, bytes: 0, elapsedMs: 0, responses: {}, requests: {}, mutations: {}, recent: [] }

  const sock = dgram.createSocket('udp4')
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r))
  sock.on('error', () => {})
  // Fuzzed calls send their media here; it is read and thrown away.
  const sink = dgram.createSocket('udp4')
  await new Promise<void>((r) => sink.bind(0, '127.0.0.1', r))
  sink.on('message', () => {})
  const count = (buf: Buffer) => {
    const line = firstLine(buf)
    const status = /^SIP\/2\.0 (\d{3})/.exec(line)?.[1]
    if (status) result.responses[status] = (result.responses[status] ?? 0) + 1
    else {
      const method = /^([A-Z]+) /.exec(line)?.[1] ?? 'other'
      result.requests[method] = (result.requests[method] ?? 0) + 1
    }
  }
  sock.on('message', count)
  const ep: Endpoint = { address: '127.0.0.1', port: sock.address().port, target: `${opts.host}:${opts.port}`, rtpSink: sink.address().port }

  // A few TCP connections, each carrying a run of cases, then closed; reopened after the
  // server closes one (a framing error closes it).
  const tcp: Array<net.Socket | undefined> = []
  const tcpSocket = (slot: number): net.Socket => {
    let s = tcp[slot]
    if (!s || s.destroyed || (s as any).fuzzUses > 50) {
      s?.end()
      s = net.connect({ host: opts.host, port: opts.port })
      ;(s as any).fuzzUses = 0
      s.on('error', () => {})
      s.on('data', count)
      tcp[slot] = s
    }
    ;(s as any).fuzzUses++
    return s
  }

  const t0 = Date.now()
  const probeEvery = opts.probeEvery ?? 5000
  let inFlight = 0
  try {
    for (let i = 0; i < opts.count; i++) {
      const index = start + i
      const c = makeCase(seeds, ep, opts.seed, index, exclude)
      for (const m of c.mutations) result.mutations[m] = (result.mutations[m] ?? 0) + 1
      result.recent.push({ index, seed: c.seed, mutations: c.mutations })
      if (result.recent.length > 200) result.recent.shift()
      const rng = Prng.forCase(opts.seed ^ 0x5bd1e995, index)
      if (opts.tcpShare && rng.chance(opts.tcpShare)) {
        tcpSocket(rng.int(4)).write(c.bytes)
        result.tcp++
      } else {
        inFlight++
        sock.send(c.bytes, opts.port, opts.host, () => inFlight--)
        result.udp++
      }
      result.sent++
      result.bytes += c.bytes.length
      // pace: wait until the schedule catches up (and the socket's queue drains)
      const due = t0 + ((i + 1) * 1000) / opts.rate
      while (Date.now() < due || inFlight > 64) await new Promise((r) => setTimeout(r, Math.max(1, due - Date.now())))
      if (probeEvery && (i + 1) % probeEvery === 0) {
        opts.onProgress?.({ sent: result.sent, elapsedMs: Date.now() - t0 })
        if (!(await probeOptions(opts.host, opts.port)) || (opts.alive && !opts.alive())) {
          result.deadAfter = index
          break
        }
      }
    }
  } finally {
    result.elapsedMs = Date.now() - t0
    await new Promise((r) => setTimeout(r, 200))
    for (const s of tcp) s?.destroy()
    sock.close()
    sink.close()
  }
  return result
}

/** OPTIONS from a fresh socket; true when a final answer comes back (three tries, 2 s each). */
export async function probeOptions(host: string, port: number, tries = 3): Promise<boolean> {
  for (let k = 0; k < tries; k++) {
    const sock = dgram.createSocket('udp4')
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r))
    const p = sock.address().port
    const branch = `z9hG4bKprobe${Date.now()}${k}`
    const ok = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 2000)
      sock.on('message', (m) => {
        // any final answer means alive: 503 is right while fuzzed INVITEs hold every RTP port
        if (/^SIP\/2\.0 [2-6]\d\d /.test(m.toString('latin1'))) {
          clearTimeout(timer)
          resolve(true)
        }
      })
      sock.send(
        `OPTIONS sip:sales@${host}:${port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${p};branch=${branch}\r\nFrom: <sip:probe@127.0.0.1>;tag=${branch}\r\nTo: <sip:sales@${host}>\r\nCall-ID: ${branch}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`,
        port,
        host,
      )
    })
    sock.close()
    if (ok) return true
  }
  return false
}

// --- CLI ----------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      target: { type: 'string' },
      seed: { type: 'string', default: '1' },
      start: { type: 'string', default: '0' },
      count: { type: 'string', default: '1000000' },
      rate: { type: 'string', default: '2000' },
      'tcp-share': { type: 'string', default: '0.05' },
      exclude: { type: 'string', default: '' },
      'max-minutes': { type: 'string', default: '0' },
      'probe-every': { type: 'string', default: '5000' },
      round: { type: 'string', default: '20000' },
      seeds: { type: 'string', default: '' },
      'idle-every': { type: 'string', default: '0' },
      show: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    console.log(`usage: sip-fuzz [--target host:port] [--seed N] [--start I] [--count N] [--rate per-second]
  [--tcp-share 0.05] [--exclude ${EXCLUDABLE.join(',')}] [--max-minutes M] [--probe-every N] [--round N] [--seeds invite,options,...] [--idle-every R] [--show]
Without --target a server process is started (and restarted after a crash).
--show prints the cases (start..start+count) instead of sending them.`)
    return
  }
  const seed = Number(values.seed)
  const exclude = new Set(values.exclude.split(',').filter(Boolean))
  if (values.show) {
    const ep: Endpoint = { address: '127.0.0.1', port: 5099, target: values.target ?? '127.0.0.1:5060', rtpSink: 40000 }
    const seeds = corpus(undefined, values.seeds.split(',').filter(Boolean))
    for (let i = Number(values.start); i < Number(values.start) + Number(values.count); i++) {
      const c = makeCase(seeds, ep, seed, i, exclude)
      console.log(`--- case ${i}: ${c.seed} [${c.mutations.join(', ')}] ${c.bytes.length} bytes\n${JSON.stringify(c.bytes.toString('latin1').slice(0, 3000))}`)
    }
    return
  }
  const { runCampaign } = await import('./campaign.ts')
  await runCampaign({
    target: values.target,
    seed,
    start: Number(values.start),
    count: Number(values.count),
    rate: Number(values.rate),
    tcpShare: Number(values['tcp-share']),
    exclude,
    maxMs: Number(values['max-minutes']) * 60_000,
    probeEvery: Number(values['probe-every']),
    round: Number(values.round),
    seeds: values.seeds.split(',').filter(Boolean),
    idleEvery: Number(values['idle-every']),
  })
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err) => {
    console.error(err)
    process.exit(1)
  })
}
