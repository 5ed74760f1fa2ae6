import { once } from 'node:events'
import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import type { CallStore, LeadInput, NewDtmf, NewTurn, TurnTiming } from '../../crm/call-store.ts'
import type { Answer, ListenOptions, SayOptions, ScenarioResult } from '../../dialog/dialog-io.ts'
import type { PromptKey } from '../../dialog/prompts.ts'
import { ScenarioEngine } from '../../dialog/scenario/engine.ts'
import type { ScenarioRegistry } from '../../dialog/scenario/registry.ts'
import { KNOWN_CALLER_SLOTS } from '../../dialog/scenario/schema.ts'
import type { LocalMedia, SrtpPolicy, StreamFormat } from '../../sip/sdp/negotiate.ts'
import type { InboundCall, OutboundCall, SessionChange, SipEndReason } from '../../sip/ua/call-control.ts'
import type { Config } from '../config.ts'
import type { Metrics } from '../metrics.ts'
import { INTERNAL_RATE } from '../../rtp/codec-pipeline.ts'
import type { MediaPlane, MediaSession } from '../media/media-session.ts'
import { Agent } from '../../dialog/agent/agent.ts'
import { summarizeCall } from '../../dialog/agent/summary.ts'
import type { KnowledgeAnswers } from '../../dialog/knowledge/knowledge-base.ts'
import type { KnownCaller } from '../../crm/bitrix24/caller-lookup.ts'
import { vadRateFor, type SileroVad } from '../../vad/silero-vad.ts'
import type { AsrProvider, LlmProvider, TtsProvider } from '../../providers/types.ts'
import { SpeechPipeline } from '../../providers/tts/speech-pipeline.ts'
import {
  defaultProfile,
  knownCallerFact,
  recordActions,
  runConversation,
  type ConversationIO,
  type ConversationRecord,
  type ReplyResult,
} from './conversation.ts'
import { digitFromInfo } from './dtmf-relay.ts'
import { failpoint, stallpoint, type FailpointName } from '../failpoints.ts'
import { CallMedia } from './call-media.ts'
import { Listener, type BargeInEvent } from './listener.ts'
import { AmdScreen, type AmdPolicy } from '../../dialer/amd/amd-screen.ts'
import type { AmdDecision } from '../../dialer/amd/amd-detector.ts'
import type { PromptLibrary } from './prompt-library.ts'
import type { ScenarioPrompts } from './scenario-prompts.ts'
import { runScenarioDialog, type ScenarioDialogIO, type ScenarioDialogResult } from './scenario-dialog.ts'

export interface CallDeps {
  config: Config
  logger: Logger
  metrics: Metrics
  store: CallStore
  prompts: PromptLibrary
  /** sockets, clock, codecs and recording: RTP ports for calls, and for the seller's leg when a
   *  refused REFER falls back to a bridge */
  media: MediaPlane
  vad: SileroVad
  /** with an ASR and an LLM provider the call runs the LLM agent; TTS speaks its replies */
  providers?: { asr?: AsrProvider; tts: TtsProvider; llm?: LlmProvider }
  knowledge?: KnowledgeAnswers
  /** the CRM's record of the caller (LLM agent mode), bounded by its own short deadline */
  callerLookup?: (phone: string, log: Logger) => Promise<KnownCaller | undefined>
  /** the other party asked not to be called again (the lead's outcome do_not_call): their number goes on the list */
  doNotCall?: (phone: string, callId: string) => Promise<void>
  /** calls without the LLM agent run the YAML scenario for their dialled number */
  /** (get: a scenario asked for by name, e.g. by POST /api/calls) */
  scenarios: Pick<ScenarioRegistry, 'forNumber'> & Partial<Pick<ScenarioRegistry, 'get'>>
  /** the scenarios' prompts synthesised ahead of the call */
  scenarioPrompts?: Pick<ScenarioPrompts, 'get'> & Partial<Pick<ScenarioPrompts, 'synthesizeNow'>>
  /** SRTP for a call from this address: its trunk's `srtp` when it has one; absent: config.srtp */
  srtpPolicy?: (address: string) => SrtpPolicy
}

