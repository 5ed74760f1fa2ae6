import { mkdir } from 'node:fs/promises'
import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import { WavFileWriter } from '../../codecs/wav.ts'
import type { CallStore, NewDtmf, NewTurn, TurnTiming } from '../../crm/call-store.ts'
import { runBasicScenario, type Answer, type ListenOptions, type SayOptions, type ScenarioIO, type ScenarioResult } from '../../dialog/basic-scenario.ts'
import type { PromptKey } from '../../dialog/prompts.ts'
import { negotiate, type LocalMedia } from '../../sip/sdp/negotiate.ts'
import type { InboundCall, SipEndReason } from '../../sip/ua/call-control.ts'
import type { PacingClock } from '../clock/pacing-clock.ts'
import type { Config } from '../config.ts'
import type { Metrics } from '../metrics.ts'
import { INTERNAL_RATE } from '../rtp/codec-pipeline.ts'
import type { RtpSession } from '../rtp/rtp-session.ts'
import type { SileroVad } from '../../vad/silero-vad.ts'
import { digitFromInfo } from './dtmf-relay.ts'
import { Listener, type BargeInEvent } from './listener.ts'
import type { PromptLibrary } from './prompt-library.ts'
import { CallRecorder } from './recorder.ts'

export interface CallDeps {
  config: Config
  logger: Logger
  metrics: Metrics
  store: CallStore
  prompts: PromptLibrary
  clock: PacingClock
  vad: SileroVad
}

/** The bot turn being played: what barge-in and the first packet write into. */
interface Speaking {
  timing: TurnTiming
  heldAtMs?: number
}

export type CallResult = 'completed' | 'caller-hangup' | 'cancelled' | 'failed'

/**
 * One answered call: the signalling dialog, its RTP session, the recording, the
 * listener and the scenario, tied to one timeline (ms since the ACK).
 */
export class Call implements ScenarioIO {
  private t0 = 0
  private ended = false
  private endReason: SipEndReason | undefined
  private recorder: CallRecorder | undefined
  private readonly listener: Listener
  private readonly log: Logger
  private readonly dir: string
  private firstAudioAtMs: number | undefined
  private sdpVersion = 1
  private answeredAt: Date | undefined
  private speaking: Speaking | undefined
  /** The caller's last answer, until the bot's reply to it has gone out. */
  private lastAnswer: { speechEndMs: number; eouMs: number; endSilenceMs: number } | undefined
  /** Turns and digits stay in memory until hang-up and are written in one go (see finish). */
  readonly turns: NewTurn[] = []
  readonly dtmf: NewDtmf[] = []

  constructor(
    readonly id: string,
    readonly sip: InboundCall,
    readonly rtp: RtpSession,
    readonly codec: string,
    private readonly local: LocalMedia,
    private readonly deps: CallDeps,
  ) {
    this.log = deps.logger.child({ callId: id, sipCallId: sip.sipCallId })
    this.dir = `${deps.config.dataDir}/calls/${id}`
    const b = deps.config.bargeIn
    this.listener = new Listener({
      vad: deps.vad,
      sampleRate: INTERNAL_RATE,
      turn: deps.config.listen,
      bargeIn: { minSpeechMs: b.minSpeechMs, confirmMs: b.confirmMs, echo: { tailMs: b.echoTailMs, marginDb: b.echoMarginDb } },
      clipDir: this.dir,
      now: () => this.now(),
      onBargeIn: (ev) => this.onBargeIn(ev),
      onError: (err) => this.log.error({ err }, 'could not save an answer clip'),
    })
    rtp.onAudio = (pcm) => {
      this.recorder?.pushCaller(pcm)
      this.listener.onAudio(pcm)
    }
    rtp.onFrame = (frame) => {
      this.recorder?.pushBot(frame)
      this.listener.onBotFrame(frame)
    }
    rtp.onDtmf = (digit, source) => this.onDigit(digit, source)
    rtp.onPromptStart = () => this.onPromptStart()
    sip.on('info', (type, body) => {
      const digit = digitFromInfo(type, body)
      if (digit) this.onDigit(digit, 'info')
    })
    sip.on('reinvite', (offer, reply) => this.onReinvite(offer, reply))
    sip.on('ended', (reason) => this.onSipEnded(reason))
  }

