import type { Lang } from './lang.ts'

export type PromptKey = 'greeting' | 'reprompt' | 'thanks' | 'goodbyeNoInput' | 'filler' | 'apology'

/** The LLM agent's fixed lines and the fallbacks of every mode, synthesised once at start-up. */
export const PROMPTS: Record<Lang, Record<PromptKey, string>> = {
  ru: {
    greeting: 'Здравствуйте! Вы позвонили в отдел продаж. Я голосовой помощник. Как вас зовут?',
    reprompt: 'Извините, я вас не расслышал. Повторите, пожалуйста.',
    thanks: 'Спасибо! Менеджер перезвонит вам в ближайшее время. До свидания!',
    goodbyeNoInput: 'Я вас не слышу. Перезвоните, пожалуйста, позже. До свидания!',
    // Played when a reply runs past its latency budget, so the caller never hears dead air.
    filler: 'Секундочку.',
    apology: 'Извините, у меня технические трудности. Менеджер вам перезвонит. До свидания!',
  },
  en: {
    greeting: 'Hello! You have reached the sales department. I am the voice assistant. What is your name?',
    reprompt: 'Sorry, I did not hear you. Could you repeat that, please?',
    thanks: 'Thank you! A sales manager will call you back shortly. Goodbye!',
    goodbyeNoInput: 'I cannot hear you. Please call again later. Goodbye!',
    filler: 'One moment.',
    apology: 'Sorry, I am having technical difficulties. A sales manager will call you back. Goodbye!',
  },
}
