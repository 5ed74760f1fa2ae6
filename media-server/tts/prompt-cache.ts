// Fixed prompts (greetings, questions, fillers) are synthesised once, then served from memory and disk.
import { createHash, randomUUID } from 'node:crypto'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'
import type { Synthesized, Voice } from '../../providers/tts/espeak-engine.ts'
import { encodeWav, readWav } from '../../codecs/wav.ts'

export function promptHash(voice: string, text: string): string {
  return createHash('sha256').update(`${voice}\0${text}`).digest('hex').slice(0, 32)
}

/** A synthesiser the cache sits in front of: eSpeak's voices, or a TTS provider's (its name in V). */
export interface PromptSynthesizer<V extends string> {
  synthesize(text: string, voice: V): Promise<Synthesized>
}

export class PromptCache<V extends string = Voice> {
  // One entry per prompt key: when a key's text changes, its old audio is dropped from memory.
  private readonly memory = new Map<string, { hash: string; audio: Promise<Synthesized> }>()
  // Files being written, so a get() during the write is served from the audio in hand.
  private readonly writes = new Map<string, { audio: Synthesized; done: Promise<void> }>()
  private readonly logger?: Logger

  constructor(
    private readonly tts: PromptSynthesizer<V>,
    private readonly dir: string,
    opts: { logger?: Logger } = {},
  ) {
    this.logger = opts.logger
  }

  /** The returned audio is shared by every caller: treat it as read-only. */
  get(key: string, text: string, voice: V): Promise<Synthesized> {
    const hash = promptHash(voice, text)
    const hit = this.memory.get(key)
    if (hit?.hash === hash) return hit.audio
    const audio = this.load(key, hash, text, voice)
    this.memory.set(key, { hash, audio })
    // a failure is not memoised, so the next call tries again
    audio.catch(() => {
      if (this.memory.get(key)?.audio === audio) this.memory.delete(key)
    })
    return audio
  }

  /** Resolves when every prompt file written so far is on disk. */
  async flush(): Promise<void> {
    await Promise.all([...this.writes.values()].map((w) => w.done))
  }

  private async load(key: string, hash: string, text: string, voice: V): Promise<Synthesized> {
    const file = join(this.dir, `${hash}.wav`)
    const writing = this.writes.get(file)
    if (writing) return writing.audio
    try {
      const wav = readWav(await readFile(file))
      if (wav.channels !== 1) throw new Error(`${wav.channels} channels, expected mono`)
      return { sampleRate: wav.sampleRate, pcm: wav.samples }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.logger?.warn({ err, key, file }, 'prompt file unreadable; synthesising again')
      }
    }
    const audio = await this.tts.synthesize(text, voice)
    this.persist(key, file, audio)
    return audio
  }

  // Written beside the target and renamed, so a crash never leaves a truncated prompt behind.
  private persist(key: string, file: string, audio: Synthesized): void {
    const tmp = `${file}.${randomUUID()}.tmp`
    const done = mkdir(this.dir, { recursive: true })
      .then(() => writeFile(tmp, encodeWav(audio.pcm, audio.sampleRate, 1)))
      .then(() => rename(tmp, file))
      .catch((err: unknown) => {
        this.logger?.warn({ err, key, file }, 'prompt not saved; it will be synthesised again')
        // best effort: when the directory itself is unusable there is no partial file to remove
        return rm(tmp, { force: true }).catch(() => undefined)
      })
      .finally(() => this.writes.delete(file))
    this.writes.set(file, { audio, done })
  }
}
