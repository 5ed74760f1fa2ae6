// What a scenario can say, as the engine renders it: the media side synthesises these ahead of the
// call so a prompt starts on the next packet instead of after a TTS round trip.
import type { Lang } from '../slots/types.ts'
import type { Scenario, Step, Text } from './schema.ts'

/**
 * "{name}" becomes the slot's display form; an empty (or clip-only) slot is left out with the
 * comma before it, so "Nice to meet you, {name}." reads "Nice to meet you." without a name.
 */
export function renderText(s: string, display: (slot: string) => string | undefined): string {
  return s
    .replace(/(,?\s*)\{([^}]+)\}/g, (_, sep: string, name: string) => {
      const v = display(name)
      return v ? sep + v : ''
    })
    .replace(/\s+([.,!?])/g, '$1')
    .trim()
}

/**
 * Every prompt of the scenario in one language, rendered with no slot filled (what a caller
 * without a recogniser hears), the start step's first. Prompts that name a filled slot are
 * rendered at the call and are not in the list.
 */
export function promptTexts(scenario: Scenario, lang: Lang): string[] {
  const prompt = (s: Step | undefined) => (s && 'prompt' in s ? s.prompt : undefined)
  const texts: Array<Text | undefined> = [prompt(scenario.steps[scenario.start]), ...Object.values(scenario.prompts)]
  for (const step of Object.values(scenario.steps)) {
    texts.push(prompt(step))
    if (step.kind === 'ask' || step.kind === 'faq') texts.push(step.followup, step.noInput.prompt, step.noMatch.prompt)
  }
  for (const f of scenario.faq) texts.push(f.answer)
  const out = new Set<string>()
  for (const t of texts) {
    const rendered = renderText(t?.[lang] ?? '', () => undefined)
    if (rendered) out.add(rendered)
  }
  return [...out]
}
