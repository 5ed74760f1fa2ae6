import type { Lang } from '../lang.ts'

/** Fixed lines the agent says without the model. */
export interface AgentPhrases {
  /** replaces a sentence with a number or a promise that is in neither the facts nor the knowledge base */
  ungrounded: string
  forbiddenTopic: string
  maxTurnsClose: string
  transferring: string
  goodbye: string
  /** the model produced nothing usable (tool loop exhausted, empty reply) */
  fallback: string
}

export const PHRASES: Record<Lang, AgentPhrases> = {
  ru: {
    ungrounded: 'Точную цену и условия вам подтвердит менеджер.',
    forbiddenTopic: 'Извините, эту тему я не обсуждаю. Давайте вернёмся к вашему запросу.',
    maxTurnsClose: 'Спасибо за разговор! Менеджер свяжется с вами и ответит на остальные вопросы. До свидания!',
    transferring: 'Соединяю вас с менеджером, оставайтесь на линии.',
    goodbye: 'Спасибо за звонок, до свидания!',
    fallback: 'Извините, я уточню это и менеджер вам перезвонит.',
  },
  en: {
    ungrounded: "I'll have a seller confirm the exact price and terms.",
    forbiddenTopic: "Sorry, that's not something I can discuss. Let's get back to your request.",
    maxTurnsClose: 'Thank you for your time! A seller will call you back with the rest of the answers. Goodbye!',
    transferring: "I'm putting you through to a seller, please stay on the line.",
    goodbye: 'Thank you for calling, goodbye!',
    fallback: "Sorry, I'll check that and a seller will call you back.",
  },
}
