import { writeFile } from 'node:fs/promises'
import { encodeWav } from '../../codecs/wav.ts'
import type { Answer, ListenOptions } from '../../dialog/basic-scenario.ts'
import { Endpointer, type EndpointerOptions } from '../../vad/endpointer.ts'
import { EnergyDetector } from '../../vad/energy-detector.ts'

export interface ListenerOptions extends EndpointerOptions {
  sampleRate: number
  noInputMs: number
  interDigitMs: number
  /** Where answer clips go, e.g. DATA_DIR/calls/<id>. */
  clipDir: string
  /** The call's timeline, in ms since the answer. */
  now: () => number
  onError: (err: Error) => void
}

const FRAME_MS = 20
const PRE_ROLL_MS = 300

/**
 * The caller's side of a question: voice activity on 20 ms frames, endpointing, the
 * answer cut out as a WAV clip, or digits from the keypad. Only armed while listening,
 * so the bot's own prompts (echo) are not mistaken for answers.
 */
export class Listener {
  private readonly detector = new EnergyDetector()
  private readonly endpointer: Endpointer
  private readonly frame: Int16Array
  private frameFill = 0
  /** Recent caller audio, so a clip starts at the first speech frame, not after min-speech. */
  private readonly history: Int16Array
  private historyFill = 0
  private historyStartMs = 0
  private armed: { opts: ListenOptions; resolve: (a: Answer) => void; timer: NodeJS.Timeout } | undefined
  private digits = ''
  private digitsAtMs = 0
  private capturing = false

  constructor(private readonly opts: ListenerOptions) {
    this.endpointer = new Endpointer(opts)
    this.frame = new Int16Array((opts.sampleRate * FRAME_MS) / 1000)
    this.history = new Int16Array((opts.sampleRate * (opts.maxUtteranceMs + PRE_ROLL_MS + 1000)) / 1000)
  }

  listen(opts: ListenOptions): Promise<Answer> {
    this.cancel({ kind: 'none' })
    this.endpointer.reset()
    this.capturing = false
    this.historyFill = 0
    if (!opts.digits) this.digits = ''
    return new Promise((resolve) => {
      this.armed = { opts, resolve, timer: setTimeout(() => this.finish({ kind: 'none' }), this.opts.noInputMs) }
      if (opts.digits && this.digits) this.onDigit('') // type-ahead during the prompt counts
    })
  }

  /** The call is over: a pending listen resolves with 'hangup'. */
  cancel(answer: Answer = { kind: 'hangup' }): void {
    if (this.armed) this.finish(answer)
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

  private digitAnswer(): Answer {
    return { kind: 'digits', digits: this.digits.replace(/#$/, ''), atMs: this.digitsAtMs }
  }

  onDigit(digit: string): void {
    if (digit && !this.digits) this.digitsAtMs = this.opts.now()
    this.digits += digit
    if (!this.armed?.opts.digits || !this.digits) return
    this.capturing = false // keypad input wins over speech
    if (this.digits.endsWith('#')) return this.finish(this.digitAnswer())
    this.restartTimer(this.opts.interDigitMs)
  }

  /** Caller audio, any packet size. */
  onAudio(pcm: Int16Array): void {
    if (!this.armed) return
    let i = 0
    while (i < pcm.length) {
      const n = Math.min(pcm.length - i, this.frame.length - this.frameFill)
      this.frame.set(pcm.subarray(i, i + n), this.frameFill)
      this.frameFill += n
      i += n
      if (this.frameFill === this.frame.length) {
        this.frameFill = 0
        this.onFrame()
      }
    }
  }

  private onFrame(): void {
    const atMs = this.opts.now() - FRAME_MS
    this.remember(atMs)
    if (this.digits && this.armed?.opts.digits) return
    const ev = this.endpointer.push(this.detector.isSpeech(this.frame), atMs, FRAME_MS)
    if (!ev) return
    if (ev.type === 'start') {
      this.capturing = true
      this.restartTimer(this.opts.maxUtteranceMs + this.opts.endSilenceMs + 1000)
      return
    }
    if (this.capturing) void this.saveClip(ev.startMs, ev.endMs)
  }

  private remember(atMs: number): void {
    const h = this.history
    if (this.historyFill + this.frame.length > h.length) {
      // Outside an utterance only the pre-roll matters: keep the tail.
      const keep = (this.opts.sampleRate * PRE_ROLL_MS) / 1000
      h.copyWithin(0, this.historyFill - keep, this.historyFill)
      this.historyStartMs += ((this.historyFill - keep) * 1000) / this.opts.sampleRate
      this.historyFill = keep
    }
    if (this.historyFill === 0) this.historyStartMs = atMs
    h.set(this.frame, this.historyFill)
    this.historyFill += this.frame.length
  }

  private async saveClip(startMs: number, endMs: number): Promise<void> {
    const armed = this.armed
    if (!armed) return
    const rate = this.opts.sampleRate
    const from = Math.max(0, Math.round(((startMs - this.historyStartMs - 100) * rate) / 1000))
    const to = Math.min(this.historyFill, Math.round(((endMs - this.historyStartMs + 200) * rate) / 1000))
    const clip = this.history.slice(from, Math.max(from, to))
    const clipPath = `${this.opts.clipDir}/${armed.opts.slot}-${Math.round(startMs)}.wav`
    // Disarm now, answer once the clip is on disk, so the record never names a missing file.
    this.armed = undefined
    clearTimeout(armed.timer)
    try {
      await writeFile(clipPath, encodeWav(clip, rate, 1))
      armed.resolve({ kind: 'speech', startMs, endMs, clipPath })
    } catch (err) {
      this.opts.onError(err as Error)
      armed.resolve({ kind: 'none' })
    }
  }
}
