import { writeFile } from 'node:fs/promises'
import { encodeWav } from '../../codecs/wav.ts'
import type { Answer, ListenOptions, TurnTaking } from '../../dialog/dialog-io.ts'
import { Endpointer, type EndpointEvent } from '../../vad/endpointer.ts'
import { energyDb } from '../../vad/level.ts'
import { WINDOW_MS, type SileroVad, type VadRate, type VadStream } from '../../vad/silero-vad.ts'
import type { AsrProvider, AsrStream } from '../../providers/types.ts'
import type { AmdWindow } from '../../dialer/amd/amd-detector.ts'

export interface BargeInOptions {
  /** The model must call the caller's audio speech this long before the prompt is dropped (coughs);
   *  the media session's hold (step one) takes the same minimum of loud audio (clicks). */
  minSpeechMs: number
  /** A held prompt resumes when the model has not confirmed speech this long after the onset. */
  confirmMs: number
}

/**
 * Barge-in in two steps: 'held' stops the bot's audio at the first sign of the caller (the
 * prompt keeps its place), 'confirmed' drops it once the model agrees it is speech, 'resumed'
 * carries the prompt on when it was a cough or a noise. Times are on the call timeline, ms.
 */
export type BargeInEvent =
  { stage: 'held'; onsetMs: number; atMs: number } | { stage: 'confirmed'; onsetMs: number; atMs: number } | { stage: 'resumed'; onsetMs: number; atMs: number }

export interface ListenerOptions {
  vad: SileroVad
  sampleRate: 16000
  /** The rate the VAD runs at: the line's own for 8 kHz lines (the model has an 8 kHz mode, a
   *  third of the cost), fed by onAudio's `vadPcm`; default the internal rate. */
  vadRate?: VadRate
  turn: TurnTaking
  bargeIn: BargeInOptions
  /** Where answer clips go, e.g. DATA_DIR/calls/<id>. */
  clipDir: string
  /** The call's timeline, in ms since the answer. */
  now: () => number
  onBargeIn: (ev: BargeInEvent) => void
  /** The endpointer's level for "clearly above the noise floor" moved: the media's hold uses it. */
  onLoudDb: (db: number) => void
  onError: (err: Error) => void
  /** streams each utterance to the recogniser while it is spoken; the clip is kept as well */
  asr?: { provider: AsrProvider; language: string; finalTimeoutMs: number }
}

/** Sees every VAD window and the recogniser's text while set (answering-machine detection). */
export interface WindowWatcher {
  /** `pcm` is valid during the call only */
  window(w: AmdWindow): void
  transcript(text: string, atMs: number): void
}

/** The recogniser's view of the utterance being spoken. */
interface Recognition {
  stream: AsrStream
  text: Promise<{ text: string; atMs: number } | undefined>
}

const PRE_ROLL_MS = 300
/** Windows in flight between the audio and the VAD's answer; the ring holds their times. */
const RING = 128
/** Silero's own hysteresis (the thresholds @ricky0123/vad uses). */
const SPEECH_ON = 0.5
const SPEECH_OFF = 0.35

interface Armed {
  opts: ListenOptions
  turn: TurnTaking
  resolve: (a: Answer) => void
  timer: NodeJS.Timeout
}

/**
 * The caller's side of the line: Silero VAD on every window, always (so speech over a prompt is
 * heard), barge-in on interruptible prompts (step two: the media session holds the prompt itself
 * and says so through held(); the echo gate is there too, and each chunk comes with its verdict),
 * endpointing, the answer cut out as a WAV clip, or keypad digits.
 */
