// The dialer on a simulated clock, with its real store (the embedded Postgres) and calls that a
// script ends: calling windows in the callee's zone, retries by the policy table, failover, the
// pause on a trunk's 401, the do-not-call list across campaigns, the campaign's concurrency, and a
// restart that settles what the previous run left dialing without calling anyone twice.
import { randomUUID } from 'node:crypto'
import pino from 'pino'
import client from 'prom-client'
import t, { type Test } from 'tap'
import type { OriginateRequest } from '../media-server/call/originate-request.ts'
import type { OriginateOptions, OriginateResult } from '../media-server/call/originator.ts'
import { tempStore } from '../test/helpers/crm-fixture.ts'
import type { CallRecordView } from './attempt-outcome.ts'
import { CampaignStore, type NewCampaign, type NewContact } from './campaign-store.ts'
import { Dialer } from './dialer.ts'
import { DEFAULT_POLICY } from './retry-policy.ts'
import type { CampaignCrmTargets } from '../crm/outbox/campaign-outcome.ts'
import { CAMPAIGN_WEBHOOK_STEP } from '../crm/outbox/webhook.ts'

/** Monday 7 December 2026, 05:30 UTC: 08:30 in Moscow, 15:30 in Vladivostok, 07:30 in Kaliningrad. */
const MONDAY_0530Z = new Date('2026-12-07T05:30:00Z')
const WEEKDAYS_9_TO_20 = { days: [1, 2, 3, 4, 5], from: '09:00', to: '20:00', holidays: [] }
const INSTANCE = 'dialer-test'

/** A call's end as the script gives it: its record, or 'hold' (live until the test ends it). */
type Script = (to: string, trunk: string | undefined) => CallRecordView | 'hold' | { refuse: OriginateResult }

const answered = (leadOutcome: string | null = 'qualified_lead'): CallRecordView => ({
  answeredAt: '2026-12-07T06:00:00Z',
  endedAt: '2026-12-07T06:01:00Z',
  result: 'completed',
  endReason: 'remote-bye',
  leadOutcome,
})
const unanswered = (result: string, status: number, phrase = ''): CallRecordView => ({
  answeredAt: null,
  endedAt: '2026-12-07T06:00:30Z',
  result,
  endReason: `${status} ${phrase}`.trim(),
  leadOutcome: null,
})

class World {
  now = new Date(MONDAY_0530Z)
  readonly placed: Array<{ id: string; to: string; trunk?: string; at: Date }> = []
  readonly records = new Map<string, CallRecordView>()
  readonly held = new Map<string, (rec: CallRecordView) => void>()
  script: Script = () => answered()

  constructor(readonly store: CampaignStore) {}

  dialer(opts: { instanceId?: string; capacity?: number } = {}): Dialer {
    return new Dialer({
      store: this.store,
      callRecord: async (id) => this.records.get(id) ?? null,
      request: (_c, contact, trunk) => ({ ok: true, request: { to: contact.phone, uri: `sip:${contact.phone}@carrier.test`, ...(trunk && { trunk }) } }),
      originate: (req, o) => this.originate(req, o),
      capacity: () => opts.capacity ?? 100,
      instanceId: opts.instanceId ?? INSTANCE,
      logger: pino({ level: 'silent' }),
      registry: new client.Registry(),
      now: () => this.now,
      tickMs: 60_000, // the test ticks by hand
      leaseMs: 30_000,
    })
  }

  private async originate(req: OriginateRequest, o: OriginateOptions): Promise<OriginateResult> {
    const what = this.script(req.to, req.trunk)
    if (typeof what === 'object' && 'refuse' in what) return what.refuse
    const id = o.id!
    this.placed.push({ id, to: req.to, trunk: req.trunk, at: new Date(this.now) })
    const end = (rec: CallRecordView) => {
      this.records.set(id, rec)
      o.onEnd?.()
    }
    if (what === 'hold') this.held.set(id, end)
    else setImmediate(() => end(what))
    return { ok: true, id }
  }