  now(): number {
    return this.t0 ? performance.now() - this.t0 : 0
  }

  /** What the API shows of a call in progress, before its record is written. */
  liveView(): object {
    return {
      live: true,
      answeredAt: this.answeredAt?.toISOString() ?? null,
      codec: this.codec,
      turns: this.turns.map((t, i) => ({ seq: i + 1, ...t })),
      dtmf: this.dtmf,
      rtpStats: this.liveStats,
    }
  }

  get liveStats(): object {
    return { ...this.rtp.statsJSON(), remote: this.rtp.remoteAddress, ackToFirstAudioMs: this.firstAudioAtMs }
  }

  /** Answer and run the scenario to its end; resolves once everything is stored. */
  async run(answer: string): Promise<CallResult> {
    await mkdir(this.dir, { recursive: true })
    this.recorder = new CallRecorder(await WavFileWriter.open(`${this.dir}/call.wav`, INTERNAL_RATE, 2), INTERNAL_RATE)
    if (this.deps.config.answerDelayMs > 0) await new Promise((r) => setTimeout(r, this.deps.config.answerDelayMs))
    if (this.ended) return 'cancelled'
    this.deps.clock.add(this.rtp) // silence flows from the 200 OK on, opening NAT pinholes early
    try {
      await this.sip.answer(answer)
    } catch (err) {
      if (this.endReason === 'cancelled') return 'cancelled'
      this.log.warn({ err }, 'call not confirmed')
      return 'failed'
    }
    this.t0 = performance.now()
    this.answeredAt = new Date()
    const result = await runBasicScenario(this)
    await this.fileLead(result)
    if (!this.ended) await this.sip.hangup()
    return this.endReason === 'remote-bye' && result.outcome === 'caller-hangup' ? 'caller-hangup' : 'completed'
  }

  async say(key: PromptKey, opts: SayOptions = {}): Promise<boolean> {
    if (this.ended) return false
    const startMs = this.now()
    const pcm = this.deps.prompts.get(key)
    const speaking: Speaking = { timing: { ttsFirstAudioMs: Math.round(this.now()) } }
    this.speaking = speaking
    this.listener.promptStarted(opts.interruptible ?? true)
    const played = await this.rtp.play(pcm)
    this.listener.promptEnded()
    this.speaking = undefined
    const { timing } = speaking
    this.turns.push({
      who: 'bot', startMs: Math.round(startMs), endMs: Math.round(this.now()), text: this.deps.prompts.text(key), step: key,
      timing, interrupted: !!timing.bargeIn,
    })
    if (!played) this.log.debug({ key, bargeIn: timing.bargeIn }, 'prompt cut short')
    return played
  }

  /** The first packet of a prompt left: the end of the turn's latency path. */
  private onPromptStart(): void {
    const at = this.now()
    if (this.firstAudioAtMs === undefined) {
      this.firstAudioAtMs = at
      this.deps.metrics.ackToFirstAudio.observe(at / 1000)
    }
    const s = this.speaking
    if (!s || s.timing.firstRtpMs !== undefined) return
    s.timing.firstRtpMs = Math.round(at)
    const answer = this.lastAnswer
    if (!answer) return
    this.lastAnswer = undefined
    // Everything between the caller's last word and our first packet, less the silence we
    // wait for on purpose (and, once providers are in the loop, the time inside them).
    const own = at - answer.speechEndMs - answer.endSilenceMs
    s.timing.ownShareMs = Math.round(own)
    this.deps.metrics.turnOwnShare.observe(Math.max(0, own) / 1000)
    this.deps.metrics.turnStage.labels('eou_to_first_rtp').observe(Math.max(0, at - answer.eouMs) / 1000)
  }

  private onBargeIn(ev: BargeInEvent): void {
    const s = this.speaking
    if (!s) return
    const m = this.deps.metrics
    if (ev.stage === 'held') {
      this.rtp.hold() // silence from the next packet on; the prompt keeps its place
      s.heldAtMs = ev.atMs
      m.bargeInReaction.observe(Math.max(0, ev.atMs - ev.onsetMs) / 1000)
    } else if (ev.stage === 'resumed') {
      this.rtp.resume()
      m.bargeInsResumed.inc()
      this.log.info({ onsetMs: Math.round(ev.onsetMs), heldMs: Math.round(ev.atMs - ev.onsetMs) }, 'not speech: prompt resumed')
    } else {
      this.rtp.flush() // the held prompt goes; the caller has the floor
      s.timing.bargeIn = { onsetMs: Math.round(ev.onsetMs), heldMs: Math.round(s.heldAtMs ?? ev.atMs), confirmedMs: Math.round(ev.atMs) }
      m.bargeIns.inc()
      this.log.info(s.timing.bargeIn, 'barge-in')
    }
  }