export class Listener {
  private readonly stream: VadStream
  private readonly endpointer: Endpointer
  private readonly rate: number
  private readonly vadRate: VadRate
  private readonly windowSamples: number
  // Per window in flight: when its last sample arrived, its level, and whether the echo gate
  // (in the media session) took (at least half of) its audio for the caller rather than the echo.
  private readonly windowEndMs = new Float64Array(RING)
  private readonly windowDb = new Float64Array(RING)
  private readonly windowNearEnd = new Uint8Array(RING)
  /** Chunks of caller audio that reached into the window being filled, and how many of them
   *  the echo gate took for the caller: a window is the caller's when at least half are. */
  private chunksInWindow = 0
  private nearChunksInWindow = 0
  private windowIndex = 0
  private windowFill = 0
  private windowSumSq = 0
  /** Recent caller audio, so a clip starts at the first speech window, not after min-speech. */
  private history: Int16Array
  private historyFill = 0
  private historyStartMs = 0
  private speaking = false
  /** While the bot talks: the current run of the caller's loud audio, from its first window,
   *  and whether the prompt is held for it. */
  private prompt: { interruptible: boolean; onsetMs: number | undefined; held: boolean } | undefined
  /** what onLoudDb last said, so that it speaks only when the level moved by a dB or more */
  private loudDbSent = NaN
  private armed: Armed | undefined
  private digits = ''
  private digitsAtMs = 0
  private capturing = false
  private recognition: Recognition | undefined
  /** While watched: the watcher, and each window in flight's audio at the VAD's rate (RING slots). */
  private watching: { watcher: WindowWatcher; pcm: Int16Array } | undefined

  constructor(private readonly opts: ListenerOptions) {
    this.rate = opts.sampleRate
    this.endpointer = new Endpointer(opts.turn)
    this.vadRate = opts.vadRate ?? opts.sampleRate
    this.stream = opts.vad.open(this.vadRate, (p, i) => this.onWindow(p, i))
    this.windowSamples = this.stream.window
    // Allocated with the first audio (remember, listen): a call answered but never ACKed (a
    // scanner, a fuzzer) must not hold half a megabyte for its 64*T1.
    this.history = new Int16Array(0)
    this.shareLoudDb()
  }

  private historySize(maxUtteranceMs: number): number {
    return (this.rate * (maxUtteranceMs + PRE_ROLL_MS + 1000)) / 1000
  }

  /** Every window from now on goes to `watcher` too, until unset (its ring is kept only meanwhile). */
  watchWindows(watcher: WindowWatcher | undefined): void {
    this.watching = watcher && { watcher, pcm: new Int16Array(RING * this.windowSamples) }
  }

  /** The bot is about to speak; barge-in is watched for while it does, if interruptible. */
  promptStarted(interruptible: boolean): void {
    this.prompt = { interruptible, onsetMs: undefined, held: false }
  }

  promptEnded(): void {
    this.prompt = undefined
  }

  listen(opts: ListenOptions): Promise<Answer> {
    this.cancel({ kind: 'none' })
    const turn = { ...this.opts.turn, ...opts.turn }
    this.endpointer.configure(turn)
    if (this.history.length < this.historySize(turn.maxUtteranceMs)) {
      const bigger = new Int16Array(this.historySize(turn.maxUtteranceMs))
      bigger.set(this.history.subarray(0, this.historyFill))
      this.history = bigger
    }
    // Speech that began over the prompt (barge-in, or talking over a disclaimer) is this answer.
    if (!this.endpointer.active) this.capturing = false
    if (!opts.digits) this.digits = ''
    return new Promise((resolve) => {
      const wait = this.endpointer.active ? turn.maxUtteranceMs + turn.endSilenceMs : turn.noInputMs
      this.armed = { opts, turn, resolve, timer: setTimeout(() => this.finish({ kind: 'none' }), wait) }
      if (opts.digits && this.digits) this.onDigit('') // type-ahead during the prompt counts
    })
  }

  /** The call is over: a pending listen resolves with 'hangup'. */
  cancel(answer: Answer = { kind: 'hangup' }): void {
    if (this.armed) this.finish(answer)
  }

