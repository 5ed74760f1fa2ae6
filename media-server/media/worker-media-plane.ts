import type { Worker } from 'node:worker_threads'
import type { Logger } from 'pino'
import { lineRateOf } from '../../codecs/index.ts'
import type { Metrics } from '../metrics.ts'
import { atLineRate } from '../../rtp/codec-pipeline.ts'
import type { MediaDirection } from '../../rtp/rtp-session.ts'
import { startWorker } from '../../threads/worker-thread.ts'
import type { BridgeSpec, ClosedSession, MediaFault, MediaPlane, MediaSession, SessionSpec } from './media-session.ts'
import { PcmRing } from './pcm-ring.ts'
import type { Command, PlayAudio, PoolCount, WorkerEvent, WorkerInit } from './worker-protocol.ts'

/** Int16 slots of a call's audio ring: 2 s of a 16 kHz call's audio at both rates (128 KB). */
const RING_SLOTS = 64_000

export interface WorkerMediaPlaneOptions {
  workers: number
  /** ask for real-time scheduling in each worker (MEDIA_PRIORITY=realtime) */
  realtime: boolean
  portMin: number
  portMax: number
  host: string
  metrics: Metrics
  logger: Logger
}

/**
 * The media plane in worker threads, one per core by default (MEDIA_WORKERS): each owns a slice of
 * the RTP port range, its calls' sockets, a pacing clock, codecs, jitter buffers, recordings and
 * transfer relays (a LocalMediaPlane in media-worker.ts). A new call goes to the least loaded worker;
 * a seller leg to its call's. A worker that dies ends its calls cleanly (their sessions report a
 * 'media-worker' fault: BYE, record written) and is started again on the same port slice.
 */
export class WorkerMediaPlane implements MediaPlane {
  private readonly workers: MediaWorker[] = []
  private readonly byPort = new Map<number, MediaWorker>()
  private closing = false

  static async start(opts: WorkerMediaPlaneOptions): Promise<WorkerMediaPlane> {
    const plane = new WorkerMediaPlane()
    // even-aligned slices of the range, one per worker; a range with fewer pairs than workers
    // gets fewer workers (each needs a pair at least)
    const base = opts.portMin + (opts.portMin % 2)
    const pairs = Math.floor((opts.portMax - base + 1) / 2)
    const n = Math.max(1, Math.min(opts.workers, pairs))
    if (n < opts.workers) opts.logger.warn({ pairs, workers: n }, 'fewer RTP port pairs than MEDIA_WORKERS: fewer media workers')
    const per = Math.floor(pairs / n)
    for (let i = 0; i < n; i++) {
      const portMin = base + i * per * 2
      const portMax = i === n - 1 ? opts.portMax : portMin + per * 2 - 1
      plane.workers.push(
        new MediaWorker(plane, { index: i, portMin, portMax, host: opts.host, realtime: opts.realtime, doorbell: new SharedArrayBuffer(4) }, opts),
      )
    }
    await Promise.all(plane.workers.map((w) => w.ready))
    return plane
  }

  get available(): number {
    return this.workers.reduce((sum, w) => sum + w.available, 0)
  }

  get inUse(): ReadonlySet<number> {
    return new Set(this.byPort.keys())
  }

  get isClosing(): boolean {
    return this.closing
  }

  async allocate(near?: MediaSession): Promise<number | null> {
    const candidates = near instanceof RemoteMediaSession ? [near.worker] : [...this.workers].sort((a, b) => a.load - b.load)
    for (const w of candidates) {
      if (w.available < 1) continue
      const port = await w.allocate()
      if (port === null) continue
      this.byPort.set(port, w)
      return port
    }
    return null
  }

  release(port: number): void {
    const w = this.byPort.get(port)
    if (!w) return
    this.byPort.delete(port)
    w.release(port)
  }

  /** A worker died: its ports went with its sockets. Returns them. */
  forgetPorts(w: MediaWorker): number[] {
    const gone: number[] = []
    for (const [port, owner] of this.byPort) {
      if (owner !== w) continue
      this.byPort.delete(port)
      gone.push(port)
    }
    return gone
  }

  open(spec: SessionSpec, logger: Logger): MediaSession {
    const w = this.byPort.get(spec.port)
    if (!w) throw new Error(`port pair ${spec.port} was not allocated on the media workers`)
    return w.open(spec, logger)
  }

  async close(): Promise<void> {
    this.closing = true
    await Promise.all(this.workers.map((w) => w.terminate()))
  }
}

