import type { Agent, AgentHistory } from '../../dialog/agent/agent.ts'
import type { AgentAction } from '../../dialog/agent/tools.ts'
import type { AgentProfile } from '../../dialog/agent/profile.ts'
import type { Answer, ScenarioIO, ScenarioResult } from '../../dialog/dialog-io.ts'
import type { Lang } from '../../dialog/lang.ts'
import type { KnownCaller } from '../../crm/bitrix24/caller-lookup.ts'

export type ReplyResult = 'played' | 'interrupted' | 'failed'

/** The media side of an LLM conversation: prompts, answers, and streamed replies. */
export interface ConversationIO extends ScenarioIO {
  /** Speak the text deltas as they come (TTS clause by clause); `signal` aborts the generation. */
  reply(deltas: (signal: AbortSignal) => AsyncIterable<string>, step: string): Promise<ReplyResult>
  /** Hand the caller to a seller (SIP REFER); false when there is none or the transfer failed. */
  transfer(reason: string): Promise<boolean>
}

/** What the agent asked for during the call, for the lead record. */
export interface ConversationRecord {
  lead: Record<string, unknown>
  actions: AgentAction[]
  /** the conversation as the model saw it, with tool calls and guardrail hits */
  history?: AgentHistory
}

/**
 * LLM agent mode: greet, then for every recognised answer the agent's reply, spoken as it is
 * generated, until the agent ends or transfers the call. Answers without text (the recogniser
 * failed or was late) get a reprompt, like silence; two in a row end the call politely.
 */
export async function runConversation(io: ConversationIO, agent: Agent, record: ConversationRecord): Promise<ScenarioResult> {
  const answers: Record<string, Answer> = {}
  await io.say('greeting')
  let unheard = 0
  for (let turn = 1; !agent.ended; turn++) {
    const slot = `turn${turn}`
    const answer = await io.listen({ digits: false, slot })
    if (answer.kind === 'hangup') return { outcome: 'caller-hangup', answers }
    answers[slot] = answer
    const text = answer.kind === 'speech' ? answer.text : answer.kind === 'digits' ? answer.digits : undefined
    if (!text) {
      if (++unheard >= 2) {
        await io.say('goodbyeNoInput')
        return { outcome: 'no-input', answers }
      }
      await io.say('reprompt')
      continue
    }
    unheard = 0
    const result = await io.reply((signal) => agent.respond(text, { signal }), slot)
    if (result === 'failed') {
      await io.say('apology', { interruptible: false })
      return { outcome: 'lead', answers }
    }
    // The reply (e.g. "connecting you") has been spoken; now act on what the agent decided.
    const transfer = record.actions.find((a) => a.type === 'transfer')
    if (transfer?.type === 'transfer') {
      if (await io.transfer(transfer.reason)) return { outcome: 'transferred', answers }
      await io.say('thanks') // no seller reachable: the lead is filed for a callback
      return { outcome: 'lead', answers }
    }
  }
  return { outcome: 'lead', answers }
}

/** What the CRM knows of a returning caller, as a fact the agent may use (and state). */
export function knownCallerFact(known: KnownCaller, language: Lang): string {
  const who = [known.name, known.company && (language === 'ru' ? `компания ${known.company}` : `company ${known.company}`)].filter(Boolean).join(', ')
  const entry = known.leadId ? `${language === 'ru' ? 'лид' : 'lead'} ${known.leadId}` : `${language === 'ru' ? 'контакт' : 'contact'} ${known.contactId}`
  const deal = known.deal
    ? language === 'ru'
      ? `; открытая сделка ${known.deal.id}${known.deal.title ? ` «${known.deal.title}»` : ''}${known.deal.opportunity ? `, сумма ${known.deal.opportunity}` : ''}`
      : `; open deal ${known.deal.id}${known.deal.title ? ` "${known.deal.title}"` : ''}${known.deal.opportunity ? `, amount ${known.deal.opportunity}` : ''}`
    : ''
  return language === 'ru'
    ? `Звонящий уже есть в CRM (${entry}${who ? `: ${who}` : ''}${deal}); обращайтесь по имени и не спрашивайте снова то, что известно.`
    : `The caller is already in the CRM (${entry}${who ? `: ${who}` : ''}${deal}); address them by name and do not ask again for what is known.`
}

/** The agent's brief when the deployment gives none: a polite qualifier that promises nothing. */
export function defaultProfile(language: Lang): AgentProfile {
  return language === 'ru'
    ? {
        language,
        role: 'голосовой помощник отдела продаж',
        style: 'вежливо, коротко, на вы; одна мысль на реплику',
        facts: ['Менеджер перезванивает в течение рабочего дня.'],
      }
    : {
        language,
        role: 'the voice assistant of the sales department',
        style: 'polite and brief; one thought per reply',
        facts: ['A sales manager calls back within one business day.'],
      }
}

/** Collects the agent's actions into what the lead record needs. */
export function recordActions(record: ConversationRecord): (a: AgentAction) => void {
  return (a) => {
    record.actions.push(a)
    if (a.type === 'lead') Object.assign(record.lead, a.fields)
    if (a.type === 'callback') record.lead.callback = { when: a.when, phone: a.phone, note: a.note }
  }
}