  /** One round of the dialer, and the ends of the calls it placed that the script ended at once. */
  async round(d: Dialer): Promise<void> {
    await d.tick()
    await new Promise((r) => setImmediate(r))
    await new Promise((r) => setImmediate(r))
    await d.settled()
  }

  calledTo(phone: string): number {
    return this.placed.filter((p) => p.to === phone).length
  }

  advance(minutes: number): void {
    this.now = new Date(this.now.getTime() + minutes * 60_000)
  }
}

// one embedded database for the file (opening one costs seconds); each test has its own campaigns and numbers
const driver = tempStore(t, 'voice-dialer-').then(({ store }) => store.driver)

/** `crm`: where the store tells contacts' final states (the outbox's campaign steps) */
async function world(crm?: CampaignCrmTargets): Promise<World> {
  return new World(new CampaignStore(await driver, crm))
}

function contact(phone: string, timeZone = 'Europe/Moscow'): NewContact {
  return { phone, timeZone, zoneSource: 'contact', fields: {} }
}

async function campaign(t: Test, w: World, contacts: NewContact[], extra: Partial<NewCampaign> = {}): Promise<string> {
  const id = randomUUID()
  // the database is the file's: what this test left running stops with it
  t.teardown(() => w.store.transition(id, 'stop', w.now))
  await w.store.create(
    {
      id,
      name: 'test',
      trunks: [],
      scenario: null,
      callerId: null,
      maxConcurrent: 5,
      callingWindow: WEEKDAYS_9_TO_20,
      defaultTimeZone: 'Europe/Moscow',
      retryPolicy: {},
      amd: null,
      requireConsent: false,
      ...extra,
    },
    contacts,
    w.now,
  )
  await w.store.transition(id, 'start', w.now)
  return id
}

async function contactOf(w: World, campaignId: string, phone: string) {
  const all = await w.store.contacts(campaignId, { limit: 1000 })
  return all.find((c) => c.phone === phone)!
}

t.test("calling window: each contact is called in its own zone's hours, not before", async (t) => {
  const w = await world()
  const id = await campaign(t, w, [
    contact('+74951110001', 'Europe/Moscow'),
    contact('+74232220002', 'Asia/Vladivostok'),
    contact('+74012330003', 'Europe/Kaliningrad'),
  ])
  const d = w.dialer()
  await w.round(d)
  t.same(
    w.placed.map((p) => p.to),
    ['+74232220002'],
    'at 05:30 UTC only Vladivostok (15:30) is in its window; Moscow is 08:30, Kaliningrad 07:30',
  )
  const moscow = await contactOf(w, id, '+74951110001')
  t.equal(moscow.state, 'pending')
  t.equal(moscow.attempts, 0, 'a deferral is no attempt')
  t.equal(moscow.nextAttemptAt, '2026-12-07T06:00:00.000Z', 'deferred to 09:00 Moscow time')
  w.advance(30)
  await w.round(d)
  t.equal(w.calledTo('+74951110001'), 1, 'called at 09:00 Moscow')
  t.equal(w.calledTo('+74012330003'), 0, 'Kaliningrad is still at 08:00')
  w.advance(60)
  await w.round(d)
  t.equal(w.calledTo('+74012330003'), 1, 'called at 09:00 Kaliningrad')
  t.same(await w.store.counts(id), { pending: 0, dialing: 0, done: 3, failed: 0, exhausted: 0, 'do-not-call': 0 })
  await w.round(d)
  t.equal((await w.store.get(id))?.state, 'finished', 'nothing left to call: the campaign is finished')
})

