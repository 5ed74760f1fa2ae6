import { fileURLToPath } from 'node:url'
import t from 'tap'
import { loadScenarioFile, parseScenario, ScenarioError } from './loader.ts'
import { OUTCOMES } from './schema.ts'

const MINI = `id: mini
languages: [ru, en]
start: ask_budget
prompts:
  noInput: { ru: Не слышу, en: Cannot hear you }
  noMatch: { ru: Не понял, en: Did not get that }
  redirect: { ru: Передам менеджеру, en: I will pass it on }
  corrected: { ru: Исправил, en: Corrected }
slots:
  budget: amount
  name: name
intents:
  human:
    ru: [менеджер]
    en: [manager]
steps:
  ask_budget:
    prompt: { ru: Какой бюджет?, en: What budget? }
    slot: budget
    transitions:
      - { when: { slot: budget, gte: 100000 }, to: qualify }
      - { to: qualify }
    noInput: { then: bye }
    noMatch: { then: bye }
  qualify:
    type: end
    prompt: { ru: Спасибо, en: Thank you }
    outcome: qualified_lead
  bye:
    type: end
    prompt: { ru: До свидания, en: Goodbye }
    outcome: no_answer
`

/** The 1-based line of the first line containing `marker` (after `from`). */
function lineOf(src: string, marker: string, from = ''): number {
  const lines = src.split('\n')
  const start = from ? lines.findIndex((l) => l.includes(from)) : 0
  const i = lines.findIndex((l, k) => k >= start && l.includes(marker))
  if (i < 0) throw new Error(`marker ${marker} not in the source`)
  return i + 1
}

function problems(src: string): string[] {
  try {
    parseScenario(src, 'sales.yaml')
  } catch (err) {
    if (err instanceof ScenarioError) return err.message.split('\n')
    throw err
  }
  throw new Error('the scenario was accepted')
}

t.test('the base scenario of these tests is valid', async (t) => {
  const s = parseScenario(MINI, 'mini.yaml')
  t.equal(s.start, 'ask_budget')
  t.same(s.languages, ['ru', 'en'])
})

t.test('an unknown transition target names file, line and field', async (t) => {
  const src = MINI.replace('gte: 100000 }, to: qualify', 'gte: 100000 }, to: qualifyy').replace('      - { to: qualify }', '      - { to: nowhere }')
  t.same(problems(src), [
    `sales.yaml:${lineOf(src, 'to: qualifyy')}: steps.ask_budget.transitions[0].to: unknown step "qualifyy" (did you mean "qualify"?)`,
    `sales.yaml:${lineOf(src, 'to: nowhere')}: steps.ask_budget.transitions[1].to: unknown step "nowhere"`,
  ])
})

t.test('a prompt missing a declared language', async (t) => {
  const src = MINI.replace('prompt: { ru: Спасибо, en: Thank you }', 'prompt: { ru: Спасибо }')
  t.same(problems(src), [`sales.yaml:${lineOf(src, 'prompt: { ru: Спасибо }')}: steps.qualify.prompt: has no "en" text (the scenario declares ru, en)`])
})

t.test('unknown slots, intents and template names', async (t) => {
  const src = MINI.replace('slot: budget\n', 'slot: budgett\n')
    .replace('prompt: { ru: До свидания, en: Goodbye }', 'prompt: { ru: "До свидания, {nam}", en: "Goodbye, {name}" }')
    .replace('      - { to: qualify }', '      - { when: { intent: humann }, to: qualify }\n      - { to: qualify }')
  t.same(problems(src), [
    `sales.yaml:${lineOf(src, 'slot: budgett')}: steps.ask_budget.slot: unknown slot "budgett" (did you mean "budget"?)`,
    `sales.yaml:${lineOf(src, 'intent: humann')}: steps.ask_budget.transitions[1].when.intent: unknown intent "humann" (did you mean "human"?)`,
    `sales.yaml:${lineOf(src, '{nam}')}: steps.bye.prompt.ru: unknown slot "nam" (did you mean "name"?) in the text`,
  ])
})

