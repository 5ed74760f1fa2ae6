import type { Logger } from 'pino'
import { promptTexts } from '../../dialog/scenario/prompt-texts.ts'
import type { Scenario } from '../../dialog/scenario/schema.ts'
import type { Lang } from '../../dialog/lang.ts'
import type { TtsEntry } from '../provider-config.ts'
import type { TtsProvider } from '../../providers/types.ts'
import { resample } from '../../codecs/resample.ts'
import { atLineRate, INTERNAL_RATE } from '../../rtp/codec-pipeline.ts'
import type { Synthesized } from '../../providers/tts/espeak-engine.ts'
import { PromptCache } from '../tts/prompt-cache.ts'

/**
 * The scenarios' prompts, synthesised through the TTS providers before any call needs them (at
 * start-up and when a scenario file is reloaded) and kept on disk by the prompt cache, so a
 * scenario prompt starts on the next packet like a recorded IVR prompt. A prompt that names a
 * filled slot ("Nice to meet you, Anna") is not here and is synthesised at the call.
 */
export class ScenarioPrompts {
  private readonly audio = new Map<string, Int16Array>()
  /** Every text each scenario (by id) says, as last loaded: what the audio is kept for. */
  private readonly textsOf = new Map<string, Set<string>>()
  private readonly cache: PromptCache<string>
  private queue: Promise<void> = Promise.resolve()

  /**
   * `voice` names what makes the audio (see voiceOf) and goes into the disk cache's key, so
   * another provider, model or voice never serves audio made by the previous one.
   */
  constructor(
    private readonly tts: TtsProvider,
    dir: string,
    private readonly language: Lang,
    private readonly voice: string,
    private readonly logger: Logger,
  ) {
    this.cache = new PromptCache<string>({ synthesize: (text) => this.synthesize(text) }, dir, { logger })
  }

  /**
   * Synthesises what the scenarios say in the server's language, one prompt at a time: first the
   * opening prompt of each, then the rest; `opening` stops after the opening prompts. Resolves
   * when they are in memory and on disk.
   */
  warm(scenarios: Scenario[], opts: { opening?: boolean } = {}): Promise<void> {
    const spoken = scenarios.filter((s) => s.languages.includes(this.language))
    const lists = spoken.map((s) => promptTexts(s, this.language))
    this.forgetUnused(spoken, lists)
    const texts = [...lists.map((l) => l.slice(0, 1)), ...(opts.opening ? [] : lists.map((l) => l.slice(1)))].flat()
    const run = this.queue
      .then(() =>
        this.warmNow(
          texts,
          scenarios.map((s) => s.id),
        ),
      )
      .catch((err: unknown) => this.logger.error({ err }, 'scenario prompts not warmed'))
    this.queue = run
    return run
  }

  /** A reloaded scenario no longer says some texts: their audio goes (the disk keeps it). */
  private forgetUnused(scenarios: Scenario[], lists: string[][]): void {
    scenarios.forEach((s, i) => this.textsOf.set(s.id, new Set(lists[i])))
    const said = new Set([...this.textsOf.values()].flatMap((texts) => [...texts]))
    for (const text of this.audio.keys()) if (!said.has(text)) this.audio.delete(text)
  }

  /** The TTS chain's identity for the cache: its entries' type, address, model and voice. */
  static voiceOf(entries: TtsEntry[], language: Lang): string {
    return [language, ...entries.map((e) => [e.type, e.url, e.model, e.voice].filter(Boolean).join(' '))].join(' | ')
  }

  /** The prompt's audio at 16 kHz, when it is ready. */
  get(text: string): Int16Array | undefined {
    return this.audio.get(text)
  }

  /**
   * A text made for one call (a known caller's greeting): synthesised now, not cached (it names
   * the caller); undefined when it is not ready within `budgetMs` or the TTS fails.
   */
  async synthesizeNow(text: string, budgetMs: number): Promise<Int16Array | undefined> {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<undefined>((r) => {
      timer = setTimeout(() => r(undefined), budgetMs)
    })
    const made = this.synthesize(text).then(
      (s) => s.pcm,
      (err: unknown) => (this.logger.warn({ err }, 'prompt for this call not synthesised'), undefined),
    )
    try {
      return await Promise.race([made, late])
    } finally {
      clearTimeout(timer)
    }
  }

  /** The scenario's first prompt is ready: a call to it starts without waiting for TTS. */
  ready(scenario: Scenario): boolean {
    const first = promptTexts(scenario, this.language)[0]
    return first === undefined || this.audio.has(first)
  }

  private async warmNow(texts: string[], ids: string[]): Promise<void> {
    const started = Date.now()
    let failed = 0
    for (const text of texts) {
      if (this.audio.has(text)) continue
      try {
        const s = await this.cache.get(`scenario:${text}`, text, this.voice)
        const pcm = s.sampleRate === INTERNAL_RATE ? s.pcm : resample(s.pcm, s.sampleRate, INTERNAL_RATE)
        atLineRate(pcm, 8000) // G.711 lines: ready before the first call
        this.audio.set(text, pcm)
      } catch (err) {
        failed++
        this.logger.warn({ err, text }, 'scenario prompt not synthesised ahead; it will be at the call')
      }
    }
    await this.cache.flush()
    this.logger.info({ scenarios: ids, language: this.language, prompts: this.audio.size, failed, ms: Date.now() - started }, 'scenario prompts ready')
  }

  private async synthesize(text: string): Promise<Synthesized> {
    const parts: Int16Array[] = []
    for await (const c of this.tts.synthesize({ text, voice: this.language, language: this.language, sampleRate: INTERNAL_RATE })) {
      parts.push(c.sampleRate === INTERNAL_RATE ? c.pcm : resample(c.pcm, c.sampleRate, INTERNAL_RATE))
    }
    const pcm = new Int16Array(parts.reduce((n, p) => n + p.length, 0))
    let at = 0
    for (const p of parts) {
      pcm.set(p, at)
      at += p.length
    }
    return { sampleRate: INTERNAL_RATE, pcm }
  }
}
