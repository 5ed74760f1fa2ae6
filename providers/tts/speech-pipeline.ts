// Clause-level streaming: the LLM's text deltas become clauses, each clause is synthesised as soon
// as it is complete, and the next clause's synthesis runs while the current one is being played,
// so its audio is there when the current one ends. cancel() (barge-in) stops the text, every TTS
// request and the audio at once.
import { ClauseSplitter, type ClauseSplitterOptions } from '../clause-splitter.ts'
import { ProviderError, type TtsChunk, type TtsProvider, type TtsRequest } from '../types.ts'
import { AsyncQueue } from '../async-queue.ts'

export interface SpeechPipelineOptions {
  tts: TtsProvider
  voice: string
  language: string
  sampleRate: TtsRequest['sampleRate']
  splitter?: ClauseSplitterOptions
  /** syntheses in flight besides the one being played; default 1 */
  prefetch?: number
}

export interface SpokenChunk extends TtsChunk {
  /** 0-based index of the clause this audio belongs to */
  clause: number
  /** the clause's text, for the transcript of what was actually said */
  text: string
}

interface Synthesis {
  clause: number
  text: string
  audio: AsyncQueue<TtsChunk>
}

export class SpeechPipeline {
  private readonly controller = new AbortController()
  private stopText?: () => void

  constructor(private readonly options: SpeechPipelineOptions) {}

  /** Aborts on cancel(): pass it as the LLM request's signal so generation stops too. */
  get signal(): AbortSignal {
    return this.controller.signal
  }

  get cancelled(): boolean {
    return this.controller.signal.aborted
  }

  /** Stops everything now; speak() then ends without an error. */
  cancel(): void {
    if (this.cancelled) return
    this.controller.abort(new ProviderError('speech', 'cancelled', 'barge-in'))
    this.stopText?.()
  }

  /**
   * Audio of `deltas`, clause after clause in order. A failed synthesis throws when its clause is
   * due; a failed text stream throws once the clauses completed before it have been spoken (the
   * failover layer above decides what next). One pipeline speaks once.
   */
  async *speak(deltas: AsyncIterable<string>): AsyncGenerator<SpokenChunk> {
    const { options } = this
    const waiting: string[] = [] // complete clauses not yet sent to TTS
    const started: Synthesis[] = [] // sent to TTS and not yet played through
    let clauseCount = 0
    let textDone = false
    let textError: unknown
    let wake: (() => void) | undefined
    const notify = () => {
      const w = wake
      wake = undefined
      w?.()
    }
    const startSyntheses = () => {
      while (started.length < 1 + (options.prefetch ?? 1) && waiting.length && !this.cancelled) {
        const text = waiting.shift() as string
        const audio = new AsyncQueue<TtsChunk>()
        started.push({ clause: clauseCount++, text, audio })
        void drain(
          options.tts.synthesize({ text, voice: options.voice, language: options.language, sampleRate: options.sampleRate, signal: this.signal }),
          audio,
        ).then(notify)
      }
    }
    const addClause = (text: string) => {
      waiting.push(text)
      startSyntheses()
      notify()
    }

    const iterator = deltas[Symbol.asyncIterator]()
    this.stopText = () => void iterator.return?.()?.catch(() => {})
    this.signal.addEventListener('abort', notify, { once: true })
    void (async () => {
      const splitter = new ClauseSplitter(options.splitter)
      try {
        for (let r = await iterator.next(); !r.done && !this.cancelled; r = await iterator.next()) splitter.push(r.value).forEach(addClause)
        if (!this.cancelled) splitter.flush().forEach(addClause)
      } catch (err) {
        textError = err
      } finally {
        textDone = true
        notify()
      }
    })()

    try {
      for (;;) {
        if (this.cancelled) return
        const current = started[0]
        if (!current) {
          if (textError !== undefined) throw textError
          if (textDone && !waiting.length) return
          await new Promise<void>((resolve) => (wake = resolve))
          continue
        }
        try {
          for await (const chunk of current.audio) {
            if (this.cancelled) return
            yield { ...chunk, clause: current.clause, text: current.text }
          }
        } catch (err) {
          if (this.cancelled) return
          throw err
        }
        started.shift()
        startSyntheses()
      }
    } finally {
      // finished, failed, cancelled or abandoned by the consumer: nothing may keep running
      if (!this.cancelled) this.controller.abort(new ProviderError('speech', 'cancelled', 'speech ended'))
      this.stopText?.()
    }
  }
}

async function drain(source: AsyncIterable<TtsChunk>, into: AsyncQueue<TtsChunk>): Promise<void> {
  try {
    for await (const chunk of source) into.push(chunk)
    into.end()
  } catch (err) {
    into.fail(err)
  }
}