t.test('retries: busy is called again after the policy delay, and no sooner; after maxAttempts the contact is exhausted', async (t) => {
  const w = await world()
  w.now = new Date('2026-12-07T08:00:00Z') // 11:00 in Moscow
  const id = await campaign(t, w, [contact('+74951120001')], { retryPolicy: { maxAttempts: 3 } })
  w.script = () => unanswered('busy', 486, 'Busy Here')
  const d = w.dialer()
  const busyDelay = DEFAULT_POLICY.rules.busy.delayMinutes!
  await w.round(d)
  let c = await contactOf(w, id, '+74951120001')
  t.match(c, { state: 'pending', attempts: 1, lastResult: 'busy', lastStatus: 486, lastRule: 'busy' })
  t.equal(Date.parse(c.nextAttemptAt) - w.now.getTime(), busyDelay * 60_000, `next try in ${busyDelay} min`)
  w.advance(busyDelay - 1)
  await w.round(d)
  t.equal(w.calledTo('+74951120001'), 1, 'not called before the delay is over')
  w.advance(1)
  await w.round(d)
  t.equal(w.calledTo('+74951120001'), 2, 'called again once it is')
  w.advance(busyDelay)
  await w.round(d)
  c = await contactOf(w, id, '+74951120001')
  t.equal(w.calledTo('+74951120001'), 3)
  t.match(c, { state: 'exhausted', attempts: 3, lastRule: 'exhausted' })
  w.advance(24 * 60)
  await w.round(d)
  t.equal(w.calledTo('+74951120001'), 3, 'an exhausted contact is never called again')
})

t.test('answering machine: called again at another time of day; a person reached after it is done', async (t) => {
  const w = await world()
  w.now = new Date('2026-12-07T08:00:00Z') // 11:00 in Moscow
  const id = await campaign(t, w, [contact('+74951130001')], { amd: { onMachine: 'hangup' } })
  w.script = () => ({ ...answered(null), result: 'machine', endReason: 'local-bye', amd: { result: 'machine' } })
  const d = w.dialer()
  await w.round(d)
  let c = await contactOf(w, id, '+74951130001')
  const machineDelay = DEFAULT_POLICY.rules.machine.delayMinutes!
  t.match(c, { state: 'pending', attempts: 1, lastResult: 'answered', lastAmd: 'machine', lastRule: 'machine' })
  t.equal(Date.parse(c.nextAttemptAt) - w.now.getTime(), machineDelay * 60_000, `next try in ${machineDelay} min`)
  w.script = () => ({ ...answered('callback_booked'), amd: { result: 'human' } })
  w.advance(machineDelay)
  await w.round(d)
  c = await contactOf(w, id, '+74951130001')
  t.match(c, { state: 'done', attempts: 2, lastAmd: 'human', lastRule: 'answered', outcome: 'callback' })
})

t.test('our own shutdown cancels a ringing call: no attempt counted, called again a few minutes later', async (t) => {
  const w = await world()
  w.now = new Date('2026-12-07T08:00:00Z')
  const id = await campaign(t, w, [contact('+74951160001')])
  w.script = () => unanswered('failed', 487, 'cancelled: the server stopped')
  await w.round(w.dialer())
  const c = await contactOf(w, id, '+74951160001')
  t.match(c, { state: 'pending', attempts: 0, lastRule: 'interrupted' })
  t.equal(Date.parse(c.nextAttemptAt) - w.now.getTime(), DEFAULT_POLICY.rules.interrupted.delayMinutes! * 60_000)
})

