/** The languages a call can be held in: prompts, slots, the agent and the voice all take this one type. */
export type Lang = 'ru' | 'en'
