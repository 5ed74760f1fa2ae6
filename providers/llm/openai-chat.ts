// Streaming chat on the `openai` SDK: OpenAI, Groq, YandexGPT's OpenAI-compatible API, vLLM and
// Ollama all speak this wire format, so one adapter with a configurable base URL covers them.
import type OpenAI from 'openai'
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions'
import type { Registry } from 'prom-client'
import { sdkClient, sdkError } from '../tts/openai-sdk-errors.ts'
import { ProviderCall } from '../tts/provider-call.ts'
import { ProviderMetrics } from '../tts/provider-metrics.ts'
import type { ChatEvent, ChatMessage, ChatRequest, ChatTool, ChatToolCall, LlmProvider, ProviderTimeouts } from '../types.ts'

export interface OpenAiChatOptions {
  /** e.g. https://api.openai.com/v1, https://api.groq.com/openai/v1, http://127.0.0.1:11434/v1 */
  baseURL: string
  /** local servers accept any non-empty key */
  apiKey: string
  model: string
  temperature?: number
  topP?: number
  maxTokens?: number
  timeouts: ProviderTimeouts
  registry: Registry
  /** label in metrics and errors; default 'openai-chat' */
  name?: string
}

function toSdkMessage(message: ChatMessage): ChatCompletionMessageParam {
  switch (message.role) {
    case 'tool':
      return { role: 'tool', tool_call_id: message.toolCallId, content: message.content }
    case 'assistant':
      return {
        role: 'assistant',
        content: message.content,
        ...(message.toolCalls?.length
          ? { tool_calls: message.toolCalls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.arguments } })) }
          : {}),
      }
    default:
      return { role: message.role, content: message.content }
  }
}

function toSdkTool(tool: ChatTool): ChatCompletionTool {
  return { type: 'function', function: { name: tool.name, description: tool.description, parameters: tool.parameters } }
}

export class OpenAiChat implements LlmProvider {
  readonly name: string
  private readonly client: OpenAI
  private readonly metrics: ProviderMetrics

  constructor(private readonly options: OpenAiChatOptions) {
    this.name = options.name ?? 'openai-chat'
    this.client = sdkClient(options)
    this.metrics = new ProviderMetrics(options.registry, 'llm')
  }

  chat(request: ChatRequest): AsyncIterable<ChatEvent> {
    return this.metrics.measure(this.name, this.stream(request))
  }

  async close(): Promise<void> {}

  private async *stream(request: ChatRequest): AsyncGenerator<ChatEvent> {
    const { options } = this
    const call = new ProviderCall(this.name, request.signal, [options.apiKey])
    try {
      call.watch('timeout', options.timeouts.connectMs + options.timeouts.responseMs, 'no response')
      let stream
      try {
        stream = await this.client.chat.completions.create(
          {
            model: options.model,
            messages: request.messages.map(toSdkMessage),
            stream: true,
            ...(request.tools?.length ? { tools: request.tools.map(toSdkTool) } : {}),
            ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
            ...(options.topP !== undefined ? { top_p: options.topP } : {}),
            ...(options.maxTokens !== undefined ? { max_tokens: options.maxTokens } : {}),
          },
          { signal: call.signal },
        )
      } catch (err) {
        throw sdkError(call, err, false)
      }
      // tool calls arrive as fragments keyed by index: the id and name first, the arguments in pieces
      const calls = new Map<number, ChatToolCall>()
      let finishReason: string | undefined
      try {
        call.watch('timeout', options.timeouts.responseMs, 'no tokens')
        for await (const chunk of stream) {
          call.watch('timeout', options.timeouts.responseMs, 'the stream stalled')
          const choice = chunk.choices?.[0]
          if (!choice) continue // e.g. a usage-only chunk
          if (choice.delta?.content) yield { type: 'text', delta: choice.delta.content }
          for (const piece of choice.delta?.tool_calls ?? []) {
            const entry = calls.get(piece.index) ?? { id: '', name: '', arguments: '' }
            if (piece.id) entry.id = piece.id
            if (piece.function?.name) entry.name += piece.function.name
            if (piece.function?.arguments) entry.arguments += piece.function.arguments
            calls.set(piece.index, entry)
          }
          if (choice.finish_reason) finishReason = choice.finish_reason
        }
      } catch (err) {
        throw sdkError(call, err, true)
      }
      call.clear()
      if (!finishReason) throw call.fail('disconnected', 'the stream ended without a finish reason')
      for (const [index, entry] of [...calls].sort(([a], [b]) => a - b)) {
        if (!entry.name) throw call.fail('protocol', `tool call ${index} has no function name`)
        yield { type: 'tool_call', call: { id: entry.id || `call_${index}`, name: entry.name, arguments: entry.arguments || '{}' } }
      }
      yield { type: 'done', finishReason }
    } finally {
      call.finish()
    }
  }
}