  async listen(opts: ListenOptions): Promise<Answer> {
    if (this.ended) return { kind: 'hangup' }
    const answer = await this.listener.listen(opts)
    if (answer.kind === 'speech') {
      const timing = { speechEndMs: Math.round(answer.endMs), eouMs: Math.round(answer.detectedMs) }
      this.lastAnswer = { speechEndMs: answer.endMs, eouMs: answer.detectedMs, endSilenceMs: opts.turn?.endSilenceMs ?? this.deps.config.listen.endSilenceMs }
      this.deps.metrics.turnStage.labels('speech_end_to_eou').observe(Math.max(0, answer.detectedMs - answer.endMs) / 1000)
      this.turns.push({ who: 'caller', startMs: Math.round(answer.startMs), endMs: Math.round(answer.endMs), clipPath: answer.clipPath, step: opts.slot, timing })
    } else if (answer.kind === 'digits') {
      const at = Math.round(answer.atMs)
      this.turns.push({ who: 'caller', startMs: at, endMs: Math.round(this.now()), text: answer.digits, step: opts.slot })
    }
    return answer
  }

  private onDigit(digit: string, source: 'rfc4733' | 'inband' | 'info'): void {
    this.log.info({ digit, source }, 'DTMF')
    this.dtmf.push({ digit, atMs: Math.round(this.now()), source })
    this.listener.onDigit(digit)
  }

  private onReinvite(offer: string | undefined, reply: (answer: string | null) => void): void {
    if (!offer) return reply(null) // offerless re-INVITE: not supported yet, refused cleanly
    const neg = negotiate(offer, { ...this.local, sessionVersion: ++this.sdpVersion })
    if (!neg.ok) {
      this.log.warn({ reason: neg.reason }, 're-INVITE refused')
      return reply(null)
    }
    this.rtp.update(neg.remote, neg.direction)
    this.log.info({ direction: neg.direction, onHold: neg.onHold }, 're-INVITE accepted')
    reply(neg.answer)
  }

  private onSipEnded(reason: SipEndReason): void {
    this.ended = true
    this.endReason = reason
    this.rtp.flush()
    this.listener.cancel()
  }

  private async fileLead(result: ScenarioResult): Promise<void> {
    const clips: Record<string, string> = {}
    let phoneDigits: string | undefined
    for (const [slot, a] of Object.entries(result.answers)) {
      if (a.kind === 'speech') clips[slot] = a.clipPath
      if (a.kind === 'digits') phoneDigits = a.digits
    }
    if (!Object.keys(clips).length && !phoneDigits) return
    await this.db((s) => s.saveLead(this.id, { callerId: this.sip.callerId, phoneDigits, clips, outcome: result.outcome }))
  }

  /** Tear down media and write the final record. Safe to call once, whatever happened. */
  async finish(result: CallResult): Promise<void> {
    this.deps.clock.remove(this.rtp)
    this.rtp.close()
    this.listener.close()
    await this.recorder?.close().catch((err) => this.log.error({ err }, 'recording could not be closed'))
    await this.db((s) => s.appendTurns(this.id, this.turns))
    await this.db((s) => s.appendDtmf(this.id, this.dtmf))
    await this.db((s) =>
      s.updateCall(this.id, {
        answeredAt: this.answeredAt,
        codec: this.codec,
        endedAt: new Date(),
        result,
        endReason: this.endReason ?? 'local-bye',
        recordingPath: this.recorder ? `${this.dir}/call.wav` : undefined,
        rtpStats: this.liveStats,
      }),
    )
  }

  /** The database being down must not take the call down: log and carry on. */
  private async db(fn: (s: CallStore) => Promise<unknown>): Promise<void> {
    try {
      await fn(this.deps.store)
    } catch (err) {
      this.log.error({ err }, 'call record not written')
    }
  }
}