  close(): void {
    this.cancel()
    this.recognition?.stream.cancel()
    this.stream.close()
  }

  private finish(answer: Answer): void {
    const armed = this.armed
    if (!armed) return
    this.armed = undefined
    clearTimeout(armed.timer)
    this.digits = ''
    armed.resolve(answer)
  }

  private restartTimer(ms: number): void {
    if (!this.armed) return
    clearTimeout(this.armed.timer)
    this.armed.timer = setTimeout(() => this.finish(this.digits ? this.digitAnswer() : { kind: 'none' }), ms)
  }

  /** The step's terminator when the keys typed so far end with it ('#' unless the step says). */
  private terminatedBy(): string | undefined {
    const terminator = this.armed?.opts.terminator ?? '#'
    return terminator && this.digits.endsWith(terminator) ? terminator : undefined
  }

  private digitAnswer(): Answer {
    const t = this.terminatedBy()
    return { kind: 'digits', digits: t ? this.digits.slice(0, -t.length) : this.digits, atMs: this.digitsAtMs }
  }

  onDigit(digit: string): void {
    if (digit && !this.digits) this.digitsAtMs = this.opts.now()
    this.digits += digit
    const opts = this.armed?.opts
    if (!opts?.digits || !this.digits) return
    this.capturing = false // keypad input wins over speech
    const terminated = !!this.terminatedBy()
    // Keys typed ahead beyond a short answer stay out of it (a menu takes its one key).
    if (opts.maxDigits && !terminated && this.digits.length > opts.maxDigits) this.digits = this.digits.slice(0, opts.maxDigits)
    if (terminated || (opts.maxDigits && this.digits.length >= opts.maxDigits)) return this.finish(this.digitAnswer())
    this.restartTimer(this.armed!.turn.interDigitMs)
  }

  /** Caller audio at 16 kHz, any chunk size, as it leaves the jitter buffer, with the echo
   *  gate's verdict on it (`nearEnd`: the caller's own voice); `vadPcm` is the same audio at the
   *  VAD's rate. */
  onAudio(pcm: Int16Array, nearEnd: boolean, vadPcm = pcm): void {
    const arrivedMs = this.opts.now()
    this.remember(pcm, arrivedMs)
    this.recognition?.stream.write(pcm.slice())
    this.chunksInWindow++
    if (nearEnd) this.nearChunksInWindow++
    const W = this.windowSamples
    const v = vadPcm
    const kept = this.watching?.pcm
    for (let i = 0; i < v.length; i++) {
      this.windowSumSq += v[i] * v[i]
      if (kept) kept[(this.windowIndex % RING) * W + this.windowFill] = v[i]
      if (++this.windowFill < W) continue
      const slot = this.windowIndex++ % RING
      // The window's last sample is i; the chunk's last sample arrived at arrivedMs.
      this.windowEndMs[slot] = arrivedMs - ((v.length - 1 - i) * 1000) / this.vadRate
      this.windowDb[slot] = energyDb(this.windowSumSq, W, 32768)
      this.windowNearEnd[slot] = this.nearChunksInWindow * 2 >= this.chunksInWindow ? 1 : 0
      // The chunk runs on into the next window: it counts there too.
      const runsOn = i < v.length - 1
      this.chunksInWindow = runsOn ? 1 : 0
      this.nearChunksInWindow = runsOn && nearEnd ? 1 : 0
      this.windowFill = 0
      this.windowSumSq = 0
    }
    this.stream.push(v)
    this.endOnQuietTail()
  }

  /**
   * The audio after the last whole VAD window is known by its energy before the model sees it:
   * below the VAD's energy gate (where a whole window is "silence" without the model) and with no
   * window waiting for the model, it counts towards the end silence. So an utterance ends on the
   * packet that completes the silence, not up to a window (and a packet) later.
   */
  private endOnQuietTail(): void {
    if (!this.endpointer.active || !this.windowFill || this.stream.waiting || (this.digits && this.armed?.opts.digits)) return
    if (energyDb(this.windowSumSq, this.windowFill, 32768) >= this.opts.vad.gateDb) return
    const ev = this.endpointer.quietTail((this.windowFill * 1000) / this.vadRate)
    if (ev) this.onEndpoint(ev)
  }

