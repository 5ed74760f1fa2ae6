import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import pino from 'pino'
import t, { type Test } from 'tap'
import type { ScenarioError } from './loader.ts'
import { ScenarioRegistry } from './registry.ts'

const SALES = await readFile(fileURLToPath(new URL('../scenarios/sales.yaml', import.meta.url)), 'utf8')
const GREETING_RU = 'Здравствуйте! Вы позвонили в отдел продаж.'

function capturingLogger() {
  const lines: Array<{ level: number; msg: string; file?: string }> = []
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l))
      done()
    },
  })
  return { logger: pino({ level: 'info' }, stream), lines }
}

/** The next `event` the registry emits for `file`; fails after 20 s instead of hanging. */
function next(r: ScenarioRegistry, event: 'loaded' | 'rejected', file: string): Promise<ScenarioError | undefined> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} for ${file}`)), 20000)
    const on = (f: string, err?: ScenarioError) => {
      if (f !== file) return
      clearTimeout(timer)
      r.off(event, on as never)
      resolve(err)
    }
    r.on(event, on as never)
  })
}

async function tempDir(t: Test, files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'scenarios-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text)
  return dir
}

const greetingOf = (r: ScenarioRegistry, n?: string) => {
  const s = r.forNumber(n).steps.greeting
  return s.kind === 'ask' ? s.prompt.ru : undefined
}

t.test('scenarios per dialled number, the default for the rest', async (t) => {
  const support = SALES.replace('id: sales', 'id: support').replace(GREETING_RU, 'Служба поддержки.')
  const dir = await tempDir(t, {
    'sales.yaml': SALES,
    'support.yaml': support,
    'numbers.yaml': 'default: sales.yaml\nnumbers:\n  "+7 (495) 123-45-67": support.yaml\n',
  })
  const { logger } = capturingLogger()
  const r = await ScenarioRegistry.open({ dir, logger })
  t.teardown(() => r.close())
  t.same(r.files, ['sales.yaml', 'support.yaml'])
  t.equal(r.forNumber('74951234567').id, 'support')
  t.equal(r.forNumber('sip:84951234567@trunk.example.com').id, 'support', "a trunk's 8-prefixed number and a SIP URI")
  t.equal(r.forNumber('+74957654321').id, 'sales')
  t.equal(r.forNumber(undefined).id, 'sales')
})

t.test('hot reload: a good change serves at once, a bad one is refused and the last good keeps serving', async (t) => {
  const dir = await tempDir(t, { 'sales.yaml': SALES })
  const { logger, lines } = capturingLogger()
  const r = await ScenarioRegistry.open({ dir, logger, debounceMs: 50 })
  t.teardown(() => r.close())
  t.match(greetingOf(r), /^Здравствуйте!/)

  let loaded = next(r, 'loaded', 'sales.yaml')
  await writeFile(join(dir, 'sales.yaml'), SALES.replace(GREETING_RU, 'Добрый день! Отдел продаж.'))
  await loaded
  t.match(greetingOf(r), /^Добрый день! Отдел продаж\./, 'the new version serves')

  const broken = SALES.replace(GREETING_RU, 'Добрый день! Отдел продаж.').replace('      - { to: ask_company }', '      - { to: ask_compnay }')
  const line = broken.split('\n').findIndex((l) => l.includes('to: ask_compnay')) + 1
  const rejected = next(r, 'rejected', 'sales.yaml')
  await writeFile(join(dir, 'sales.yaml'), broken)
  const err = await rejected
  const message = `sales.yaml:${line}: steps.ask_name.transitions[0].to: unknown step "ask_compnay" (did you mean "ask_company"?)`
  t.equal(err?.message, message)
  t.match(greetingOf(r), /^Добрый день! Отдел продаж\./, 'the last good version keeps serving')
  const logged = lines.find((l) => l.level === 50)
  t.ok(logged?.msg.includes(message), 'the precise message is logged')
  t.match(logged?.msg, /the last good version keeps serving/)

  loaded = next(r, 'loaded', 'sales.yaml')
  await writeFile(join(dir, 'sales.yaml'), SALES)
  await loaded
  t.match(greetingOf(r), /^Здравствуйте!/, 'fixed, it serves again')

  const yamlBroken = next(r, 'rejected', 'sales.yaml')
  await writeFile(join(dir, 'sales.yaml'), SALES.replace('steps:\n', 'steps:\n  - [unclosed\n'))
  t.match((await yamlBroken)?.message, /^sales\.yaml:\d+: YAML: /)
  t.match(greetingOf(r), /^Здравствуйте!/)
})

t.test('a new file appears and is served; a removed file keeps its last version', async (t) => {
  const dir = await tempDir(t, { 'sales.yaml': SALES, 'numbers.yaml': 'numbers: {}\n' })
  const { logger } = capturingLogger()
  const r = await ScenarioRegistry.open({ dir, logger, debounceMs: 50 })
  t.teardown(() => r.close())
  const added = next(r, 'loaded', 'promo.yaml')
  await writeFile(join(dir, 'promo.yaml'), SALES.replace('id: sales', 'id: promo'))
  await added
  const mapped = next(r, 'loaded', 'numbers.yaml')
  await writeFile(join(dir, 'numbers.yaml'), 'numbers:\n  "74950000001": promo.yaml\n')
  await mapped
  t.equal(r.forNumber('+74950000001').id, 'promo')
  const badMap = next(r, 'rejected', 'numbers.yaml')
  await writeFile(join(dir, 'numbers.yaml'), 'numbers:\n  "74950000001": promo.yaml\n  "74950000002": promoo.yaml\n')
  t.equal((await badMap)?.message, 'numbers.yaml:3: numbers.74950000002: unknown scenario file "promoo.yaml" (loaded: promo.yaml, sales.yaml)')
  t.equal(r.forNumber('+74950000001').id, 'promo', 'the last good map keeps serving')
  await rm(join(dir, 'promo.yaml'))
  await new Promise((res) => setTimeout(res, 300))
  t.equal(r.forNumber('+74950000001').id, 'promo', 'a deleted file is not dropped mid-service')
})

t.test('at start: a bad extra file is skipped, a bad default stops the start with its message', async (t) => {
  const broken = SALES.replace('outcome: wrong_number', 'outcome: wrong')
  const dir = await tempDir(t, { 'sales.yaml': SALES, 'extra.yaml': broken })
  const { logger, lines } = capturingLogger()
  const r = await ScenarioRegistry.open({ dir, logger })
  t.same(r.files, ['sales.yaml'])
  r.close()
  const line = broken.split('\n').findIndex((l) => l.includes('outcome: wrong')) + 1
  t.ok(lines.some((l) => l.level === 50 && l.msg.includes(`extra.yaml:${line}: steps.end_wrong_number.outcome: unknown outcome "wrong"`)))
  const bad = await tempDir(t, { 'sales.yaml': broken })
  await t.rejects(ScenarioRegistry.open({ dir: bad, logger }), { message: 'sales.yaml: the default scenario could not be loaded (see the log)' })
})
