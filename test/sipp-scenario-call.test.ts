// Scenario mode end to end (SCENARIO_DIR): a SIPp caller that stays silent through the default
// sales scenario's greeting, hears the no-input reprompt, then presses 2 (SIP INFO) at the consent
// question; the engine takes it as "no" and ends with not_interested, the bot says goodbye and
// hangs up. The bot's turns are the scenario's texts, in order, and the lead holds the slot and
// the engine's outcome.
import { randomUUID } from 'node:crypto'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { parse } from 'yaml'
import { EspeakTts } from '../providers/tts/espeak-engine.ts'
import { renderScenario } from './helpers/scenario-file.ts'
import { REPO, startServerProcess } from './helpers/server-process.ts'
import { runSipp } from './helpers/sipp.ts'

const sales = parse(readFileSync(path.join(REPO, 'dialog/scenarios/sales.yaml'), 'utf8'))
const GREETING: string = sales.steps.greeting.prompt.ru
const NO_INPUT: string = sales.prompts.noInput.ru
const GOODBYE: string = sales.steps.end_not_interested.prompt.ru
const NO_INPUT_MS: number = sales.defaults.listen.noInputMs

/** How long eSpeak NG speaks a text, in ms: the caller's script is timed by it. */
async function spokenMs(tts: EspeakTts, text: string): Promise<number> {
  const s = await tts.synthesize(text, 'ru')
  return (s.pcm.length / s.sampleRate) * 1000
}

t.test('a silent caller, then a key press, through the YAML sales scenario', async (t) => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'voice-scenario-'))
  const scenarioDir = path.join(dataDir, 'scenarios')
  mkdirSync(scenarioDir)
  copyFileSync(path.join(REPO, 'dialog/scenarios/sales.yaml'), path.join(scenarioDir, 'sales.yaml'))

  const tts = new EspeakTts()
  const greetingMs = await spokenMs(tts, GREETING)
  const repromptMs = await spokenMs(tts, NO_INPUT)
  await tts.close()
  // After the greeting and its no-input wait the reprompt plays; the key goes in a second after
  // it, well inside the reprompt's own no-input wait (a key during the reprompt counts as well).
  const digitAtMs = Math.round(greetingMs + NO_INPUT_MS + repromptMs + 1000)

  const server = await startServerProcess({
    DATA_DIR: dataDir,
    SCENARIO_DIR: scenarioDir,
    LANGUAGE: 'ru',
    RTP_PORT_MIN: '32100',
    RTP_PORT_MAX: '32199',
  })
  t.teardown(() => server.stop())
  t.ok(
    server.logs.some((l) => l.includes('"file":"sales.yaml"') && l.includes('scenario loaded')),
    'the registry loaded the scenario directory',
  )

  const xml = renderScenario('uac-scenario-dtmf.xml', dataDir, { DIGIT: '2', DIGIT_AT_MS: digitAtMs, BYE_TIMEOUT_MS: 40_000 })
  const sipp = await runSipp(xml, `127.0.0.1:${server.sipPort}`, ['-m', '1', '-l', '1', '-mp', '33100'])
  t.equal(sipp.code, 0, `SIPp passed its scenario: the bot hung up (${sipp.stderr.slice(-400)})`)
  t.equal(sipp.successful, 1)

  let call: any
  for (let i = 0; i < 50; i++) {
    const id = (await server.api('/api/calls')).body.calls[0]?.id
    if (id) call = (await server.api(`/api/calls/${id}`)).body
    if (call?.endReason && call.lead) break
    await new Promise((r) => setTimeout(r, 100))
  }
  t.equal(call.result, 'completed')
  t.equal(call.endReason, 'local-bye', 'the bot hung up after the goodbye')

  const bot = call.turns.filter((x: any) => x.who === 'bot')
  t.same(
    bot.map((x: any) => x.text),
    [GREETING, NO_INPUT, GOODBYE],
    'greeting, the no-input reprompt after the silence, the not-interested goodbye',
  )
  t.same(
    bot.map((x: any) => x.step),
    ['greeting', 'greeting', 'end_not_interested'],
    'each turn names its scenario step',
  )
  t.ok(
    bot.every((x: any) => x.endMs - x.startMs > 500),
    'every prompt was spoken, not skipped',
  )

  t.same(
    call.dtmf.map((d: any) => [d.digit, d.source]),
    [['2', 'info']],
    'the key press arrived as SIP INFO',
  )
  const caller = call.turns.filter((x: any) => x.who === 'caller')
  t.same(
    caller.map((x: any) => [x.step, x.text]),
    [['consent', '2']],
    'and answered the consent step',
  )

  t.ok(call.lead, 'lead filed')
  t.equal(call.lead.outcome, 'not_interested', "the engine's outcome")
  t.equal(call.lead.slots.consent.value, false, 'key 2 is "no" by the step\'s DTMF map')
  t.equal(call.lead.slots.consent.display, 'нет')
  t.equal(call.lead.slots.consent.source, 'dtmf')

  const leads = (await server.api('/api/leads?outcome=not_interested')).body.leads
  t.match(
    leads,
    [{ callId: call.id, direction: 'inbound', outcome: 'not_interested', slots: { consent: { value: false } } }],
    'the lead in /api/leads, with its call',
  )
  t.same((await server.api('/api/leads?outcome=qualified_lead')).body.leads, [], 'and not under another outcome')
  // paging as every list reads it: 0 or garbage is the default, too many is the maximum
  for (const q of ['limit=0', 'limit=abc&offset=-3', 'limit=100000']) {
    const page = await server.api(`/api/calls?${q}`)
    t.equal(page.status, 200, `/api/calls?${q} is a page, not an error`)
    t.ok(
      page.body.calls.some((c: any) => c.id === call.id),
      `and lists the call (${q})`,
    )
  }
  t.same((await server.api('/api/calls?offset=1')).body.calls, [], 'past the one call: an empty page')

  // the recording, as the console's player fetches it: whole, and a range of it
  const recording = `http://127.0.0.1:${server.httpPort}/api/calls/${call.id}/recording`
  const whole = await fetch(recording)
  t.equal(whole.status, 200)
  t.equal(whole.headers.get('content-type'), 'audio/wav')
  t.same(Buffer.from(await whole.arrayBuffer()), readFileSync(call.recordingPath), 'the bytes of the call.wav on disk')
  const head = await fetch(recording, { headers: { range: 'bytes=0-43' } })
  t.equal(head.status, 206)
  t.equal(head.headers.get('content-range'), `bytes 0-43/${statSync(call.recordingPath).size}`)
  t.equal(
    Buffer.from(await head.arrayBuffer())
      .subarray(0, 4)
      .toString('latin1'),
    'RIFF',
    'a range: the WAV header',
  )
  t.equal((await fetch(`http://127.0.0.1:${server.httpPort}/api/calls/${randomUUID()}/recording`)).status, 404, 'no such call: 404')
})
