// A calling campaign end to end, with SIPp as the called phones behind three trunks (one domain,
// three ports: each call must go out through the trunk its campaign names): one answers
// (the bot greets, the callee hangs up), one is busy (486), one refuses us (401). The campaign is
// created from an Excel-style CSV upload, started over the API, and judged by what SIPp saw: every
// number called once, never more calls up at once than the campaign allows, never more INVITEs in
// a second than the trunk's cps; then the contacts' states, the retry times, the pause, the export;
// and a campaign fed from Bitrix24 leads (the local test portal) whose outcomes go back on the leads.
import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { FakePortal } from '../crm/bitrix24/fake-portal.ts'
import { freeUdpPort } from './helpers/free-port.ts'
import { renderScenario } from './helpers/scenario-file.ts'
import { startServerProcess, type ServerHandle } from './helpers/server-process.ts'
import { runSipp } from './helpers/sipp.ts'
import { answeringCallee } from './helpers/sipp-callee.ts'
import { waitFor } from './helpers/storage-call.ts'
import { firstInvites, peakConcurrency, peakRate, readSippTrace } from './helpers/sipp-trace.ts'

// This file's share of ports: RTP 41000-41199, SIPp media 42000 and up.
const RTP_MIN = 41000
const RTP_MAX = 41199
const TOKEN = 'campaign-test-token'
const CONTACTS = 24
const MAX_CONCURRENT = 5
const TRUNK_CPS = 3
const ALWAYS = { days: [1, 2, 3, 4, 5, 6, 7], from: '00:00', to: '24:00', holidays: [] }

