// The LLM agent: one caller utterance in, the spoken reply out as text deltas (sentence by
// sentence, each checked before it is released, so TTS can start on the first one), tool calls
// executed in between and their actions sent to the sink.
import type { Logger } from 'pino'
import type { ChatMessage, ChatToolCall, LlmProvider } from '../../providers/types.ts'
import type { KnowledgeSearch } from '../knowledge/knowledge-base.ts'
import { forbiddenTopicIn, GroundingCorpus, SentenceBuffer, type GuardrailHit } from './guardrails.ts'
import { PHRASES, type AgentPhrases } from './phrases.ts'
import type { AgentProfile } from './profile.ts'
import { buildSystemPrompt } from './system-prompt.ts'
import { runTool, TOOLS, type ActionSink, type ToolRecord } from './tools.ts'

/** Everything the agent did on one call; plain JSON, stored with the call and enough to resume. */
export interface AgentHistory {
  /** the conversation as the model sees it, after the system prompt; assistant text is what was said */
  messages: ChatMessage[]
  tools: ToolRecord[]
  guardrails: GuardrailHit[]
  /** caller turns handled */
  turns: number
  /** set once the agent transferred the call or ended it */
  ended?: 'transfer' | 'end_call' | 'max_turns'
}

export interface AgentOptions {
  profile: AgentProfile
  llm: LlmProvider
  sink: ActionSink
  knowledge?: KnowledgeSearch
  /** history of this call so far, to continue it */
  history?: AgentHistory
  /** model rounds per caller turn (each round may call tools); default 4 */
  maxToolRounds?: number
  logger?: Logger
}

export interface RespondOptions {
  signal?: AbortSignal
}

const DEFAULT_MAX_TURNS = 20

export class Agent {
  readonly history: AgentHistory
  private readonly system: string
  private readonly corpus: GroundingCorpus
  private readonly phrases: AgentPhrases
  /** sentences spoken in the current turn: the next one is preceded by a space */
  private spoken = 0

  constructor(private readonly opts: AgentOptions) {
    const { profile } = opts
    this.history = opts.history ?? { messages: [], tools: [], guardrails: [], turns: 0 }
    this.system = buildSystemPrompt(profile)
    this.phrases = { ...PHRASES[profile.language], ...(profile.safePhrase && { ungrounded: profile.safePhrase }) }
    this.corpus = new GroundingCorpus(profile.language)
    for (const fact of profile.facts) this.corpus.addTrusted(fact)
    // A resumed call grounds on what it retrieved and heard before.
    for (const m of this.history.messages) if (m.role === 'user') this.corpus.addEcho(m.content)
    for (const tool of this.history.tools) this.groundToolResult(tool)
  }

  get ended(): boolean {
    return this.history.ended !== undefined
  }