/**
 * Which prompts one worker holds (PlayAudio): known by the identity of the main thread's array,
 * stored at their second play (a prompt played once, like a streamed reply, is never kept), and
 * forgotten in the worker once the main thread has dropped the array.
 */
/** Numbers never reused, not even by a restarted worker: a late forget must not hit a new prompt. */
let nextPromptId = 1

class WorkerPrompts {
  /** by the main thread's array, then by line rate: the stored copy carries the line-rate version */
  private readonly plays = new WeakMap<Int16Array, Map<number, { id: number; stored: boolean }>>()
  private readonly dropped: FinalizationRegistry<number>

  constructor(forget: (id: number) => void) {
    this.dropped = new FinalizationRegistry(forget)
  }

  audioFor(pcm: Int16Array, lineRate: number): { audio: PlayAudio; transfer: ArrayBuffer[] } {
    let byRate = this.plays.get(pcm)
    if (!byRate) this.plays.set(pcm, (byRate = new Map()))
    const seen = byRate.get(lineRate)
    if (seen?.stored) return { audio: { stored: seen.id }, transfer: [] }
    // Copies, transferred: the main thread's arrays are cached and shared between calls.
    const copy = pcm.slice()
    const atLine = atLineRate(pcm, lineRate)
    const line = atLine === pcm ? copy : atLine.slice() // 16 kHz lines: the same samples
    const transfer = [copy.buffer as ArrayBuffer, ...(line.buffer !== copy.buffer ? [line.buffer as ArrayBuffer] : [])]
    if (!seen) {
      byRate.set(lineRate, { id: nextPromptId++, stored: false })
      return { audio: { pcm: copy, line }, transfer }
    }
    seen.stored = true
    this.dropped.register(pcm, seen.id)
    return { audio: { pcm: copy, line, store: seen.id }, transfer }
  }
}

/** The main thread's handle on one media worker: requests, sessions, the audio doorbell. */
class MediaWorker {
  available = 0
  ready!: Promise<void>
  prompts!: WorkerPrompts
  private worker!: Worker
  private readonly sessions = new Map<string, RemoteMediaSession>()
  private readonly waiting = new Map<number, (ev: WorkerEvent) => void>()
  private nextReq = 1
  private releasesSent = 0
  private readonly bell: Int32Array
  private seen = 0
  private spawned = false
  private readonly log: Logger

  constructor(
    private readonly plane: WorkerMediaPlane,
    private readonly init: Omit<WorkerInit, 'lastPorts'>,
    private readonly opts: WorkerMediaPlaneOptions,
  ) {
    this.bell = new Int32Array(init.doorbell)
    this.log = opts.logger.child({ component: 'media-workers', worker: init.index })
    this.spawn()
    void this.listen()
  }

  /** Port pairs in this worker's slice of the range. */
  private get capacity(): number {
    return Math.floor((this.init.portMax - this.init.portMin + 1) / 2)
  }

  /** Calls on this worker: what "least loaded" compares. */
  get load(): number {
    return this.sessions.size
  }

  private spawn(lastPorts: number[] = []): void {
    // Failpoints (a test's) are armed in the first worker's first run only, so that each fires once
    // in the process, as in the main thread, and never in the worker started to replace a dead one.
    const armed = this.init.index === 0 && !this.spawned
    this.spawned = true
    const env = armed ? process.env : { ...process.env, VOICE_FAILPOINTS: '' }
    const worker = startWorker(new URL('./media-worker.ts', import.meta.url), {
      workerData: { ...this.init, lastPorts },
      env,
      threadName: `media-w${this.init.index}`,
    })
    this.worker = worker
    this.prompts = new WorkerPrompts((prompt) => this.send({ t: 'forget', prompt }))
    this.ready = new Promise((resolve, reject) => {
      const onReady = (ev: WorkerEvent) => {
        if (ev.t !== 'ready') return
        worker.off('message', onReady)
        resolve()
      }
      worker.on('message', onReady)
      worker.once('error', reject)
    })
    worker.on('message', (ev: WorkerEvent) => this.onEvent(ev))
    worker.on('error', (err) => this.log.error({ err }, 'media worker failed'))
    worker.on('exit', (code) => this.onExit(worker, code))
    this.available = this.capacity
    this.releasesSent = 0
  }

  /** The worker's count, plus the releases it had not handled yet when it counted. */
  private learn(pool: PoolCount): void {
    this.available = pool.available + this.releasesSent - pool.released
  }