t.test('outcomes: 404 is never retried; 503 fails over to the next trunk uncounted; 401 pauses the campaign', async (t) => {
  const w = await world()
  w.now = new Date('2026-12-07T08:00:00Z')
  w.script = (to, trunk) => {
    if (to === '+74951110404') return unanswered('rejected', 404, 'Not Found')
    if (to === '+74951110503') return trunk === 'a' ? unanswered('failed', 503, 'Service Unavailable') : answered()
    return unanswered('rejected', 401, 'Unauthorized')
  }
  const id = await campaign(t, w, [contact('+74951110404'), contact('+74951110503')], { trunks: ['a', 'b'] })
  const d = w.dialer()
  await w.round(d)
  t.match(await contactOf(w, id, '+74951110404'), { state: 'failed', lastStatus: 404, attempts: 1 })
  let failover = await contactOf(w, id, '+74951110503')
  t.match(failover, { state: 'pending', trunkIndex: 1, attempts: 0 }, 'the 503 did not count, the next trunk is due')
  await w.round(d)
  failover = await contactOf(w, id, '+74951110503')
  t.match(failover, { state: 'done', attempts: 1 })
  t.same(
    w.placed.filter((p) => p.to === '+74951110503').map((p) => p.trunk),
    ['a', 'b'],
  )

  const paused = await campaign(t, w, [contact('+74951110401'), contact('+74951110402')], { maxConcurrent: 1 })
  await w.round(d)
  const row = await w.store.get(paused)
  t.equal(row?.state, 'paused', 'a 401 from the trunk pauses the campaign')
  t.match(row?.pausedReason, /trunk-auth/)
  t.match(await contactOf(w, paused, '+74951110401'), { state: 'pending', attempts: 0 }, 'the refused call is not the contact’s attempt')
  await w.round(d)
  t.equal(w.calledTo('+74951110402'), 0, 'a paused campaign places no call')
})

t.test('do-not-call: a callee who asked is never called again, by this campaign or another', async (t) => {
  const w = await world()
  w.now = new Date('2026-12-07T08:00:00Z')
  w.script = () => answered('do_not_call')
  const first = await campaign(t, w, [contact('+74951140001')])
  const d = w.dialer()
  await w.round(d)
  t.match(await contactOf(w, first, '+74951140001'), { state: 'do-not-call', outcome: 'do-not-call' })
  t.ok(await w.store.isDoNotCall('+74951140001'), 'the number is on the list')
  const second = await campaign(t, w, [contact('+74951140001'), contact('+74951140002')])
  w.script = () => answered()
  await w.round(d)
  t.equal(w.calledTo('+74951140001'), 1, 'the second campaign does not call it')
  t.equal(w.calledTo('+74951140002'), 1)
  t.match(await contactOf(w, second, '+74951140001'), { state: 'do-not-call', attempts: 0 })
})

t.test('CRM: a final state is enqueued once, with the write that made it; a contact still to be called is not', async (t) => {
  const w = await world({ webhookUrl: 'http://crm.test/hook' })
  w.now = new Date('2026-12-07T08:00:00Z')
  await w.store.addDoNotCall('+74951150004', 'asked on an earlier call', w.now)
  w.script = (to) =>
    to === '+74951150001' ? answered('callback_booked') : to === '+74951150002' ? unanswered('rejected', 404, 'Not Found') : unanswered('busy', 486)
  const id = await campaign(
    t,
    w,
    ['+74951150001', '+74951150002', '+74951150003', '+74951150004'].map((p) => contact(p)),
  )
  const d = w.dialer()
  await w.round(d)
  await w.round(d)
  const { rows } = await (
    await driver
  ).query<{ step: string; target: string; payload: { contact: { phone: string }; state: string; outcome: string | null; rule: string } }>(
    `SELECT step, target, payload FROM crm_outbox WHERE payload->'campaign'->>'id' = $1 ORDER BY payload->'contact'->>'phone'`,
    [id],
  )
  t.same(
    rows.map((r) => [r.step, r.target, r.payload.contact.phone, r.payload.state, r.payload.outcome, r.payload.rule]),
    [
      [CAMPAIGN_WEBHOOK_STEP, 'http://crm.test/hook', '+74951150001', 'done', 'callback', 'answered'],
      [CAMPAIGN_WEBHOOK_STEP, 'http://crm.test/hook', '+74951150002', 'failed', null, 'invalid-number'],
      [CAMPAIGN_WEBHOOK_STEP, 'http://crm.test/hook', '+74951150004', 'do-not-call', null, 'do-not-call-list'],
    ],
    'one step per final state; the busy number, still to be called, has none',
  )
})

