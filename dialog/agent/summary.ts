// The seller's note about an LLM-mode call: a few sentences the model writes after the hang-up from
// the conversation it had. Unless the model already gave one with end_call or transfer_to_seller.
import type { ChatMessage, LlmProvider } from '../../providers/types.ts'
import type { AgentHistory } from './agent.ts'
import type { Lang } from '../lang.ts'

const INSTRUCTIONS: Record<Lang, string> = {
  ru: 'Ты помощник отдела продаж. Кратко перескажи телефонный разговор для карточки лида в CRM: что нужно клиенту, бюджет и сроки, о чём договорились и что делать менеджеру дальше. Не больше трёх предложений, по-русски, только то, что было сказано в разговоре.',
  en: "You assist a sales team. Summarise this phone call for the lead's CRM record: what the customer needs, budget and timing, what was agreed and what the seller should do next. At most three sentences, in English, only what was said in the call.",
}

const SPEAKER: Record<Lang, { caller: string; agent: string }> = {
  ru: { caller: 'Клиент', agent: 'Ассистент' },
  en: { caller: 'Customer', agent: 'Assistant' },
}

/** Longest summary kept; a model that rambles is cut at a sentence end before it. */
export const MAX_SUMMARY_CHARS = 600

/** The call as a transcript the model reads as one message: the caller's and the agent's words. */
export function transcript(messages: ChatMessage[], language: Lang): string {
  const who = SPEAKER[language]
  const lines: string[] = []
  for (const m of messages) {
    if (m.role === 'user') lines.push(`${who.caller}: ${m.content}`)
    else if (m.role === 'assistant' && m.content) lines.push(`${who.agent}: ${m.content}`)
  }
  return lines.join('\n')
}

/**
 * Asks the model for the summary (no tools, so it cannot act on the call any more). Resolves
 * undefined when the caller said nothing; throws what the provider throws, or on `signal`.
 */
export async function summarizeCall(llm: LlmProvider, history: AgentHistory, language: Lang, signal?: AbortSignal): Promise<string | undefined> {
  if (!history.messages.some((m) => m.role === 'user')) return undefined
  const parts: string[] = []
  for await (const event of llm.chat({
    messages: [
      { role: 'system', content: INSTRUCTIONS[language] },
      { role: 'user', content: transcript(history.messages, language) },
    ],
    signal,
  })) {
    if (event.type === 'text') parts.push(event.delta)
  }
  return clip(parts.join('').replace(/\s+/g, ' ').trim()) || undefined
}

function clip(text: string): string {
  if (text.length <= MAX_SUMMARY_CHARS) return text
  const cut = text.slice(0, MAX_SUMMARY_CHARS)
  const end = Math.max(cut.lastIndexOf('. '), cut.lastIndexOf('! '), cut.lastIndexOf('? '))
  return end > 0 ? cut.slice(0, end + 1) : `${cut.trimEnd()}…`
}