  /** Sleeps on the doorbell; each ring drains every call's audio ring of this worker. */
  private async listen(): Promise<void> {
    for (;;) {
      const { async, value } = Atomics.waitAsync(this.bell, 0, this.seen)
      if (async) await value
      this.seen = Atomics.load(this.bell, 0)
      if (this.plane.isClosing) return
      for (const s of this.sessions.values()) s.drain()
    }
  }

  send(cmd: Command, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(cmd, transfer)
  }

  request<E extends WorkerEvent>(make: (req: number) => Command, transfer: ArrayBuffer[] = []): Promise<E> {
    const req = this.nextReq++
    return new Promise((resolve) => {
      this.waiting.set(req, resolve as (ev: WorkerEvent) => void)
      this.send(make(req), transfer)
    })
  }

  async allocate(): Promise<number | null> {
    const ev = await this.request<Extract<WorkerEvent, { t: 'allocated' }>>((req) => ({ t: 'allocate', req }))
    this.learn(ev.pool)
    return ev.port
  }

  release(port: number): void {
    this.send({ t: 'release', port })
    this.releasesSent++
    this.available++
  }

  open(spec: SessionSpec, logger: Logger): RemoteMediaSession {
    const session = new RemoteMediaSession(this, spec, logger)
    this.sessions.set(spec.callId, session)
    this.send({ t: 'open', id: spec.callId, spec })
    return session
  }

  forget(id: string): void {
    this.sessions.delete(id)
  }

  private onEvent(ev: WorkerEvent): void {
    if ('req' in ev) {
      const resolve = this.waiting.get(ev.req)
      this.waiting.delete(ev.req)
      resolve?.(ev)
      if (ev.t === 'closed') this.learn(ev.pool)
      return
    }
    switch (ev.t) {
      case 'report':
        return this.onReport(ev)
      case 'dtmf':
        return this.sessions.get(ev.id)?.onDtmf(ev.digit, ev.source)
      case 'promptStart':
        this.sessions.get(ev.id)?.drain() // the audio before it first, as in-process
        return this.sessions.get(ev.id)?.onPromptStart()
      case 'held':
        this.sessions.get(ev.id)?.drain() // the audio that held it first, as in-process
        return this.sessions.get(ev.id)?.onHeld(ev.onsetMs, ev.atMs)
      case 'fault':
        return this.sessions.get(ev.id)?.fault(new Error(ev.message), ev.where)
    }
  }

  private onReport(ev: Extract<WorkerEvent, { t: 'report' }>): void {
    const m = this.opts.metrics
    this.learn(ev.pool)
    for (const [id, stats] of Object.entries(ev.stats)) this.sessions.get(id)?.setStats(stats)
    m.rtpIn.inc(ev.counts.rtpIn)
    m.rtpOut.inc(ev.counts.rtpOut)
    for (const [reason, n] of Object.entries(ev.counts.dropped)) m.rtpDropped.labels(reason).inc(n)
    for (const late of ev.counts.lateness) m.pacingLateness.observe(late / 1000)
    for (const [kind, pauses] of Object.entries(ev.counts.gcPauses)) for (const ms of pauses) m.mediaGcPause.labels(kind).observe(ms / 1000)
    if (ev.counts.ringDropped) m.mediaRingDropped.inc(ev.counts.ringDropped)
  }

  /** The worker is gone: its calls end (fault), its requests are answered, a new one takes its slice. */
  private onExit(worker: Worker, code: number): void {
    if (worker !== this.worker || this.plane.isClosing) return
    this.log.error({ code, calls: this.sessions.size }, 'media worker exited: its calls end, it is started again')
    this.opts.metrics.mediaWorkerRestarts.inc()
    // answered with the new worker's whole pool, so that the answer does not undo its count
    const pool = { available: this.capacity, released: 0 }
    for (const resolve of this.waiting.values()) resolve({ t: 'allocated', req: 0, port: null, pool })
    this.waiting.clear()
    const err = new Error(`media worker ${this.init.index} exited with code ${code}`)
    for (const s of [...this.sessions.values()]) s.workerGone(err)
    this.sessions.clear()
    // the dead calls' callers may stream on for a while: their ports go to new calls last
    this.spawn(this.plane.forgetPorts(this))
  }

  async terminate(): Promise<void> {
    Atomics.add(this.bell, 0, 1)
    Atomics.notify(this.bell, 0) // wakes listen() so that it returns
    await this.worker.terminate()
  }
}

