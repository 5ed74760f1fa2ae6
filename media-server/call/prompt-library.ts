import type { Logger } from 'pino'
import { resample } from '../../codecs/resample.ts'
import { PROMPTS, type PromptKey } from '../../dialog/prompts.ts'
import type { Lang } from '../../dialog/lang.ts'
import { atLineRate, INTERNAL_RATE } from '../../rtp/codec-pipeline.ts'
import type { PromptCache } from '../tts/prompt-cache.ts'

/**
 * The fixed prompts (the LLM agent's lines, filler, apology), synthesised (or loaded from the
 * disk cache) once at start-up and resampled to the line rate, so a call never waits for TTS.
 */
export class PromptLibrary {
  private readonly audio = new Map<PromptKey, Int16Array>()

  constructor(
    private readonly cache: PromptCache,
    readonly language: Lang,
    private readonly sampleRate: number,
  ) {}

  async warm(logger: Logger): Promise<void> {
    const started = Date.now()
    for (const [key, text] of Object.entries(PROMPTS[this.language]) as Array<[PromptKey, string]>) {
      const s = await this.cache.get(`${this.language}:${key}`, text, this.language)
      const pcm = resample(s.pcm, s.sampleRate, this.sampleRate)
      this.audio.set(key, pcm)
      if (this.sampleRate === INTERNAL_RATE) atLineRate(pcm, 8000) // G.711 lines: ready before the first call
    }
    logger.info({ language: this.language, prompts: this.audio.size, ms: Date.now() - started }, 'prompts ready')
  }

  get ready(): boolean {
    return this.audio.size === Object.keys(PROMPTS[this.language]).length
  }

  text(key: PromptKey): string {
    return PROMPTS[this.language][key]
  }

  get(key: PromptKey): Int16Array {
    const pcm = this.audio.get(key)
    if (!pcm) throw new Error(`prompt ${key} is not loaded`)
    return pcm
  }
}
