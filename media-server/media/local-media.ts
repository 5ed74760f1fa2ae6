import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import type { Logger } from 'pino'
import { createCodec } from '../../codecs/index.ts'
import { WavFileWriter } from '../../codecs/wav.ts'
import { BridgeRecording } from '../call/bridge-recording.ts'
import { CallRecorder } from '../call/recorder.ts'
import { TransferBridge } from '../call/transfer-bridge.ts'
import type { PacingClock } from '../../rtp/pacing-clock.ts'
import { failpoint } from '../failpoints.ts'
import { INTERNAL_RATE } from '../../rtp/codec-pipeline.ts'
import { RtpPortPool, type RtpPortPair } from '../../rtp/port-pool.ts'
import type { RtpMetrics } from '../../rtp/rtp-metrics.ts'
import { RtpSession, type MediaDirection } from '../../rtp/rtp-session.ts'
import { srtpContext } from '../../rtp/srtp/srtp-context.ts'
import { BargeInHold } from '../../vad/barge-in-hold.ts'
import type { BridgeSpec, ClosedSession, MediaFault, MediaPlane, MediaSession, SessionSpec } from './media-session.ts'

export interface LocalMediaPlaneOptions {
  portMin: number
  portMax: number
  host: string
  clock: PacingClock
  metrics: RtpMetrics
  /** ports to hand out last (see RtpPortPool) */
  lastPorts?: readonly number[]
}

/** The media plane in the thread that creates it: the whole of it inside one media worker, or in the
 *  main thread with MEDIA_WORKERS=0. */
export class LocalMediaPlane implements MediaPlane {
  private readonly pool: RtpPortPool
  private readonly pairs = new Map<number, RtpPortPair>()

  constructor(private readonly opts: LocalMediaPlaneOptions) {
    this.pool = new RtpPortPool(opts.portMin, opts.portMax, opts.host, opts.lastPorts)
  }

  get available(): number {
    return this.pool.available
  }

  get inUse(): ReadonlySet<number> {
    return this.pool.inUse
  }

  async allocate(): Promise<number | null> {
    const pair = await this.pool.allocate()
    if (!pair) return null
    this.pairs.set(pair.port, pair)
    return pair.port
  }

  release(port: number): void {
    const pair = this.pairs.get(port)
    if (!pair) return
    this.pairs.delete(port)
    this.pool.release(pair)
  }

  pair(port: number): RtpPortPair {
    const pair = this.pairs.get(port)
    if (!pair) throw new Error(`port pair ${port} is not allocated on this media plane`)
    return pair
  }

  open(spec: SessionSpec, logger: Logger): LocalMediaSession {
    return new LocalMediaSession(this, spec, this.opts.clock, this.opts.metrics, logger)
  }

  async close(): Promise<void> {
    this.opts.clock.stop()
  }
}

/** One call's media here: its RTP session on the shared clock, its recording, its transfer relay. */
export class LocalMediaSession implements MediaSession {
  onAudio: MediaSession['onAudio'] = () => {}
  onHeld: MediaSession['onHeld'] = () => {}
  onDtmf: MediaSession['onDtmf'] = () => {}
  onPromptStart: MediaSession['onPromptStart'] = () => {}
  onFault: MediaSession['onFault'] = () => {}
  private readonly rtp: RtpSession
  private recorder: CallRecorder | undefined
  private relay: { bridge: TransferBridge; recording: BridgeRecording | undefined } | undefined
  private faulted = false
  private readonly bargeIn: BargeInHold
  /** the SRTP suite when the call's media is RTP/SAVP, for its statistics */
  private readonly srtpSuite: string | undefined
  /** the call's time zero, as performance.timeOrigin + performance.now() (see confirm) */
  private timelineOrigin = NaN

  constructor(
    private readonly plane: LocalMediaPlane,
    spec: SessionSpec,
    private readonly clock: PacingClock,
    metrics: RtpMetrics,
    private readonly log: Logger,
  ) {
    this.rtp = new RtpSession({
      ports: plane.pair(spec.port),
      codec: createCodec(spec.codec, { opusComplexity: spec.opusComplexity }),
      payloadType: spec.payloadType,
      telephoneEventPt: spec.telephoneEventPt,
      remote: spec.remote,
      rtcpMux: spec.rtcpMux,
      signallingAddress: spec.signallingAddress,
      jitter: spec.jitter,
      cname: spec.cname,
      srtp: spec.srtp,
      ptimeMs: spec.ptimeMs,
      clockPeriodMs: clock.periodMs,
      metrics,
      logger: log,
      awaitPeer: true,
      onFault: (err, where) => this.fault(err, where),
      injectFault: failpoint,
    })
    this.rtp.direction = spec.direction
    this.srtpSuite = spec.srtp?.suite
    this.bargeIn = new BargeInHold({ ...spec.bargeIn, frameMs: spec.ptimeMs }, (onsetMs) => {
      this.rtp.hold() // silence from the next packet on; the prompt keeps its place
      this.onHeld(onsetMs, this.now())
    })
    this.rtp.onAudio = (pcm, bufferedMs, line) => {
      this.recorder?.pushCaller(pcm)
      const endMs = this.now()
      this.onAudio(pcm, line, this.bargeIn.onCallerAudio(pcm, bufferedMs, endMs - (pcm.length * 1000) / INTERNAL_RATE, endMs))
    }
    this.rtp.onFrame = (frame) => {
      try {
        failpoint('recording')
        this.recorder?.pushBot(frame)
      } catch (err) {
        return this.fault(err, 'recording')
      }
      this.bargeIn.onBotFrame(frame)
    }
    this.rtp.onDtmf = (digit, source) => this.onDtmf(digit, source)
    this.rtp.onPromptStart = () => this.onPromptStart()
  }

