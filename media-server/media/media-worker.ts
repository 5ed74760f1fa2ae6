// A media worker thread: a LocalMediaPlane (its own port range, its own pacing clock) driven by the
// main thread's commands (worker-protocol.ts). Nothing else runs on this thread's event loop, so
// nothing the control plane does (synthesis, a reload, a slow query, a burst of HTTP) can delay a
// packet here.
import { PerformanceObserver, constants as perfConstants, type PerformanceEntry } from 'node:perf_hooks'
import { parentPort, workerData } from 'node:worker_threads'
import { MEDIA_CLOCK_MS, PacingClock } from '../../rtp/pacing-clock.ts'
import { failpoint } from '../failpoints.ts'
import { createLogger } from '../logger.ts'
import { RtpCounters } from '../../rtp/rtp-metrics.ts'
import { LocalMediaPlane, type LocalMediaSession } from './local-media.ts'
import { PcmRing } from './pcm-ring.ts'
import { raiseForMedia } from '../../threads/thread-priority.ts'
import type { Command, GcKind, PlayAudio, PoolCount, WorkerCounts, WorkerEvent, WorkerInit } from './worker-protocol.ts'

const init = workerData as WorkerInit
const port = parentPort!
const post = (ev: WorkerEvent, transfer?: ArrayBuffer[]) => port.postMessage(ev, transfer ?? [])
const log = createLogger(process.env.LOG_LEVEL ?? 'info').child({ component: 'media-worker', worker: init.index })
const priority = init.realtime ? raiseForMedia() : 'normal'
log.info({ priority }, 'media worker scheduling')

const metrics = new RtpCounters()
const counts: Pick<WorkerCounts, 'lateness' | 'ringDropped' | 'gcPauses'> = { lateness: [], ringDropped: 0, gcPauses: {} }
const clock = new PacingClock(MEDIA_CLOCK_MS, (lateMs) => counts.lateness.push(Math.max(0, lateMs)))

// This thread's collections: a pause here is a pause of every call's packets on it (the figure
// that explains a late tick; the V8 flags of `npm start` are tuned against it).
const GC_KINDS: Record<number, GcKind> = {
  [perfConstants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [perfConstants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [perfConstants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak',
}
new PerformanceObserver((list) => {
  for (const e of list.getEntries() as (PerformanceEntry & { detail?: { kind?: number } })[]) {
    const kind = GC_KINDS[e.detail?.kind ?? -1]
    if (kind) (counts.gcPauses[kind] ??= []).push(e.duration)
  }
}).observe({ entryTypes: ['gc'] })
const plane = new LocalMediaPlane({ portMin: init.portMin, portMax: init.portMax, host: init.host, clock, metrics, lastPorts: init.lastPorts })

interface Live {
  session: LocalMediaSession
  /** from the ACK on (see the confirm command): before it, the call's audio is not wanted */
  ring?: PcmRing
}
const sessions = new Map<string, Live>()
/** prompts stored for later plays (see PlayAudio), until the main thread says forget */
const prompts = new Map<number, { pcm: Int16Array; line: Int16Array }>()

function promptAudio(audio: PlayAudio): { pcm: Int16Array; line: Int16Array } | undefined {
  if ('stored' in audio) return prompts.get(audio.stored)
  if (audio.store !== undefined) prompts.set(audio.store, audio)
  return audio
}

// The main thread sleeps on the doorbell (Atomics.waitAsync) and drains every ring when it rings:
// once per tick that wrote audio, after all of the tick's calls have written theirs.
const doorbell = new Int32Array(init.doorbell)
let ringPending = false
function written(): void {
  if (ringPending) return
  ringPending = true
  setImmediate(() => {
    ringPending = false
    Atomics.add(doorbell, 0, 1)
    Atomics.notify(doorbell, 0)
  })
}

function open(cmd: Extract<Command, { t: 'open' }>): void {
  const session = plane.open(cmd.spec, log.child({ callId: cmd.id }))
  const id = cmd.id
  const live: Live = { session }
  session.onAudio = (pcm, line, nearEnd) => {
    if (!live.ring) return
    if (!live.ring.write(nearEnd, pcm, line)) counts.ringDropped++
    written()
  }
  session.onHeld = (onsetMs, atMs) => post({ t: 'held', id, onsetMs, atMs })
  session.onDtmf = (digit, source) => post({ t: 'dtmf', id, digit, source })
  session.onPromptStart = () => post({ t: 'promptStart', id })
  session.onFault = (err, where) => post({ t: 'fault', id, where, message: (err as Error)?.message ?? String(err) })
  sessions.set(id, live)
}

/** The media-worker.crash failpoint: the thread dies of an uncaught error, as of a bug in native
 *  code or an out-of-memory, on the first prompt played on it. */
function crashpoint(): void {
  try {
    failpoint('media-worker.crash')
  } catch (err) {
    setImmediate(() => {
      throw err
    })
  }
}

let released = 0
const pool = (): PoolCount => ({ available: plane.available, released })

async function handle(cmd: Command): Promise<void> {
  switch (cmd.t) {
    case 'allocate':
      return post({ t: 'allocated', req: cmd.req, port: await plane.allocate(), pool: pool() })
    case 'release':
      released++
      return plane.release(cmd.port)
    case 'open':
      return open(cmd)
    case 'forget':
      return void prompts.delete(cmd.prompt)
  }
  const live = sessions.get(cmd.id)
  if (!live) return
  const s = live.session
  switch (cmd.t) {
    case 'start':
      return s.start()
    case 'confirm':
      live.ring = new PcmRing(cmd.ring)
      return s.confirm(cmd.timelineOrigin)
    case 'hold':
      return s.hold()
    case 'resume':
      return s.resume()
    case 'flush':
      return s.flush()
    case 'watchBargeIn':
      return s.watchBargeIn(cmd.on)
    case 'loudDb':
      return s.setLoudDb(cmd.db)
    case 'update':
      return s.update(cmd.remote, cmd.direction)
    case 'bridge':
      return s.bridge(cmd.spec)
    case 'play': {
      crashpoint()
      const audio = promptAudio(cmd.audio)
      return post({ t: 'played', id: cmd.id, req: cmd.req, ok: !!audio && (await s.play(audio.pcm, audio.line)) })
    }
    case 'record':
      try {
        await s.record(cmd.path)
        return post({ t: 'recorded', id: cmd.id, req: cmd.req })
      } catch (err) {
        return post({ t: 'recorded', id: cmd.id, req: cmd.req, error: (err as Error).message })
      }
    case 'close': {
      sessions.delete(cmd.id)
      const closed = await s.close()
      return post({ t: 'closed', id: cmd.id, req: cmd.req, ...closed, pool: pool() })
    }
  }
}

port.on('message', (cmd: Command) => {
  handle(cmd).catch((err) => {
    // A command that throws ends its own call, not the worker.
    log.error({ err, command: cmd.t }, 'media command failed')
    if ('id' in cmd) post({ t: 'fault', id: cmd.id, where: 'media-worker', message: (err as Error).message })
  })
})

// Statistics of every call and the counters, once a second (the API's live view, /metrics).
setInterval(() => {
  const stats: Record<string, Record<string, unknown>> = {}
  for (const [id, live] of sessions) stats[id] = live.session.stats()
  const rtp = { rtpIn: metrics.packetsIn, rtpOut: metrics.packetsOut, dropped: metrics.dropped }
  post({ t: 'report', stats, counts: { ...rtp, ...counts }, pool: pool() })
  metrics.reset()
  counts.lateness = []
  counts.gcPauses = {}
  counts.ringDropped = 0
}, 1000)

post({ t: 'ready' })
