import type { AgentProfile } from './profile.ts'

const TEXT = {
  ru: {
    intro: (role: string) => `Ты — ${role}. Ты говоришь с клиентом по телефону; твой ответ будет озвучен синтезатором речи.`,
    style: 'Стиль',
    facts: 'Факты (только это ты знаешь наверняка)',
    rules: 'Правила',
    forbidden: 'Запрещённые темы (вежливо откажись их обсуждать)',
    builtIn: [
      'Говори по-русски, короткими фразами, без списков, разметки и эмодзи.',
      'Называй цены, сроки, скидки и гарантии только если они есть в фактах или в результатах search_knowledge. Иначе скажи, что менеджер уточнит.',
      'На вопросы о продукте сначала вызывай search_knowledge.',
      'Данные клиента (имя, компания, потребность, бюджет, телефон, почта) сохраняй через create_or_update_lead, как только их узнаешь.',
      'Если клиент просит перезвонить — schedule_callback; хочет говорить с человеком или готов купить — transfer_to_seller; разговор окончен — end_call.',
      'Если клиент просит больше не звонить — извинись, пообещай не звонить и вызови end_call с outcome do_not_call.',
    ],
  },
  en: {
    intro: (role: string) => `You are ${role}. You are on a phone call with a customer; your reply is spoken by a speech synthesiser.`,
    style: 'Style',
    facts: 'Facts (the only things you know for sure)',
    rules: 'Rules',
    forbidden: 'Forbidden topics (politely refuse to discuss them)',
    builtIn: [
      'Speak English, in short sentences, with no lists, markup or emoji.',
      'State prices, timescales, discounts and guarantees only when they are in the facts or in search_knowledge results. Otherwise say a seller will confirm.',
      'For product questions call search_knowledge first.',
      "Save the customer's details (name, company, need, budget, phone, email) with create_or_update_lead as soon as you learn them.",
      'If the customer asks to be called back use schedule_callback; wants a human or is ready to buy: transfer_to_seller; the conversation is over: end_call.',
      'If the customer asks not to be called again, apologise, promise not to call and call end_call with outcome do_not_call.',
    ],
  },
} as const

const list = (items: readonly string[]): string => items.map((i) => `- ${i}`).join('\n')

/** The system message for the profile: role, style, facts, built-in and extra rules, forbidden topics. */
export function buildSystemPrompt(profile: AgentProfile): string {
  const t = TEXT[profile.language]
  const parts = [t.intro(profile.role), `${t.style}: ${profile.style}`]
  if (profile.facts.length) parts.push(`${t.facts}:\n${list(profile.facts)}`)
  parts.push(`${t.rules}:\n${list([...t.builtIn, ...(profile.safetyRules ?? [])])}`)
  const topics = profile.forbiddenTopics ?? []
  if (topics.length) parts.push(`${t.forbidden}: ${topics.map((x) => x.name).join(', ')}.`)
  return parts.join('\n\n')
}