  private onWindow(probability: number, index: number): void {
    const endMs = this.windowEndMs[index % RING]
    const startMs = endMs - WINDOW_MS
    this.speaking = probability >= SPEECH_ON || (this.speaking && probability >= SPEECH_OFF)
    // The bot's voice coming back on the line is not the caller.
    const speech = this.speaking && this.windowNearEnd[index % RING] === 1
    const nearEnd = this.windowNearEnd[index % RING] === 1
    if (this.watching) {
      const at = (index % RING) * this.windowSamples
      this.watching.watcher.window({ pcm: this.watching.pcm.subarray(at, at + this.windowSamples), endMs, speechProb: probability })
    }
    this.watchBargeIn(speech, nearEnd && this.endpointer.aboveFloor(this.windowDb[index % RING]), startMs)
    if (this.digits && this.armed?.opts.digits) return
    const ev = this.endpointer.push(speech, startMs, WINDOW_MS, this.windowDb[index % RING])
    this.shareLoudDb()
    if (ev) this.onEndpoint(ev)
  }

  private onEndpoint(ev: EndpointEvent): void {
    if (ev.type === 'start') {
      this.capturing = true
      this.startRecognition(ev.atMs)
      const turn = this.armed?.turn
      if (turn) this.restartTimer(turn.maxUtteranceMs + turn.endSilenceMs + 1000)
      return
    }
    const detectedMs = this.opts.now()
    const recognition = this.recognition
    this.recognition = undefined
    recognition?.stream.end()
    if (this.capturing && this.armed) void this.saveClip(ev.startMs, ev.endMs, detectedMs, recognition)
    else recognition?.stream.cancel()
    this.capturing = false
  }

  /** A new utterance: open the recogniser's stream and send it the audio since the onset. */
  private startRecognition(startMs: number): void {
    const asr = this.opts.asr
    if (!asr) return
    this.recognition?.stream.cancel()
    const stream = asr.provider.stream({ language: asr.language, sampleRate: this.opts.sampleRate })
    const from = Math.max(0, Math.round(((startMs - this.historyStartMs - 100) * this.rate) / 1000))
    stream.write(this.history.slice(from, this.historyFill))
    const text = (async () => {
      const finals: string[] = []
      try {
        for await (const r of stream.results()) {
          if (r.final && r.text) finals.push(r.text)
          if (r.text) this.watching?.watcher.transcript([...finals, ...(r.final ? [] : [r.text])].join(' '), this.opts.now())
        }
      } catch (err) {
        this.opts.onError(err as Error) // the clip still answers: recording mode for this turn
        return undefined
      }
      return finals.length ? { text: finals.join(' '), atMs: this.opts.now() } : undefined
    })()
    this.recognition = { stream, text }
  }

  /**
   * Step one happened in the media session (vad/barge-in-hold.ts): the caller's loud audio since
   * `onsetMs` held the prompt at `atMs`. False when no interruptible prompt is playing any more
   * here: the hold is not wanted, and the caller resumes the media.
   */
  held(onsetMs: number, atMs: number): boolean {
    const p = this.prompt
    if (!p?.interruptible) return false
    if (p.held) return true
    p.held = true
    p.onsetMs = Math.min(p.onsetMs ?? Infinity, onsetMs)
    this.opts.onBargeIn({ stage: 'held', onsetMs: p.onsetMs, atMs })
    return true
  }

  /** The media session's hold follows the endpointer's floor, to the nearest dB. */
  private shareLoudDb(): void {
    const db = this.endpointer.loudDb
    if (Math.abs(db - this.loudDbSent) < 1) return
    this.loudDbSent = db
    this.opts.onLoudDb(db)
  }