/** What the placer of a call (POST /api/calls) chose for it. */
export interface CallOptions {
  /** a loaded scenario file instead of the one for the dialled number */
  scenarioFile?: string
  /** kept with the lead, for the CRM */
  variables?: Record<string, string | number | boolean>
  /** outbound: screen the answer for an answering machine before the greeting */
  amd?: AmdPolicy
}

/** The bot turn being played: what barge-in and the first packet write into. */
interface Speaking {
  timing: TurnTiming
  heldAtMs?: number
  /** a streamed reply: stops its TTS and LLM on barge-in */
  cancel?: () => void
  /** time spent waiting for providers since the caller stopped, for the own-share figure */
  providerMs: number
}

/** How long the model may take to summarise a finished call before the lead goes without one. */
const SUMMARY_TIMEOUT_MS = 15_000

/** 'shutdown': cut short by the server stopping (the caller got our BYE). 'machine': an outbound
 *  call answered by an answering machine (AMD), hung up on or left a message. */
export type CallResult = 'completed' | 'caller-hangup' | 'cancelled' | 'failed' | 'shutdown' | 'machine'

/**
 * One answered call's turn loop: the listener, the scenario or the agent, the bot's prompts and
 * barge-in, the turns and the lead, on one timeline (ms since the ACK). Its media side (session,
 * SDP after the answer, the transfer, the recording) is a CallMedia.
 */
export class Call implements ConversationIO, ScenarioDialogIO {
  private t0 = 0
  private ended = false
  private endReason: SipEndReason | undefined
  /** Where a fault ended this call (see fault()); the record's end reason says so. */
  private faultAt: string | undefined
  private giveUp!: () => void
  /** Resolves when the call is given up on (abort()): whatever run() still waits for, it is over. */
  readonly aborted = new Promise<'failed'>((resolve) => (this.giveUp = () => resolve('failed')))
  private readonly listener: Listener
  private readonly log: Logger
  private readonly dir: string
  private firstAudioAtMs: number | undefined
  private answeredAt: Date | undefined
  private speaking: Speaking | undefined
  /** The caller's last answer, until the bot's reply to it has gone out. */
  private lastAnswer: { speechEndMs: number; eouMs: number; endSilenceMs: number; providerMs: number } | undefined
  /** LLM agent mode: what the agent recorded, for the lead */
  private conversation: ConversationRecord | undefined
  /** LLM mode: the summary being written after the hang-up (see afterCall) */
  private summary: Promise<void> | undefined
  /** the media side: session, negotiated stream, later SDP answers, the transfer, the recording */
  private readonly media: CallMedia
  /** Turns and digits stay in memory until hang-up and are written in one go (see finish). */
  readonly turns: NewTurn[] = []
  readonly dtmf: NewDtmf[] = []
  /** answering-machine detection: while it runs, and what it decided */
  private screen: AmdScreen | undefined
  private amd: AmdDecision | undefined

  constructor(
    readonly id: string,
    readonly sip: InboundCall,
    readonly rtp: MediaSession,
    /** the caller's stream as negotiated: what a bridged seller leg is offered */
    format: StreamFormat,
    local: LocalMedia,
    private readonly deps: CallDeps,
    private readonly options: CallOptions = {},
  ) {
    this.log = deps.logger // the call manager's, bound to callId and sipCallId already
    this.media = new CallMedia(rtp, format, local, sip, deps, this.log)
    this.dir = `${deps.config.dataDir}/calls/${id}`
    const b = deps.config.bargeIn
    this.listener = new Listener({
      vad: deps.vad,
      sampleRate: INTERNAL_RATE,
      vadRate: vadRateFor(rtp.lineRate),
      turn: deps.config.listen,
      bargeIn: { minSpeechMs: b.minSpeechMs, confirmMs: b.confirmMs },
      clipDir: this.dir,
      now: () => this.now(),
      onBargeIn: (ev) => this.onBargeIn(ev),
      onLoudDb: (db) => rtp.setLoudDb(db),
      onError: (err) => this.log.error({ err }, 'listener'),
      asr: deps.providers?.asr && {
        provider: deps.providers.asr,
        language: deps.config.language === 'ru' ? 'ru-RU' : 'en-US',
        finalTimeoutMs: deps.config.budget.asrFinalMs,
      },
    })
    const vadAtLineRate = vadRateFor(rtp.lineRate) === rtp.lineRate
    rtp.onAudio = (pcm, line, nearEnd) => this.listener.onAudio(pcm, nearEnd, vadAtLineRate ? line : pcm)
    // Step one of barge-in: the media held the prompt; not wanted when the prompt ended meanwhile.
    rtp.onHeld = (onsetMs, atMs) => this.listener.held(onsetMs, atMs) || rtp.resume()
    rtp.onDtmf = (digit, source) => this.onDigit(digit, source)
    rtp.onPromptStart = () => this.onPromptStart()
    rtp.onFault = (err, where) => this.fault(err, where)
    sip.on(
      'info',
      this.contained('sip.event', (type: string, body: string) => {
        const digit = digitFromInfo(type, body)
        // Bridged to a seller: the caller's keypad is the seller's business now.
        const seller = this.media.sellerLeg
        if (seller) return void this.passInfoOn(seller, type, body, digit)
        if (digit) this.onDigit(digit, 'info')
      }),
    )
    sip.on(
      'modify',
      this.contained('sip.event', (change: SessionChange) => this.media.onModify(change, () => this.ended)),
    )
    sip.on(
      'ended',
      this.contained('sip.event', (reason: SipEndReason) => this.onSipEnded(reason)),
    )
  }

