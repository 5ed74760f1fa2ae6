import { fileURLToPath } from 'node:url'
import t from 'tap'
import { ScenarioEngine, type Action } from './engine.ts'
import { loadScenarioFile } from './loader.ts'
import { promptTexts, renderText } from './prompt-texts.ts'

const sales = await loadScenarioFile(fileURLToPath(new URL('../scenarios/sales.yaml', import.meta.url)))

t.test('renderText fills slots and drops empty ones with their comma', async (t) => {
  const slots: Record<string, string> = { name: 'Анна' }
  t.equal(
    renderText('Спасибо, {name}! До свидания!', (s) => slots[s]),
    'Спасибо, Анна! До свидания!',
  )
  t.equal(
    renderText('Спасибо, {name}! Позвоним {callback}.', (s) => slots[s]),
    'Спасибо, Анна! Позвоним.',
  )
  t.equal(
    renderText('  Thank you, {name}!  ', () => undefined),
    'Thank you!',
  )
})

t.test('every prompt of the sales scenario, opening first, in one language only', async (t) => {
  for (const lang of ['ru', 'en'] as const) {
    const texts = promptTexts(sales, lang)
    const greeting = sales.steps.greeting
    t.equal(texts[0], 'prompt' in greeting ? greeting.prompt[lang] : undefined, `${lang}: the start step's prompt first`)
    t.equal(new Set(texts).size, texts.length, `${lang}: no duplicates`)
    t.notOk(
      texts.some((x) => x.includes('{')),
      `${lang}: no placeholder left`,
    )
    const other = lang === 'ru' ? /[a-z]{4}/ : /[а-я]{4}/
    t.notOk(
      texts.some((x) => other.test(x)),
      `${lang}: none in the other language`,
    )
  }
  const ru = promptTexts(sales, 'ru')
  t.ok(ru.includes('Спасибо! Менеджер перезвонит вам. До свидания!'), 'an ending that names slots, as a caller without a recogniser hears it')
  t.ok(ru.includes('Менеджеры работают по будням с девяти до восемнадцати часов по Москве.'), 'FAQ answers')
  t.ok(ru.includes('Что-нибудь ещё?'), 'FAQ follow-ups')
  t.ok(ru.includes('Простите, не расслышал имя. Как к вам обращаться?'), "a step's own re-ask")
})

t.test('a call without a recogniser says only prompts from the list', async (t) => {
  // Clip mode walks the scenario from greeting to an ending: every text it says was synthesised ahead.
  for (const lang of ['ru', 'en'] as const) {
    const known = new Set(promptTexts(sales, lang))
    const engine = new ScenarioEngine({ scenario: sales, language: lang })
    const said: string[] = []
    let actions: Action[] = engine.start()
    for (let i = 0; i < 30 && !engine.state.ended; i++) {
      said.push(...actions.filter((a) => a.type === 'say').map((a) => (a as { text: string }).text))
      actions = engine.onClip(`clip-${i}.wav`)
    }
    said.push(...actions.filter((a) => a.type === 'say').map((a) => (a as { text: string }).text))
    t.ok(engine.state.ended, `${lang}: the call reached an ending`)
    t.same(
      said.filter((x) => !known.has(x)),
      [],
      `${lang}: ${said.length} prompts said, all known ahead`,
    )
  }
})
