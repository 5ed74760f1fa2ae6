// Scenario mode with Bitrix24 on, end to end: SIPp calls from 79160000000, a lead with that number
// on the local test portal. The lookup (bounded, LOOKUP_TIMEOUT_MS) fills the scenario's name and
// company before the first step: the greeting is the start step's promptKnown with the caller's
// name, synthesised at the call within the turn budget, and after the consent key the steps asking for the name and the
// company are skipped. A portal that does not answer in time gives the ordinary greeting, late by
// no more than the lookup's budget.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { FakePortal } from '../crm/bitrix24/fake-portal.ts'
import { LOOKUP_TIMEOUT_MS } from '../crm/bitrix24/caller-lookup.ts'
import { renderScenario } from './helpers/scenario-file.ts'
import { startServerProcess } from './helpers/server-process.ts'
import { runSipp } from './helpers/sipp.ts'

const GREETING = 'Здравствуйте! Вы позвонили в отдел продаж. Удобно говорить? Нажмите один.'
const KNOWN = 'Здравствуйте, {name}! Рады снова вас слышать. Удобно говорить? Нажмите один.'
const SCENARIO = `id: known
languages: [ru]
start: greeting
defaults:
  listen: { noInputMs: 1500 }
  noInput: { limit: 0 }
  noMatch: { then: bye }
prompts:
  noInput: { ru: Не слышу }
  noMatch: { ru: Не понял }
  redirect: { ru: Передам менеджеру }
  corrected: { ru: Исправил }
slots:
  consent: yesno
  name: name
  company: company
steps:
  greeting:
    prompt: { ru: "${GREETING}" }
    promptKnown: { ru: "${KNOWN}" }
    slot: consent
    dtmf: { map: { "1": { value: true }, "2": { value: false } } }
    transitions:
      - { when: { slot: consent, equals: true }, to: ask_name }
      - { to: bye }
    listen: { noInputMs: 10000 }
    noInput: { then: bye }
  ask_name:
    prompt: { ru: Как вас зовут? }
    slot: name
    transitions: [{ to: ask_company }]
    noInput: { then: ask_company }
  ask_company:
    prompt: { ru: Какую компанию вы представляете? }
    slot: company
    transitions: [{ to: bye }]
    noInput: { then: bye }
  bye:
    type: end
    prompt: { ru: "Спасибо, {name}! До свидания!" }
    outcome: qualified_lead
`

t.test('a caller the CRM knows, in YAML-scenario mode; and a portal too slow for the call', async (t) => {
  const portal = new FakePortal()
  await portal.start()
  t.teardown(() => portal.stop())
  portal.leads.push({ ID: 1, ASSIGNED_BY_ID: 1, NAME: 'Анна', COMPANY_TITLE: 'Ромашка', STATUS_ID: 'IN_PROCESS', PHONE: [{ VALUE: '79160000000' }] })

  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'voice-scenario-crm-'))
  const scenarioDir = path.join(dataDir, 'scenarios')
  mkdirSync(scenarioDir)
  writeFileSync(path.join(scenarioDir, 'sales.yaml'), SCENARIO)
  const server = await startServerProcess({
    DATA_DIR: dataDir,
    SCENARIO_DIR: scenarioDir,
    LANGUAGE: 'ru',
    RTP_PORT_MIN: '32300',
    RTP_PORT_MAX: '32399',
    BITRIX24_WEBHOOK_URL: portal.url,
  })
  t.teardown(() => server.stop())

  const seen = new Set<string>()
  const call = async (): Promise<any> => {
    // the key after the greeting (about 4 s of eSpeak); the bot hangs up after the goodbye
    const xml = renderScenario('uac-scenario-dtmf.xml', dataDir, { DIGIT: '1', DIGIT_AT_MS: 6000, BYE_TIMEOUT_MS: 30_000 })
    const sipp = await runSipp(xml, `127.0.0.1:${server.sipPort}`, ['-m', '1', '-l', '1', '-mp', '32500'])
    t.equal(sipp.code, 0, `SIPp passed its scenario: the bot hung up (${sipp.stderr.slice(-400)})`)
    for (let i = 0; i < 50; i++) {
      const id = (await server.api('/api/calls')).body.calls.map((c: any) => c.id).find((x: string) => !seen.has(x))
      const c = id && (await server.api(`/api/calls/${id}`)).body
      if (c?.endReason && c.lead) {
        seen.add(id)
        return c
      }
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error('the call was not stored')
  }

  await t.test('known: greeted by name, the name and company questions skipped', async (t) => {
    const c = await call()
    const bot = c.turns.filter((x: any) => x.who === 'bot')
    t.same(
      bot.map((x: any) => x.text),
      ['Здравствуйте, Анна! Рады снова вас слышать. Удобно говорить? Нажмите один.', 'Спасибо, Анна! До свидания!'],
      'the greeting names the caller; no question for the name or the company',
    )
    t.same(
      bot.map((x: any) => x.step),
      ['greeting', 'bye'],
    )
    t.ok(bot[0].endMs - bot[0].startMs > 1000, 'the greeting made for this call was spoken')
    // made at the call, within the turn budget (REPLY_BUDGET_MS, 1200 ms from the answer, the lookup included)
    t.ok(bot[0].startMs <= 1200 + 150, `the greeting started ${bot[0].startMs} ms after the answer`)
    t.equal(c.lead.outcome, 'qualified_lead')
    t.match(c.lead.slots, { name: { display: 'Анна', source: 'crm' }, company: { source: 'crm' }, consent: { value: true } })
    t.equal(portal.calls[0]?.method, 'batch', 'looked up in one request as the call started')
  })

  await t.test('a portal that does not answer: the ordinary greeting, no later than the budget', async (t) => {
    // the first call's lead goes to the portal by the outbox in batches too: let it land first, so
    // that the stall is the lookup's (and spare stalls for a late delivery)
    for (const end = Date.now() + 15_000; !portal.comments.length && Date.now() < end;) await new Promise((r) => setTimeout(r, 100))
    portal.faults.batch = ['stall', 'stall', 'stall']
    const c = await call()
    const bot = c.turns.filter((x: any) => x.who === 'bot')
    t.equal(bot[0].text, GREETING, 'the ordinary, pre-synthesised greeting')
    t.equal(bot[0].step, 'greeting')
    t.notOk(
      bot.some((x: any) => x.text.includes('Анна')),
      'nothing known of the caller',
    )
    // from the answer: the lookup's deadline and a margin for a loaded machine, not the portal's stall
    t.ok(bot[0].startMs <= LOOKUP_TIMEOUT_MS + 400, `the greeting started ${bot[0].startMs} ms after the answer`)
    t.same(
      bot.map((x: any) => x.step),
      ['greeting', 'ask_name'].concat(bot.length > 2 ? bot.slice(2).map((x: any) => x.step) : []),
      'the name is asked as for a new caller',
    )
    t.ok(server.logs.some((l) => l.includes('CRM caller lookup failed or too slow')))
  })
})