/** A call's media session as the main thread sees it: commands out, events and audio in. */
class RemoteMediaSession implements MediaSession {
  onAudio: MediaSession['onAudio'] = () => {}
  onHeld: MediaSession['onHeld'] = () => {}
  onDtmf: MediaSession['onDtmf'] = () => {}
  onPromptStart: MediaSession['onPromptStart'] = () => {}
  onFault: MediaSession['onFault'] = () => {}
  readonly lineRate: number
  private lastStats: Record<string, unknown> = {}
  /** the call's audio from the worker, from the ACK on (192 KB: not for INVITEs never ACKed) */
  private ring: PcmRing | undefined
  private gone: Error | undefined
  private readonly id: string
  private readonly pendingPlays = new Set<(ok: boolean) => void>()

  constructor(
    readonly worker: MediaWorker,
    spec: SessionSpec,
    private readonly log: Logger,
  ) {
    this.id = spec.callId
    this.lineRate = lineRateOf(spec.codec)
  }

  /** The caller's audio, in the order the worker wrote it. */
  drain(): void {
    if (!this.ring) return
    this.ring.read((nearEnd, pcm, line) => {
      try {
        this.onAudio(pcm, line, nearEnd)
      } catch (err) {
        this.log.error({ err }, 'call audio handler failed')
      }
    })
  }

  setStats(stats: Record<string, unknown>): void {
    this.lastStats = stats
  }

  fault(err: Error, where: MediaFault): void {
    this.onFault(err, where)
  }

  workerGone(err: Error): void {
    this.gone = err
    for (const done of this.pendingPlays) done(false)
    this.pendingPlays.clear()
    this.onFault(err, 'media-worker')
  }

  private cmd(t: 'start' | 'hold' | 'resume' | 'flush'): void {
    if (!this.gone) this.worker.send({ t, id: this.id })
  }

  start(): void {
    this.cmd('start')
  }

  confirm(timelineOrigin: number): void {
    if (this.gone || this.ring) return
    this.ring = new PcmRing(RING_SLOTS)
    this.worker.send({ t: 'confirm', id: this.id, ring: this.ring.buffer, timelineOrigin })
  }

  hold(): void {
    this.cmd('hold')
  }

  resume(): void {
    this.cmd('resume')
  }

  flush(): void {
    this.cmd('flush')
  }

  watchBargeIn(on: boolean): void {
    if (!this.gone) this.worker.send({ t: 'watchBargeIn', id: this.id, on })
  }

  setLoudDb(db: number): void {
    if (!this.gone) this.worker.send({ t: 'loudDb', id: this.id, db })
  }

  update(remote: { address: string; port: number; rtcpPort: number }, direction: MediaDirection): void {
    if (!this.gone) this.worker.send({ t: 'update', id: this.id, remote, direction })
  }

  /** One message per prompt; the audio itself crosses once per worker for a prompt played again
   *  (see PlayAudio), and the line-rate version comes from the main thread's resampling cache. */
  async play(pcm: Int16Array): Promise<boolean> {
    if (this.gone) return false
    const { audio, transfer } = this.worker.prompts.audioFor(pcm, this.lineRate)
    let settle!: (ok: boolean) => void
    const settled = new Promise<boolean>((resolve) => (settle = resolve))
    this.pendingPlays.add(settle)
    void this.worker.request<Extract<WorkerEvent, { t: 'played' }>>((req) => ({ t: 'play', id: this.id, req, audio }), transfer).then((ev) => settle(ev.ok))
    const ok = await settled
    this.pendingPlays.delete(settle)
    return ok
  }

  stats(): Record<string, unknown> {
    return this.lastStats
  }

  async record(path: string): Promise<void> {
    if (this.gone) throw this.gone
    const ev = await this.worker.request<WorkerEvent>((req) => ({ t: 'record', id: this.id, req, path }))
    if (ev.t !== 'recorded') throw this.gone ?? new Error('the media worker is gone') // it died meanwhile
    if (ev.error) throw new Error(ev.error)
  }

  bridge(spec: BridgeSpec): void {
    if (!this.gone) this.worker.send({ t: 'bridge', id: this.id, spec })
  }

  async close(): Promise<ClosedSession> {
    if (this.gone) return { stats: this.lastStats }
    const ev = await this.worker.request<Extract<WorkerEvent, { t: 'closed' }>>((req) => ({ t: 'close', id: this.id, req }))
    this.drain()
    this.worker.forget(this.id)
    // a worker that died meanwhile answers with an 'allocated' placeholder: no stats in it
    return ev.t === 'closed' ? { stats: ev.stats, recording: ev.recording } : { stats: this.lastStats }
  }
}