async function api(
  server: ServerHandle,
  method: string,
  p: string,
  body?: string | object,
  type = 'application/json',
): Promise<{ status: number; body: any; text: string }> {
  const r = await fetch(`http://127.0.0.1:${server.httpPort}${p}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined && { 'content-type': type }) },
    ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  })
  const text = await r.text()
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    parsed = undefined
  }
  return { status: r.status, body: parsed, text }
}

t.test('a campaign through SIPp: pacing, outcomes, pause and export', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'voice-campaign-'))
  const [answers, busy, denies] = [await freeUdpPort(), await freeUdpPort(), await freeUdpPort()]
  const trunk = (name: string, port: number) => ({ name, host: `127.0.0.1:${port}`, register: false, cps: TRUNK_CPS, channels: 20, allowPrefixes: ['+7999'] })
  const config = path.join(dir, 'config.json')
  writeFileSync(config, JSON.stringify({ trunks: [trunk('answers', answers), trunk('busy', busy), trunk('denies', denies)] }))
  const portal = new FakePortal()
  await portal.start()
  t.teardown(() => portal.stop())
  const server = await startServerProcess({
    BITRIX24_WEBHOOK_URL: portal.url,
    DATA_DIR: path.join(dir, 'data'),
    CONFIG_FILE: config,
    API_TOKEN: TOKEN,
    LANGUAGE: 'ru',
    RTP_PORT_MIN: String(RTP_MIN),
    RTP_PORT_MAX: String(RTP_MAX),
    OUTBOUND_MAX_CALLS_PER_HOUR: '1000',
    OUTBOUND_RING_TIMEOUT_S: '5',
  })
  t.teardown(() => server.stop())

  await t.test(`${CONTACTS} contacts, ${MAX_CONCURRENT} at once, a trunk of ${TRUNK_CPS} cps: each called once, the limits hold on the wire`, async (t) => {
    const trace = path.join(dir, 'answers.trace')
    const scenario = answeringCallee(dir, 300, 2500)
    const callee = runSipp(
      scenario,
      `127.0.0.1:${server.sipPort}`,
      ['-p', String(answers), '-m', String(CONTACTS), '-mp', '42000', '-rtp_echo', '-trace_msg', '-message_file', trace],
      120_000,
    )
    await new Promise((r) => setTimeout(r, 500)) // SIPp binds its port
    // Excel in a Russian office: ';', a BOM, Cyrillic headers, national 8-numbers
    const rows = Array.from({ length: CONTACTS }, (_, i) => `8 (999) 000-00-${String(i).padStart(2, '0')};Клиент ${i};ООО Ромашка ${i}`)
    const csv = `\uFEFFТелефон;Имя;Компания\n${rows.join('\n')}\n`
    const query = new URLSearchParams({
      name: 'Осенний обзвон',
      trunks: 'answers',
      maxConcurrent: String(MAX_CONCURRENT),
      callerId: '74950000000',
      callingWindow: JSON.stringify(ALWAYS),
    })
    const created = await api(server, 'POST', `/api/campaigns?${query}`, csv, 'text/csv')
    t.equal(created.status, 201, created.text)
    t.equal(created.body.added, CONTACTS, 'every row became a contact')
    const id: string = created.body.id
    const started = await api(server, 'POST', `/api/campaigns/${id}/start`)
    t.equal(started.body.state, 'running')
    const again = await api(server, 'POST', `/api/campaigns/${id}/start`)
    t.equal(again.status, 409, 'a running campaign cannot be started twice')

    const t0 = Date.now()
    const done = await waitFor(
      'the campaign to finish',
      async () => {
        const c = await api(server, 'GET', `/api/campaigns/${id}`)
        return c.body.state === 'finished' ? c.body : undefined
      },
      120_000,
    )
    const seconds = (Date.now() - t0) / 1000
    const sipp = await callee
    t.equal(sipp.code, 0, `SIPp passed every call (${sipp.stderr.slice(-300)})`)
    t.same(done.contacts, { pending: 0, dialing: 0, done: CONTACTS, failed: 0, exhausted: 0, 'do-not-call': 0 })

    const msgs = readSippTrace(trace)
    const invites = firstInvites(msgs)
    const numbers = invites.map((m) => m.user)
    t.equal(invites.length, CONTACTS, 'SIPp received one call per contact')
    t.equal(new Set(numbers).size, CONTACTS, 'no number was called twice')
    t.ok(
      numbers.every((n) => /^\+7999000\d{4}$/.test(n ?? '')),
      `numbers dialled in the stored +7 form: ${numbers[0]}`,
    )
    const concurrency = peakConcurrency(msgs)
    // the limit holds at the sender over any 1 s; SIPp sees the INVITEs with delivery jitter, which can
    // bring four sent just over a second apart within one (a clean-clone CI run with files side by side)
    const rate = peakRate(msgs, 900)
    t.ok(concurrency <= MAX_CONCURRENT, `at most ${MAX_CONCURRENT} calls up at once on the wire: peak ${concurrency}`)
    t.ok(concurrency >= MAX_CONCURRENT - 1, `and the campaign used its concurrency: peak ${concurrency}`)
    t.ok(rate <= TRUNK_CPS, `at most ${TRUNK_CPS} INVITEs in any 0.9 s at SIPp: peak ${rate}`)
    t.comment(
      `figures: ${CONTACTS} calls in ${seconds.toFixed(1)} s; peak ${concurrency} concurrent (limit ${MAX_CONCURRENT}), peak ${rate} INVITEs/s (trunk cps ${TRUNK_CPS}), from SIPp's trace`,
    )

    const csvOut = await api(server, 'GET', `/api/campaigns/${id}/results.csv`)
    t.equal(csvOut.status, 200)
    const lines = csvOut.text.trim().split('\n')
    t.equal(lines.length, CONTACTS + 1, 'the export has a row per contact')
    t.match(lines[0], /^phone,name,state,attempts,last_result,last_status/)
    t.match(lines[0], /Компания/, 'custom columns come after')
    t.match(lines[1], /^\+79990000000,Клиент 0,done,1,answered,200,/)
    const calls = (await api(server, 'GET', '/api/calls?limit=100')).body.calls.filter((c: any) => c.direction === 'outbound')
    t.equal(calls.length, CONTACTS, 'every attempt is a call in /api/calls')
  })

  await t.test('busy: retried later by the policy; the trunk refuses us (401): the campaign pauses', async (t) => {
    // one scenario file, filled in twice: each in a folder of its own
    const refusing = (name: string, values: Record<string, string | number>) =>
      renderScenario('uas-callee-refuses.xml', mkdtempSync(path.join(dir, name)), values)
    const busyCallee = runSipp(
      refusing('busy', { RING_MS: 200, STATUS: 486, REASON: 'Busy Here' }),
      `127.0.0.1:${server.sipPort}`,
      ['-p', String(busy), '-m', '2', '-mp', '42100'],
      60_000,
    )
    const denying = runSipp(
      refusing('denies', { RING_MS: 100, STATUS: 401, REASON: 'Unauthorized' }),
      `127.0.0.1:${server.sipPort}`,
      ['-p', String(denies), '-m', '1', '-mp', '42200'],
      60_000,
    )
    await new Promise((r) => setTimeout(r, 500))
    const create = (name: string, trunks: string[], phones: string[], extra: object = {}) =>
      api(server, 'POST', '/api/campaigns', { name, trunks, maxConcurrent: 1, callingWindow: ALWAYS, contacts: phones.map((phone) => ({ phone })), ...extra })
    const b = await create('busy', ['busy'], ['+79991110001', '+79991110002'], { maxConcurrent: 2 })
    const d = await create('denied', ['denies'], ['+79992220001', '+79992220002'])
    t.equal(b.status, 201, b.text)
    t.equal(d.status, 201, d.text)
    await api(server, 'POST', `/api/campaigns/${b.body.id}/start`)
    await api(server, 'POST', `/api/campaigns/${d.body.id}/start`)
    const bc = await busyCallee
    t.equal(bc.code, 0, `SIPp answered both calls busy (${bc.stderr.slice(-300)})`)
    t.equal((await denying).code, 0, 'SIPp refused one call with 401')
    const contacts = await waitFor(
      'both busy contacts settled',
      async () => {
        const c = (await api(server, 'GET', `/api/campaigns/${b.body.id}/contacts`)).body.contacts
        return c.every((x: any) => x.state === 'pending' && x.attempts === 1) ? c : undefined
      },
      30_000,
    )
    for (const c of contacts) {
      t.match(c, { lastResult: 'busy', lastStatus: 486, lastRule: 'busy' })
      const wait = (Date.parse(c.nextAttemptAt) - Date.parse(c.updatedAt)) / 60_000
      t.equal(Math.round(wait), 15, `${c.phone} is due again in 15 minutes (the busy row)`)
    }
    const paused = await waitFor(
      'the campaign to pause',
      async () => {
        const c = (await api(server, 'GET', `/api/campaigns/${d.body.id}`)).body
        return c.state === 'paused' ? c : undefined
      },
      30_000,
    )
    t.match(paused.pausedReason, /trunk-auth.*401/)
    t.same(paused.contacts.pending, 2, 'no contact lost its turn to the refusal')
    t.ok(
      server.logs.some((l) => /campaign paused/.test(l)),
      'the pause is logged as an error for the operator',
    )
    const resumed = await api(server, 'POST', `/api/campaigns/${d.body.id}/stop`)
    t.equal(resumed.body.state, 'stopped')
  })

  await t.test('the API refuses what it cannot run, and the do-not-call list', async (t) => {
    const bad = await api(server, 'POST', '/api/campaigns', { name: 'x', trunks: ['nope'], contacts: [{ phone: '+79990000001' }] })
    t.equal(bad.status, 400)
    t.match(bad.body.error, /no trunk named "nope"/)
    const badWindow = await api(server, 'POST', '/api/campaigns', { name: 'x', callingWindow: { days: [8] }, contacts: [{ phone: '+79990000001' }] })
    t.equal(badWindow.status, 400)
    t.match(badWindow.body.error, /callingWindow/)
    const none = await api(server, 'POST', '/api/campaigns', { name: 'x', contacts: [{ phone: 'not a number' }] })
    t.equal(none.status, 400, 'no valid contact: nothing is created')
    t.equal(none.body.errors?.length, 1)
    const consent = await api(server, 'POST', '/api/campaigns', {
      name: 'с согласием',
      requireConsent: true,
      retryPolicy: { maxAttempts: 3, rules: { busy: { delayMinutes: 30 } } },
      contacts: [{ phone: '+79995550001', consent: 'да' }, { phone: '+79995550002', consent: 'нет' }, { phone: '+79995550003' }],
    })
    t.equal(consent.status, 201, consent.text)
    t.equal(consent.body.added, 1, 'a campaign that requires consent takes only the contact who gave it')
    t.same(
      consent.body.errors.map((e: any) => e.error),
      ['+79995550002: refused consent', '+79995550003: no consent recorded'],
    )
    const table = (await api(server, 'GET', `/api/campaigns/${consent.body.id}`)).body.retryTable
    t.match(
      table.find((r: any) => r.rule === 'busy'),
      { action: 'retry', delayMinutes: 30 },
      "the campaign's retry table shows its override",
    )
    t.match(table.at(-1), { rule: 'exhausted', matches: /number 3 \(maxAttempts\)/ })
    const exported = await api(server, 'GET', `/api/campaigns/${consent.body.id}/results.csv`)
    t.match(exported.text.split('\n')[1], /^\+79995550001,.*,yes,/, 'the export shows the consent')
    const noToken = await fetch(`http://127.0.0.1:${server.httpPort}/api/campaigns`)
    t.equal(noToken.status, 401, 'the campaign API needs the token')
    const added = await api(server, 'POST', '/api/do-not-call', { phone: '8 999 333-00-01', reason: 'asked by e-mail' })
    t.equal(added.status, 201)
    t.equal(added.body.phone, '+79993330001', 'kept in the form the contacts have')
    const list = (await api(server, 'GET', '/api/do-not-call')).body.numbers
    t.ok(list.some((n: any) => n.phone === '+79993330001' && n.reason === 'asked by e-mail'))
    t.equal((await api(server, 'DELETE', '/api/do-not-call/+79993330001')).status, 200)
  })

  await t.test("a campaign from the portal's leads: each called, each lead told its outcome", async (t) => {
    const leads = [1, 2, 3].map((i) => ({
      ID: 9000 + i,
      TITLE: `Заявка с сайта ${i}`,
      NAME: `Лид ${i}`,
      STATUS_ID: 'NEW',
      SOURCE_ID: 'WEBFORM',
      PHONE: [{ VALUE: `8 999 444-00-0${i}`, VALUE_TYPE: 'WORK' }],
    }))
    portal.leads.push(...leads, { ID: 9004, TITLE: 'Другой источник', STATUS_ID: 'NEW', SOURCE_ID: 'CALL', PHONE: [{ VALUE: '+79994440004' }] })
    const trace = path.join(dir, 'leads.trace')
    const scenario = answeringCallee(mkdtempSync(path.join(dir, 'leads')), 200, 2000)
    const callee = runSipp(
      scenario,
      `127.0.0.1:${server.sipPort}`,
      ['-p', String(answers), '-m', '3', '-mp', '42000', '-rtp_echo', '-trace_msg', '-message_file', trace],
      60_000,
    )
    await new Promise((r) => setTimeout(r, 500))
    const created = await api(server, 'POST', '/api/campaigns', {
      name: 'Заявки с сайта',
      trunks: ['answers'],
      callerId: '74950000000',
      maxConcurrent: 3,
      callingWindow: ALWAYS,
      fromBitrix24: { filter: { statusId: 'NEW', sourceId: 'WEBFORM' } },
    })
    t.equal(created.status, 201, created.text)
    t.equal(created.body.added, 3, 'the three leads the filter matches, not the fourth')
    const id: string = created.body.id
    await api(server, 'POST', `/api/campaigns/${id}/start`)
    const sipp = await callee
    t.equal(sipp.code, 0, `SIPp answered the three calls (${sipp.stderr.slice(-300)})`)
    t.same(
      firstInvites(readSippTrace(trace))
        .map((m) => m.user)
        .sort(),
      ['+79994440001', '+79994440002', '+79994440003'],
      'each lead called at its number',
    )
    const ours = (comment: string) => comment.includes('Campaign "Заявки с сайта"')
    const comments = await waitFor(
      'a comment on each lead',
      async () => {
        const on = leads.map((l) => portal.comments.filter((c) => c.ENTITY_TYPE === 'lead' && c.ENTITY_ID === l.ID && ours(c.COMMENT)))
        return on.every((c) => c.length === 1) ? on.flat() : undefined
      },
      30_000,
    )
    for (const c of comments) t.match(c.COMMENT, /: reached, outcome: /, `lead ${c.ENTITY_ID}: the campaign's outcome is on its timeline`)
    t.equal(portal.comments.filter((c) => c.ENTITY_ID === 9004 && ours(c.COMMENT)).length, 0, 'the lead that was not in the campaign is left alone')
    const contacts = (await api(server, 'GET', `/api/campaigns/${id}/contacts`)).body.contacts
    t.same(contacts.map((c: any) => c.fields.leadId).sort(), ['9001', '9002', '9003'], 'each contact keeps its lead id')
    const noPortal = await api(server, 'POST', '/api/campaigns', { name: 'x', fromBitrix24: { filter: { colour: 'red' } } })
    t.equal(noPortal.status, 400)
    t.match(noPortal.body.error, /colour/)
  })
})