  get lineRate(): number {
    return this.rtp.lineRate
  }

  private fault(err: unknown, where: MediaFault): void {
    if (this.faulted) return
    this.faulted = true
    this.clock.remove(this.rtp)
    this.rtp.flush()
    this.onFault(err, where)
  }

  start(): void {
    if (!this.faulted) this.clock.add(this.rtp)
  }

  confirm(timelineOrigin: number): void {
    this.timelineOrigin = timelineOrigin
    this.rtp.confirm()
  }

  /** ms on the call's timeline; the same clock whichever thread reads it */
  private now(): number {
    return performance.timeOrigin + performance.now() - this.timelineOrigin
  }

  play(pcm: Int16Array, atLineRate?: Int16Array): Promise<boolean> {
    return this.faulted ? Promise.resolve(false) : this.rtp.play(pcm, atLineRate)
  }

  hold(): void {
    this.rtp.hold()
  }

  resume(): void {
    this.bargeIn.released()
    this.rtp.resume()
  }

  flush(): void {
    this.bargeIn.released()
    this.rtp.flush()
  }

  watchBargeIn(on: boolean): void {
    // A hold the main thread has not taken up (the prompt ended meanwhile) ends with the watch.
    if (!on) this.rtp.resume()
    this.bargeIn.watch(on)
  }

  setLoudDb(db: number): void {
    this.bargeIn.setLoudDb(db)
  }

  update(remote: { address: string; port: number; rtcpPort: number }, direction: MediaDirection): void {
    this.rtp.update(remote, direction)
  }

  stats(): Record<string, unknown> {
    return {
      ...(this.rtp.statsJSON() as Record<string, unknown>),
      remote: this.rtp.remoteAddress,
      ...(this.srtpSuite && { srtp: this.srtpSuite }),
      echo: this.bargeIn.echoPath,
      ...(this.relay && { relay: this.relay.bridge.counts }),
    }
  }

  async record(file: string): Promise<void> {
    await mkdir(path.dirname(file), { recursive: true })
    this.recorder = new CallRecorder(await WavFileWriter.open(file, INTERNAL_RATE, 2), INTERNAL_RATE)
  }

  bridge(spec: BridgeSpec): void {
    this.clock.remove(this.rtp)
    const caller = this.rtp.handOver()
    const bridge = new TransferBridge(
      { ...caller, rtcpMux: spec.caller.rtcpMux, payloadTypes: new Set(spec.caller.payloadTypes) },
      {
        ports: this.plane.pair(spec.sellerPort),
        ...spec.seller,
        payloadTypes: new Set(spec.seller.payloadTypes),
        srtp: spec.seller.srtp && srtpContext(spec.seller.srtp),
      },
    )
    // The recording goes on: the relayed audio of both phones, decoded, on the clock's ticks.
    const recording = this.recorder && new BridgeRecording(this.recorder, spec.codec, (INTERNAL_RATE * this.clock.periodMs) / 1000)
    if (recording) {
      bridge.onRtp = (msg, from) => recording.relayed(msg, from)
      this.clock.add(recording)
    }
    bridge.start()
    this.relay = { bridge, recording }
  }

  async close(): Promise<ClosedSession> {
    const stats = this.stats()
    this.clock.remove(this.rtp)
    this.rtp.close()
    if (this.relay) {
      this.relay.bridge.stop()
      if (this.relay.recording) this.clock.remove(this.relay.recording)
      this.log.info({ relay: this.relay.bridge.counts }, 'bridge ended')
    }
    const recorder = this.recorder
    if (!recorder) return { stats }
    try {
      await recorder.close()
      return { stats, recording: { seconds: recorder.seconds } }
    } catch (err) {
      return { stats, recording: { seconds: recorder.seconds, error: (err as Error).message } }
    }
  }
}