t.test('concurrency: never more calls at once than the campaign allows', async (t) => {
  const w = await world()
  w.now = new Date('2026-12-07T08:00:00Z')
  w.script = () => 'hold'
  const phones = Array.from({ length: 7 }, (_, i) => `+7495115000${i}`)
  await campaign(
    t,
    w,
    phones.map((p) => contact(p)),
    { maxConcurrent: 3 },
  )
  const d = w.dialer()
  await w.round(d)
  await w.round(d)
  t.equal(w.placed.length, 3, 'three calls, however many rounds')
  const [first] = w.held.values()
  first(answered())
  await w.round(d)
  t.equal(w.placed.length, 4, 'one ended, one more started')
  for (const end of [...w.held.values()].slice(1)) end(answered())
  w.held.clear()
  const capped = w.dialer({ instanceId: 'capped', capacity: 0 })
  await w.round(capped)
  t.equal(w.placed.length, 4, 'an instance at capacity starts none')
  await d.stop()
})

t.test('restart: what the last run left dialing is settled from its call records; nobody is called twice', async (t) => {
  const w = await world()
  w.now = new Date('2026-12-07T08:00:00Z')
  w.script = () => 'hold'
  const phones = ['+74951160001', '+74951160002', '+74951160003', '+74951160004']
  const id = await campaign(
    t,
    w,
    phones.map((p) => contact(p)),
    { maxConcurrent: 3 },
  )
  const before = w.dialer()
  await w.round(before)
  await before.stop() // the process dies: three calls were out, their ends never settled
  const [a, b, c] = w.placed
  w.records.set(a.id, answered()) // finished before the crash
  w.records.set(b.id, { ...answered(), endedAt: null, leadOutcome: null }) // answered, cut by the crash
  // c left no record at all (the INVITE went out, the row was never written)
  // and the fourth contact was claimed, but the process died before its attempt was written
  await w.store.claim(id, INSTANCE, randomUUID(), w.now, 30_000)
  t.equal((await w.store.counts(id)).dialing, 4)

  w.script = () => answered()
  const after = w.dialer()
  await after.start()
  t.teardown(() => after.stop())
  t.match(await contactOf(w, id, a.to), { state: 'done', attempts: 1 })
  t.match(await contactOf(w, id, b.to), { state: 'done', attempts: 1 }, 'answered before the crash: reached, not called again')
  const lost = await contactOf(w, id, c.to)
  t.equal(lost.state, 'pending')
  t.equal(lost.attempts, 1, 'the call that left no record counts')
  t.ok(Date.parse(lost.nextAttemptAt) > w.now.getTime(), 'and is retried later, not at once')
  t.match(await contactOf(w, id, phones[3]), { state: 'pending', attempts: 0 }, 'no attempt written: it never rang, so it is simply due again')
  await w.round(after)
  t.same(
    phones.map((p) => w.calledTo(p)),
    [1, 1, 1, 1],
    'the never-rung contact is called now; nobody twice',
  )
})

t.test("another instance's contacts come back only when its lease runs out", async (t) => {
  const w = await world()
  w.now = new Date('2026-12-07T08:00:00Z')
  w.script = () => 'hold'
  const id = await campaign(t, w, [contact('+74951170001')])
  const gone = w.dialer({ instanceId: 'gone' })
  await w.round(gone)
  await gone.stop()
  const [call] = w.placed
  w.records.set(call.id, unanswered('no-answer', 487, 'ring timeout'))
  const other = w.dialer({ instanceId: 'other' })
  await w.round(other)
  t.equal((await contactOf(w, id, call.to)).state, 'dialing', 'within the lease: still the other instance’s')
  w.advance(1)
  await w.round(other)
  const c = await contactOf(w, id, call.to)
  t.match(c, { state: 'pending', lastResult: 'no-answer', lastStatus: 487 }, 'after it: settled from the record')
  t.equal(w.calledTo(call.to), 1)
})