  /** A handler of this call's that cannot throw past it: a throw ends this call alone. */
  private contained<A extends unknown[]>(where: FailpointName, fn: (...args: A) => void): (...args: A) => void {
    return (...args) => {
      try {
        failpoint(where)
        fn(...args)
      } catch (err) {
        this.fault(err, where)
      }
    }
  }

  /**
   * Something on this call's path threw (its media session, a SIP event handler, the recording,
   * the dialog): the call ends at once and alone, with BYE (480 before the answer), and its record
   * says where. The process and every other call go on.
   */
  fault(err: unknown, where: string): void {
    if (this.faultAt) return
    this.faultAt = where
    this.log.error({ err, where }, 'call fault: the call ends')
    this.deps.metrics.callFaults.labels(where).inc()
    this.ended = true
    this.rtp.flush()
    this.listener.cancel()
    this.screen?.close()
    this.sip.hangup().catch((e) => this.log.warn({ err: e }, 'hang-up after a fault failed'))
  }

  get codec(): string {
    return this.media.codec
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
      amd: this.amd ?? null,
    }
  }

  get liveStats(): object {
    return this.withCallStats(this.rtp.stats())
  }

  private withCallStats(media: Record<string, unknown>): object {
    return { ...media, ackToFirstAudioMs: this.firstAudioAtMs }
  }

  /** Ends the call with BYE (or 480 before the answer), reporting `reason` as the dialog's end. */
  hangup(reason: SipEndReason): Promise<void> {
    return this.sip.hangup(reason)
  }

  /** The last resort of the watchdog: the call is over now, whatever it was waiting for. */
  abort(where: string): void {
    this.fault(new Error(`call given up: ${where}`), where)
    this.giveUp()
  }

  /** The port of the seller's leg, from the transfer's start (ringing the seller) while bridged:
   *  it belongs to this call too. */
  get bridgePort(): number | undefined {
    return this.media.bridgePort
  }

  /** Answer and run the scenario to its end; resolves once everything is stored. */
  /** `answer` null: the call was answered already (a delayed offer, answered in its ACK). */
  async run(answer: string | null): Promise<CallResult> {
    await this.media.openRecording(this.dir)
    // a CANCEL while ringing ends the wait: the port is free and the missed call recorded at once
    if (answer !== null && this.deps.config.answerDelayMs > 0)
      await new Promise<void>((r) => (setTimeout(r, this.deps.config.answerDelayMs).unref(), this.sip.once('ended', () => r())))
    if (this.ended) return answer === null ? (this.endReason === 'remote-bye' ? 'caller-hangup' : 'failed') : 'cancelled'
    this.rtp.start() // the clock runs from the 200 OK on; RTP flows once the ACK or the caller's RTP confirms the peer
    try {
      if (answer !== null) await this.sip.answer(answer)
    } catch (err) {
      if (this.endReason === 'cancelled') return 'cancelled'
      this.log.warn({ err }, 'call not confirmed')
      // A BYE that overtook a lost ACK: the caller hung up, nothing failed on our side.
      return this.endReason === 'remote-bye' && !this.faultAt ? 'caller-hangup' : 'failed'
    }
    this.t0 = performance.now()
    this.rtp.confirm(performance.timeOrigin + this.t0) // now the peer is known to be real: our RTP may flow before its own
    this.answeredAt = new Date()
    if (this.options.amd && !this.ended && (await this.screenedOut(this.options.amd))) {
      if (!this.ended) await this.sip.hangup()
      return this.faultAt ? 'failed' : 'machine'
    }
    const result = await this.runDialog()
    await this.fileLead(result)
    // Bridged to the seller: the call lasts while they talk; either side's BYE ends both dialogs.
    if (this.media.sellerLeg && !this.ended) await once(this.sip, 'ended')
    if (!this.ended) await this.sip.hangup()
    this.summary = this.writeSummary()
    if (this.faultAt) return 'failed'
    if (this.endReason === 'shutdown') return 'shutdown'
    // the caller's side went silent (no refresh), answered our offer with nothing we can use, or the media server went away
    if (this.endReason === 'session-expired' || this.endReason === 'bad-answer' || this.endReason === 'media-lost') return 'failed'
    return this.endReason === 'remote-bye' && result.outcome === 'caller-hangup' ? 'caller-hangup' : 'completed'
  }

  /**
   * The greeting waits for answering-machine detection (at most its analysis time). A machine:
   * true, after the policy's message if it has one, said once the greeting's beep or its end
   * has passed (so the voicemail records it). A person, or no telling: false, the call goes on.
   */
  private async screenedOut(policy: AmdPolicy): Promise<boolean> {
    const screen = (this.screen = new AmdScreen(vadRateFor(this.rtp.lineRate), () => this.now()))
    this.listener.watchWindows(screen)
    try {
      const amd = (this.amd = await screen.decision())
      this.log.info(amd, 'answering-machine detection')
      if (amd.result !== 'machine' || this.ended) return amd.result === 'machine'
      if (policy.onMachine === 'message' && policy.message) {
        const end = await screen.greetingEnd()
        this.log.info({ greetingEnd: end ?? 'not heard' }, 'machine: leaving the message')
        if (!this.ended) await this.sayText(policy.message, { interruptible: false, step: 'amd-message' })
      }
      return true
    } finally {
      this.listener.watchWindows(undefined)
      this.screen = undefined
    }
  }

  /** The LLM agent when an ASR and an LLM are configured, else the YAML scenario of the number. */
  private async runDialog(): Promise<ScenarioResult> {
    const p = this.deps.providers
    if (!p?.asr || !p.llm) return this.runScenario()
    const record: ConversationRecord = { lead: {}, actions: [] }
    this.conversation = record
    // a returning caller: the agent knows their name and lead (greets by name, skips what is known)
    const known = await this.deps.callerLookup?.(this.sip.callerId, this.log)
    if (known) this.log.info({ leadId: known.leadId, contactId: known.contactId, dealId: known.deal?.id }, 'caller known to the CRM')
    const profile = defaultProfile(this.deps.config.language)
    const agent = new Agent({
      profile: known ? { ...profile, facts: [...profile.facts, knownCallerFact(known, profile.language)] } : profile,
      llm: p.llm,
      sink: recordActions(record),
      knowledge: this.deps.knowledge,
      logger: this.log,
    })
    record.history = agent.history
    return runConversation(this, agent, record)
  }

  private async runScenario(): Promise<ScenarioDialogResult> {
    const { scenarios, config } = this.deps
    const chosen = this.options.scenarioFile && scenarios.get?.(this.options.scenarioFile)
    const scenario = chosen || scenarios.forNumber(dialledNumber(this.sip.toUri))
    // a returning caller: what the CRM knows fills the scenario's slots (bounded by the lookup's own deadline)
    // (not asked when the scenario has no slot the lookup could fill: no silence for nothing)
    const usesCrm = KNOWN_CALLER_SLOTS.some((k) => scenario.slots[k])
    const caller = usesCrm ? await this.deps.callerLookup?.(this.sip.callerId, this.log) : undefined
    const known = caller ? knownSlots(caller) : undefined
    if (caller)
      this.log.info({ leadId: caller.leadId, contactId: caller.contactId, dealId: caller.deal?.id, slots: Object.keys(known ?? {}) }, 'caller known to the CRM')
    let engine: ScenarioEngine
    try {
      engine = new ScenarioEngine({ scenario, language: config.language, ...(known && { known }) })
    } catch (err) {
      this.log.error({ err, scenario: scenario.id }, 'scenario cannot run in this language')
      await this.say('apology', { interruptible: false })
      return { outcome: 'lead', answers: {}, lead: { slots: {}, clips: {}, outcome: 'no-scenario', questions: [], answeredFromKnowledge: [] } }
    }
    this.log.info({ scenario: scenario.id }, 'scenario')
    return runScenarioDialog(this, engine, { logger: this.log, knowledge: this.deps.knowledge })
  }

  /** A scenario prompt: synthesised ahead when it could be, else streamed through TTS like a reply. */
  async sayText(text: string, opts: { interruptible: boolean; step: string; fallback?: string }): Promise<ReplyResult> {
    const pcm = this.deps.scenarioPrompts?.get(text)
    if (pcm) return (await this.play(pcm, text, opts.step, opts.interruptible)) ? 'played' : 'interrupted'
    if (opts.fallback !== undefined) {
      // made for this call (a known caller's greeting): said when it is ready within the budget, else the ordinary prompt
      // the turn budget (REPLY_BUDGET_MS) counted from the answer, the CRM lookup included
      const made = await this.deps.scenarioPrompts?.synthesizeNow?.(text, Math.max(0, this.deps.config.budget.replyMs - this.now()))
      if (made) return (await this.play(made, text, opts.step, opts.interruptible)) ? 'played' : 'interrupted'
      this.log.info({ step: opts.step }, 'prompt for this call not ready in time; the ordinary one is said')
      return this.sayText(opts.fallback, { interruptible: opts.interruptible, step: opts.step })
    }
    return this.reply(
      async function* () {
        yield text
      },
      opts.step,
      opts.interruptible,
    )
  }

  say(key: PromptKey, opts: SayOptions = {}): Promise<boolean> {
    return this.play(this.deps.prompts.get(key), this.deps.prompts.text(key), key, opts.interruptible ?? true)
  }

  /** A prompt whose audio is at hand: no provider in the way, so TTS's first audio is now. */
  private async play(pcm: Int16Array, text: string, step: string, interruptible: boolean): Promise<boolean> {
    if (this.ended) return false
    const startMs = this.now()
    const speaking: Speaking = { timing: { ttsFirstAudioMs: Math.round(this.now()) }, providerMs: 0 }
    this.speaking = speaking
    this.promptStarted(interruptible)
    const played = await this.rtp.play(pcm)
    this.promptEnded()
    this.speaking = undefined
    const { timing } = speaking
    this.turns.push({
      who: 'bot',
      startMs: Math.round(startMs),
      endMs: Math.round(this.now()),
      text,
      step,
      timing,
      interrupted: !!timing.bargeIn,
    })
    if (!played) this.log.debug({ step, bargeIn: timing.bargeIn }, 'prompt cut short')
    return played
  }

  /**
   * A reply streamed from the LLM through TTS: each clause's audio is queued as it arrives. If the
   * first audio is not there within the reply budget (from the end of the caller's utterance), a
   * filler phrase fills the gap; at three budgets the reply is abandoned for the apology.
   */
  async reply(deltas: (signal: AbortSignal) => AsyncIterable<string>, step: string, interruptible = true): Promise<ReplyResult> {
    const tts = this.deps.providers?.tts
    if (this.ended || !tts) return 'failed'
    const lang = this.deps.config.language
    const pipeline = new SpeechPipeline({ tts, voice: lang, language: lang, sampleRate: INTERNAL_RATE })
    const startMs = this.now()
    const timing: TurnTiming = {}
    const speaking: Speaking = { timing, providerMs: 0, cancel: () => pipeline.cancel() }
    this.speaking = speaking
    this.promptStarted(interruptible)
    const m = this.deps.metrics
    const said: string[] = []
    const timed = async function* (this: Call): AsyncGenerator<string> {
      for await (const d of deltas(pipeline.signal)) {
        if (timing.llmFirstTokenMs === undefined) {
          timing.llmFirstTokenMs = Math.round(this.now())
          m.turnStage.labels('llm_first_token').observe((this.now() - startMs) / 1000)
        }
        said.push(d)
        yield d
      }
    }.call(this)
    const budget = this.deps.config.budget.replyMs
    const from = this.lastAnswer?.eouMs ?? startMs
    let abandoned = false
    const overrun = (action: string) => {
      const stage = timing.llmFirstTokenMs === undefined ? 'llm_first_token' : 'tts_first_audio'
      ;(timing.overruns ??= []).push({ stage, budgetMs: budget, action, atMs: Math.round(this.now()) })
      m.turnBudgetOverruns.labels(stage, action).inc()
      this.log.warn({ stage, budgetMs: budget, action }, 'reply over its latency budget')
    }
    const fillerTimer = setTimeout(
      () => {
        overrun('filler')
        void this.rtp.play(this.deps.prompts.get('filler'))
      },
      Math.max(0, from + budget - this.now()),
    )
    const giveUpTimer = setTimeout(
      () => {
        overrun('apology')
        abandoned = true
        pipeline.cancel()
      },
      Math.max(0, from + 3 * budget - this.now()),
    )
    let last: Promise<boolean> = Promise.resolve(true)
    let failed = false
    try {
      for await (const chunk of pipeline.speak(timed)) {
        if (timing.ttsFirstAudioMs === undefined) {
          timing.ttsFirstAudioMs = Math.round(this.now())
          speaking.providerMs = this.now() - startMs
          clearTimeout(fillerTimer)
          clearTimeout(giveUpTimer)
          m.turnStage.labels('tts_first_audio').observe((this.now() - startMs) / 1000)
        }
        last = this.rtp.play(chunk.pcm)
      }
    } catch (err) {
      failed = true
      this.log.error({ err }, 'reply failed')
    } finally {
      clearTimeout(fillerTimer)
      clearTimeout(giveUpTimer)
    }
    const played = await last
    this.promptEnded()
    this.speaking = undefined
    this.turns.push({
      who: 'bot',
      startMs: Math.round(startMs),
      endMs: Math.round(this.now()),
      text: said.join(''),
      step,
      timing,
      interrupted: !!timing.bargeIn,
    })
    if (timing.bargeIn) return 'interrupted'
    if (abandoned || (failed && timing.ttsFirstAudioMs === undefined)) return 'failed'
    return played ? 'played' : 'interrupted'
  }

  /** Transfer to the seller (REFER, else a bridge: see CallMedia.transfer). `name`: a scenario's
   *  transfer target (TRANSFER_TARGETS), else TRANSFER_TARGET. */
  transfer(reason: string, name?: string): Promise<boolean> {
    return this.media.transfer(reason, name, this.ended)
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
    this.lastAnswer = undefined
    // A filler is not the reply: the own share is only meaningful for a reply within budget.
    if (!answer || s.timing.overruns) return
    // Everything between the caller's last word and our first packet, less the silence we
    // wait for on purpose and the time spent inside providers (recogniser, LLM, TTS).
    const own = at - answer.speechEndMs - answer.endSilenceMs - answer.providerMs - s.providerMs
    s.timing.ownShareMs = Math.round(own)
    this.deps.metrics.turnOwnShare.observe(Math.max(0, own) / 1000)
    this.deps.metrics.turnStage.labels('eou_to_first_rtp').observe(Math.max(0, at - answer.eouMs) / 1000)
  }

  /** The bot starts talking: both steps of barge-in watch for the caller, if it may be interrupted. */
  private promptStarted(interruptible: boolean): void {
    this.listener.promptStarted(interruptible)
    this.rtp.watchBargeIn(interruptible)
  }

  private promptEnded(): void {
    this.listener.promptEnded()
    this.rtp.watchBargeIn(false)
  }

  private onBargeIn(ev: BargeInEvent): void {
    const s = this.speaking
    if (!s) return
    const m = this.deps.metrics
    if (ev.stage === 'held') {
      this.rtp.hold() // silence from the next packet on; the prompt keeps its place (idempotent)
      s.heldAtMs = ev.atMs
      m.bargeInReaction.observe(Math.max(0, ev.atMs - ev.onsetMs) / 1000)
    } else if (ev.stage === 'resumed') {
      this.rtp.resume()
      m.bargeInsResumed.inc()
      this.log.info({ onsetMs: Math.round(ev.onsetMs), heldMs: Math.round(ev.atMs - ev.onsetMs) }, 'not speech: prompt resumed')
    } else {
      this.rtp.flush() // the held prompt goes; the caller has the floor
      s.cancel?.() // and a streamed reply stops generating
      s.timing.bargeIn = { onsetMs: Math.round(ev.onsetMs), heldMs: Math.round(s.heldAtMs ?? ev.atMs), confirmedMs: Math.round(ev.atMs) }
      m.bargeIns.inc()
      this.log.info(s.timing.bargeIn, 'barge-in')
    }
  }

  async listen(opts: ListenOptions): Promise<Answer> {
    failpoint('dialog')
    await stallpoint('dialog.stall')
    if (this.ended) return { kind: 'hangup' }
    const answer = await this.listener.listen(opts)
    if (answer.kind === 'speech') {
      const timing: TurnTiming = { speechEndMs: Math.round(answer.endMs), eouMs: Math.round(answer.detectedMs) }
      const asrWaitMs = answer.asrFinalMs !== undefined ? Math.max(0, answer.asrFinalMs - answer.detectedMs) : 0
      if (answer.asrFinalMs !== undefined) {
        timing.asrFinalMs = Math.round(answer.asrFinalMs)
        this.deps.metrics.turnStage.labels('asr_final').observe(asrWaitMs / 1000)
      }
      this.lastAnswer = {
        speechEndMs: answer.endMs,
        eouMs: answer.detectedMs,
        endSilenceMs: opts.turn?.endSilenceMs ?? this.deps.config.listen.endSilenceMs,
        providerMs: asrWaitMs,
      }
      this.deps.metrics.turnStage.labels('speech_end_to_eou').observe(Math.max(0, answer.detectedMs - answer.endMs) / 1000)
      this.turns.push({
        who: 'caller',
        startMs: Math.round(answer.startMs),
        endMs: Math.round(answer.endMs),
        clipPath: answer.clipPath,
        step: opts.slot,
        timing,
        ...(answer.text !== undefined && { text: answer.text }),
      })
    } else if (answer.kind === 'digits') {
      const at = Math.round(answer.atMs)
      this.turns.push({ who: 'caller', startMs: at, endMs: Math.round(this.now()), text: answer.digits, step: opts.slot })
    }
    return answer
  }

  /** The caller's INFO, as it came, to the seller's leg; the digit is kept in the call record. */
  private async passInfoOn(leg: OutboundCall, contentType: string, body: string, digit: string | null): Promise<void> {
    if (digit) this.dtmf.push({ digit, atMs: Math.round(this.now()), source: 'info' })
    const status = await leg.info(contentType, body)
    this.log.info({ contentType, digit, status }, 'INFO passed on to the seller')
  }

  private onDigit(digit: string, source: 'rfc4733' | 'inband' | 'info'): void {
    this.log.info({ digit, source }, 'DTMF')
    this.dtmf.push({ digit, atMs: Math.round(this.now()), source })
    this.listener.onDigit(digit)
  }

  private onSipEnded(reason: SipEndReason): void {
    this.ended = true
    this.endReason = reason
    this.rtp.flush()
    this.listener.cancel()
    this.screen?.close()
  }

  /** A dialog that stopped because the line went away says 'caller-hangup'; it was not always the caller. */
  private hangupOutcome(outcome: string): string {
    if (outcome !== 'caller-hangup') return outcome
    if (this.faultAt) return 'fault'
    if (this.endReason === 'shutdown' || this.endReason === 'ack-timeout' || this.endReason === 'session-expired' || this.endReason === 'media-lost')
      return this.endReason
    return outcome
  }

  private async fileLead(result: ScenarioResult | ScenarioDialogResult): Promise<void> {
    if ('lead' in result) {
      // scenario mode: every call ends with its slots and an explicit outcome
      const { slots, clips, questions, answeredFromKnowledge } = result.lead
      const outcome = this.hangupOutcome(result.lead.outcome)
      const fields = {
        ...slots,
        ...(questions.length && { openQuestions: questions }),
        ...(answeredFromKnowledge.length && { answeredFromKnowledge }),
        ...(this.media.transferred && { transfer: this.media.transferred }),
        ...(this.options.variables && { variables: this.options.variables }),
      }
      return this.saveLead({ clips, slots: fields, outcome })
    }
    const clips: Record<string, string> = {}
    let phoneDigits: string | undefined
    for (const [slot, a] of Object.entries(result.answers)) {
      if (a.kind === 'speech') clips[slot] = a.clipPath
      if (a.kind === 'digits') phoneDigits = a.digits
    }
    const c = this.conversation
    const slots = c && {
      ...c.lead,
      agentActions: c.actions,
      conversation: c.history,
      ...(this.media.transferred && { transfer: this.media.transferred }),
      ...(this.options.variables && { variables: this.options.variables }),
    }
    if (!Object.keys(clips).length && !phoneDigits && !slots) return
    const doNotCall = c?.actions.some((a) => a.type === 'end_call' && a.outcome === 'do_not_call')
    const outcome = doNotCall ? 'do_not_call' : this.hangupOutcome(result.outcome)
    await this.saveLead({ phoneDigits, clips, slots, outcome })
  }

  /** The lead; 'do_not_call' also acts beyond the record: no campaign calls this number again. */
  private async saveLead(lead: Omit<LeadInput, 'callerId'>): Promise<void> {
    await this.db((s) => s.saveLead(this.id, { callerId: this.sip.callerId, ...lead }))
    const doNotCall = this.deps.doNotCall
    if (lead.outcome === 'do_not_call' && doNotCall) await this.db(() => doNotCall(this.sip.callerId, this.id))
  }

  /**
   * LLM mode, after the hang-up: the seller's summary of the call, the model's own from end_call
   * or transfer_to_seller when it gave one, else asked of the model (bounded by SUMMARY_TIMEOUT_MS).
   */
  private async writeSummary(): Promise<void> {
    const c = this.conversation
    const llm = this.deps.providers?.llm
    if (!c?.history || !llm) return
    let summary: string | undefined
    for (const a of c.actions) if ((a.type === 'end_call' || a.type === 'transfer') && a.summary) summary = a.summary
    if (!summary) {
      try {
        summary = await summarizeCall(llm, c.history, this.deps.config.language, AbortSignal.timeout(SUMMARY_TIMEOUT_MS))
      } catch (err) {
        this.log.warn({ err }, 'no call summary: the model did not write one')
        return
      }
    }
    if (summary) await this.db((s) => s.setLeadSummary(this.id, summary))
  }

  /** Tear down media and write the final record. Safe to call once, whatever happened. */
  async finish(result: CallResult): Promise<void> {
    const { stats } = await this.media.close()
    this.listener.close()
    await this.db((s) => s.appendTurns(this.id, this.turns))
    await this.db((s) => s.appendDtmf(this.id, this.dtmf))
    // the final record and the call's CRM steps (outbox) are written together
    await this.db((s) =>
      s.finishCall(this.id, {
        answeredAt: this.answeredAt,
        codec: this.codec,
        endedAt: new Date(),
        result,
        endReason: this.faultAt ? `fault: ${this.faultAt}` : (this.endReason ?? 'local-bye'),
        recordingPath: this.media.recordingPath,
        recordingError: this.media.recordingError,
        rtpStats: this.withCallStats(stats),
        amd: this.amd,
      }),
    )
  }

  /** Work that outlives the call's media and record (the LLM summary); never rejects. */
  get afterCall(): Promise<void> {
    return this.summary ?? Promise.resolve()
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

/** The user part of the dialled URI (To), what the number map is keyed by. */
/** What the CRM knows of a caller, as the scenario slots it fills (see KNOWN_CALLER_SLOTS). */
export function knownSlots(c: KnownCaller): Record<string, string | number> {
  const out: Record<string, string | number> = {}
  if (c.name) out.name = c.name
  if (c.company) out.company = c.company
  if (c.need) out.need = c.need
  if (c.budget) out.budget = c.budget
  return out
}

function dialledNumber(uri: string): string | undefined {
  return /sips?:([^@;>]+)@/.exec(uri)?.[1]
}