  /**
   * The reply to one caller utterance, as text deltas. Stopping the iteration early (barge-in)
   * aborts the model and keeps what was already said in the history. Actions reach the sink when
   * they happen, which can be before the reply's last words are spoken: the call plays out the
   * reply before it acts on transfer or end_call. A failing provider's error is thrown to the
   * caller (the turn loop's fallback), with the caller's words already in the history.
   */
  async *respond(callerText: string, ropts: RespondOptions = {}): AsyncGenerator<string, void, undefined> {
    if (this.ended) return
    this.spoken = 0
    const h = this.history
    h.turns++
    h.messages.push({ role: 'user', content: callerText })
    this.corpus.addEcho(callerText)

    if (h.turns > (this.opts.profile.maxTurns ?? DEFAULT_MAX_TURNS)) {
      // Decided before the close is spoken, so a caller talking over it cannot keep the call going.
      h.ended = 'max_turns'
      await this.opts.sink({ type: 'end_call', outcome: 'other', reason: 'max_turns' })
      yield* this.fixedReply(this.phrases.maxTurnsClose)
      return
    }
    const topic = forbiddenTopicIn(callerText, this.opts.profile.forbiddenTopics ?? [])
    if (topic) {
      h.guardrails.push({ sentence: callerText, reason: 'forbidden-topic', detail: topic.name })
      yield* this.fixedReply(this.phrases.forbiddenTopic)
      return
    }

    const abort = new AbortController()
    const onAbort = (): void => abort.abort(ropts.signal?.reason)
    ropts.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      for (let round = 0; round < (this.opts.maxToolRounds ?? 4); round++) {
        const said: string[] = []
        const calls: ChatToolCall[] = []
        // The assistant message goes into the history even when the caller interrupts mid-reply.
        let recorded = false
        const record = (): void => {
          if (recorded) return
          recorded = true
          if (said.length || calls.length) {
            h.messages.push({ role: 'assistant', content: said.length ? said.join(' ') : null, ...(calls.length && { toolCalls: calls }) })
          }
        }
        try {
          const sentences = new SentenceBuffer()
          for await (const event of this.opts.llm.chat({
            messages: [{ role: 'system', content: this.system }, ...h.messages],
            tools: Object.values(TOOLS),
            signal: abort.signal,
          })) {
            if (event.type === 'text') {
              for (const s of sentences.push(event.delta)) yield* this.say(s, said)
            } else if (event.type === 'tool_call') calls.push(event.call)
          }
          const rest = sentences.flush()
          if (rest) yield* this.say(rest, said)
        } finally {
          record()
        }
        if (!calls.length) break

        let terminal: 'transfer' | 'end_call' | undefined
        for (const call of calls) {
          const outcome = await runTool(call.name, call.arguments, { sink: this.opts.sink, knowledge: this.opts.knowledge })
          const entry: ToolRecord = { callId: call.id, name: call.name, arguments: outcome.arguments, result: outcome.result, ok: outcome.ok }
          h.tools.push(entry)
          this.groundToolResult(entry)
          h.messages.push({ role: 'tool', toolCallId: call.id, content: JSON.stringify(outcome.result) })
          if (!outcome.ok) this.opts.logger?.warn({ tool: call.name, result: outcome.result }, 'agent tool call failed')
          terminal ??= outcome.terminal
        }
        if (terminal) {
          h.ended = terminal
          // The caller must hear something before the line changes or goes quiet.
          if (!this.spoken) yield* this.fixedReply(terminal === 'transfer' ? this.phrases.transferring : this.phrases.goodbye)
          return
        }
      }
      if (!this.spoken) yield* this.fixedReply(this.phrases.fallback)
    } finally {
      ropts.signal?.removeEventListener('abort', onAbort)
      abort.abort()
    }
  }

  /** Checks one sentence and yields it, or the safe phrase in its place. */
  private *say(sentence: string, said: string[]): Generator<string> {
    const hit = this.corpus.check(sentence, this.opts.profile.forbiddenTopics ?? [])
    let text = sentence
    if (hit) {
      this.history.guardrails.push(hit)
      this.opts.logger?.info({ reason: hit.reason, detail: hit.detail }, 'agent sentence replaced')
      text = hit.reason === 'forbidden-topic' ? this.phrases.forbiddenTopic : this.phrases.ungrounded
      // Several bad sentences in a row would repeat the phrase; once is enough.
      if (said.at(-1) === text) return
    }
    said.push(text)
    yield this.spoken++ ? ` ${text}` : text
  }

  /** A line said without the model, kept in the history as the assistant's turn. */
  private *fixedReply(text: string): Generator<string> {
    this.history.messages.push({ role: 'assistant', content: text })
    yield this.spoken++ ? ` ${text}` : text
  }

  private groundToolResult(tool: ToolRecord): void {
    if (!tool.ok) return
    if (tool.name === 'search_knowledge') {
      const { results } = tool.result as { results: Array<{ document: string; section: string; text: string }> }
      for (const r of results) this.corpus.addTrusted(`${r.section}\n${r.text}`)
    } else this.corpus.addEcho(JSON.stringify(tool.result))
  }
}