t.test('types, ranges, outcomes and required fields', async (t) => {
  const src = MINI.replace('outcome: qualified_lead', 'outcome: qualifed_lead')
    .replace('    outcome: no_answer\n', '')
    .replace('    noInput: { then: bye }', '    noInput: { then: bye }\n    listen: { noInputMs: fast }\n    interruptible: sometimes')
    .replace('  budget: amount', '  budget: money')
  t.same(problems(src), [
    `sales.yaml:${lineOf(src, 'budget: money')}: slots.budget: must be a slot type (name, company, text, amount, phone, email, datetime, yesno, digits), got "money"`,
    `sales.yaml:${lineOf(src, 'slot: budget')}: steps.ask_budget.slot: unknown slot "budget"`,
    `sales.yaml:${lineOf(src, 'slot: budget', 'transitions')}: steps.ask_budget.transitions[0].when.slot: unknown slot "budget"`,
    `sales.yaml:${lineOf(src, 'noInputMs')}: steps.ask_budget.listen.noInputMs: must be an integer from 500 to 60000, got "fast"`,
    `sales.yaml:${lineOf(src, 'interruptible')}: steps.ask_budget.interruptible: must be true or false, got "sometimes"`,
    `sales.yaml:${lineOf(src, 'outcome: qualifed_lead')}: steps.qualify.outcome: unknown outcome "qualifed_lead" (did you mean "qualified_lead"?); one of ${OUTCOMES.join(', ')}`,
    `sales.yaml:${lineOf(src, '  bye:')}: steps.bye.outcome: is required`,
  ])
})

t.test('unknown fields are typos, not silently ignored', async (t) => {
  const src = MINI.replace('    slot: budget\n', '    slot: budget\n    promt: { ru: x, en: y }\n')
  t.match(problems(src), [new RegExp(`^sales\\.yaml:${lineOf(src, 'promt')}: steps\\.ask_budget\\.promt: unknown field \\(allowed: type, prompt, `)])
})

t.test('a step without a way out for a recorded answer, and say steps looping', async (t) => {
  const noElse = MINI.replace('      - { to: qualify }\n', '')
  t.same(problems(noElse), [
    `sales.yaml:${lineOf(noElse, 'ask_budget:', 'steps:')}: steps.ask_budget: needs "onClip" or a transition without "when" (where an unrecognised, recorded answer goes)`,
  ])
  const loop = MINI.replace(
    '  qualify:\n',
    '  a:\n    type: say\n    prompt: { ru: А, en: A }\n    next: b\n  b:\n    type: route\n    transitions: [{ to: a }]\n  qualify:\n',
  )
  t.same(problems(loop), [`sales.yaml:${lineOf(loop, '  a:')}: steps.a: say/route steps loop without listening: a -> b -> a`])
})

t.test('YAML syntax errors carry their line', async (t) => {
  const src = MINI.replace('    slot: budget\n', '    slot: budget\n   bad indent: [\n')
  const p = problems(src)
  t.match(p[0], /^sales\.yaml:\d+: YAML: /)
  t.ok(Number(p[0].split(':')[1]) >= lineOf(src, 'bad indent'), p[0])
  t.same(problems(MINI.replace('  qualify:\n', '  bye:\n')).length > 0, true, 'duplicate step names are an error')
})

t.test('files: the shipped sales scenario loads; a missing file is named', async (t) => {
  const path = fileURLToPath(new URL('../scenarios/sales.yaml', import.meta.url))
  const s = await loadScenarioFile(path)
  t.same(s.languages, ['ru', 'en'])
  const ends = new Set(Object.values(s.steps).map((st) => (st.kind === 'end' ? st.outcome : st.kind === 'transfer' ? 'transferred' : '')))
  for (const o of OUTCOMES) t.ok(ends.has(o), `outcome ${o} has a step`)
  await t.rejects(loadScenarioFile('/nonexistent/x.yaml'), { name: 'ScenarioError', message: /^x\.yaml:0: cannot be read: ENOENT/ })
})

t.test('promptKnown: the start step greeting a known caller, with placeholders for what the CRM gives', async (t) => {
  const ok = MINI.replace(
    '    slot: budget\n',
    '    promptKnown: { ru: "Здравствуйте, {name}! Какой бюджет?", en: "Hello, {name}! What budget?" }\n    slot: budget\n',
  )
  t.match(parseScenario(ok, 'mini.yaml').steps.ask_budget, { promptKnown: { ru: 'Здравствуйте, {name}! Какой бюджет?', en: 'Hello, {name}! What budget?' } })
  const src = ok.replace('  name: name\n', '  name: name\n  email: email\n').replace('"Hello, {name}! What budget?"', '"Hello, {email}! What budget?"')
  t.same(problems(src), [
    `sales.yaml:${lineOf(src, '{email}')}: steps.ask_budget.promptKnown.en: placeholder {email} is not known before the call (use {name}, {company}, {need}, {budget})`,
  ])
  const plain = ok.replace('"Hello, {name}! What budget?"', '"Hello! What budget?"')
  t.same(problems(plain), [
    `sales.yaml:${lineOf(plain, 'Hello! What')}: steps.ask_budget.promptKnown.en: names nothing known of the caller (use a placeholder such as {name})`,
  ])
  const notStart = MINI.replace(
    '    prompt: { ru: Спасибо, en: Thank you }\n',
    '    prompt: { ru: Спасибо, en: Thank you }\n    promptKnown: { ru: "{name}", en: "{name}" }\n',
  )
  t.match(problems(notStart), [/steps\.qualify\.promptKnown: unknown field/])
})