  /**
   * Step two, on every VAD window: the model's probability only climbs past threshold a few
   * windows into a word, so it confirms (drop the prompt) or clears (resume it) afterwards.
   */
  private watchBargeIn(speech: boolean, loud: boolean, startMs: number): void {
    const p = this.prompt
    if (!p?.interruptible) return
    const now = this.opts.now()
    if (p.onsetMs === undefined) {
      if (!loud && !speech) return
      p.onsetMs = startMs
    }
    const onsetMs = p.onsetMs
    // The model answers windows behind the chunks: one from before a hold's onset says nothing.
    if (startMs + WINDOW_MS <= onsetMs) return
    const runMs = startMs + WINDOW_MS - onsetMs
    if (speech && runMs >= this.opts.bargeIn.minSpeechMs) {
      this.prompt = undefined
      if (!p.held) this.opts.onBargeIn({ stage: 'held', onsetMs, atMs: now })
      this.opts.onBargeIn({ stage: 'confirmed', onsetMs, atMs: now })
      return
    }
    if ((!loud && !speech && startMs >= onsetMs) || runMs >= this.opts.bargeIn.confirmMs) {
      p.onsetMs = undefined
      if (!p.held) return
      p.held = false
      this.opts.onBargeIn({ stage: 'resumed', onsetMs, atMs: now })
    }
  }

  /** The recogniser's final, or nothing once its budget has passed (the turn goes on without it). */
  private async finalOf(r: Recognition): Promise<{ text: string; atMs: number } | undefined> {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), this.opts.asr!.finalTimeoutMs)
    })
    const heard = await Promise.race([r.text, late])
    clearTimeout(timer)
    if (!heard) r.stream.cancel()
    return heard
  }

  private remember(pcm: Int16Array, arrivedMs: number): void {
    if (this.history.length === 0) this.history = new Int16Array(this.historySize(this.opts.turn.maxUtteranceMs))
    const h = this.history
    if (this.historyFill + pcm.length > h.length) {
      // Outside an utterance only the pre-roll matters (an utterance is shorter than the
      // buffer by construction): keep the tail.
      const keep = Math.min(this.historyFill, (this.rate * PRE_ROLL_MS) / 1000)
      h.copyWithin(0, this.historyFill - keep, this.historyFill)
      this.historyStartMs += ((this.historyFill - keep) * 1000) / this.rate
      this.historyFill = keep
    }
    if (this.historyFill === 0) this.historyStartMs = arrivedMs - (pcm.length * 1000) / this.rate
    h.set(pcm, this.historyFill)
    this.historyFill += pcm.length
  }

  private async saveClip(startMs: number, endMs: number, detectedMs: number, recognition?: Recognition): Promise<void> {
    const armed = this.armed
    if (!armed) return
    const rate = this.rate
    const from = Math.max(0, Math.round(((startMs - this.historyStartMs - 100) * rate) / 1000))
    const to = Math.min(this.historyFill, Math.round(((endMs - this.historyStartMs + 200) * rate) / 1000))
    const clip = this.history.slice(from, Math.max(from, to))
    const clipPath = `${this.opts.clipDir}/${armed.opts.slot}-${Math.round(startMs)}.wav`
    // Disarm now, answer once the clip is on disk, so the record never names a missing file.
    this.armed = undefined
    clearTimeout(armed.timer)
    try {
      await writeFile(clipPath, encodeWav(clip, rate, 1))
      const heard = recognition && (await this.finalOf(recognition))
      armed.resolve({ kind: 'speech', startMs, endMs, detectedMs, clipPath, ...(heard && { text: heard.text, asrFinalMs: heard.atMs }) })
    } catch (err) {
      this.opts.onError(err as Error)
      armed.resolve({ kind: 'none' })
    }
  }
}
