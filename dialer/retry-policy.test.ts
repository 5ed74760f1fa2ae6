import t from 'tap'
import { type AttemptOutcome, DEFAULT_POLICY, decide, describePolicy, parseRetryPolicy } from './retry-policy.ts'

// One vector per row of the default table: the outcome, the row it must hit and what that row does.
const ROWS: Array<[AttemptOutcome, string, string, number | undefined, boolean]> = [
  [{ sip: 'answered', status: 200, amd: 'human', conversation: 'do-not-call' }, 'do-not-call', 'never', undefined, true],
  [{ sip: 'answered', amd: 'machine', conversation: 'do-not-call' }, 'do-not-call', 'never', undefined, true],
  [{ sip: 'answered', amd: 'human', conversation: 'wrong-number' }, 'wrong-number', 'never', undefined, true],
  [{ sip: 'answered', status: 200, amd: 'machine' }, 'machine', 'retry', 180, true],
  [{ sip: 'answered', amd: 'human', conversation: 'no-input' }, 'no-input', 'retry', 120, true],
  [{ sip: 'answered', amd: 'human', conversation: 'lead' }, 'answered', 'done', undefined, true],
  [{ sip: 'answered', amd: 'human', conversation: 'callback' }, 'answered', 'done', undefined, true],
  [{ sip: 'answered', amd: 'human', conversation: 'not-interested' }, 'answered', 'done', undefined, true],
  [{ sip: 'answered', amd: 'human', conversation: 'transferred' }, 'answered', 'done', undefined, true],
  [{ sip: 'answered', amd: 'human', conversation: 'caller-hangup' }, 'answered', 'done', undefined, true],
  [{ sip: 'answered', amd: 'human', conversation: 'some-scenario-outcome' }, 'answered', 'done', undefined, true],
  [{ sip: 'answered', amd: 'unknown' }, 'answered', 'done', undefined, true],
  [{ sip: 'failed', status: 487, interrupted: true }, 'interrupted', 'retry', 5, false],
  [{ sip: 'rejected', status: 401 }, 'trunk-auth', 'pause-campaign', undefined, false],
  [{ sip: 'rejected', status: 402 }, 'trunk-auth', 'pause-campaign', undefined, false],
  [{ sip: 'rejected', status: 403 }, 'trunk-auth', 'pause-campaign', undefined, false],
  [{ sip: 'rejected', status: 407 }, 'trunk-auth', 'pause-campaign', undefined, false],
  [{ sip: 'failed', status: 503 }, 'trunk-error', 'failover', undefined, false],
  [{ sip: 'rejected', status: 500 }, 'trunk-error', 'failover', undefined, false],
  [{ sip: 'failed' }, 'no-response', 'failover', undefined, false],
  [{ sip: 'busy', status: 486 }, 'busy', 'retry', 15, true],
  [{ sip: 'rejected', status: 600 }, 'busy', 'retry', 15, true],
  [{ sip: 'busy' }, 'busy', 'retry', 15, true],
  [{ sip: 'no-answer', status: 487 }, 'no-answer', 'retry', 60, true],
  [{ sip: 'rejected', status: 408 }, 'no-answer', 'retry', 60, true],
  [{ sip: 'no-answer' }, 'no-answer', 'retry', 60, true],
  [{ sip: 'rejected', status: 480 }, 'unavailable', 'retry', 30, true],
  [{ sip: 'rejected', status: 404 }, 'invalid-number', 'never', undefined, true],
  [{ sip: 'rejected', status: 410 }, 'invalid-number', 'never', undefined, true],
  [{ sip: 'rejected', status: 484 }, 'invalid-number', 'never', undefined, true],
  [{ sip: 'rejected', status: 604 }, 'invalid-number', 'never', undefined, true],
  [{ sip: 'rejected', status: 603 }, 'declined', 'never', undefined, true],
  [{ sip: 'rejected', status: 488 }, 'other-failure', 'retry', 60, true],
  [{ sip: 'rejected' }, 'other-failure', 'retry', 60, true],
]

t.test('every row of the default table', async (t) => {
  for (const [outcome, rule, action, delayMinutes, countsAsAttempt] of ROWS) {
    const d = decide(DEFAULT_POLICY, outcome, 0)
    t.same(
      { rule: d.rule, action: d.action, delayMinutes: d.delayMinutes, countsAsAttempt: d.countsAsAttempt },
      { rule, action, delayMinutes, countsAsAttempt },
      JSON.stringify(outcome),
    )
    t.match(d.reason, rule)
  }
  const hit = new Set(ROWS.map((r) => r[1]))
  t.same(
    describePolicy(DEFAULT_POLICY)
      .map((r) => r.rule)
      .filter((r) => r !== 'exhausted' && !hit.has(r)),
    [],
    'every row has a vector here',
  )
})

t.test('maxAttempts: a retry becomes exhausted when the counted attempt reaches the limit', async (t) => {
  const busy: AttemptOutcome = { sip: 'busy', status: 486 }
  t.equal(decide(DEFAULT_POLICY, busy, 3).action, 'retry', 'attempt 4 of 5')
  const last = decide(DEFAULT_POLICY, busy, 4)
  t.same({ rule: last.rule, action: last.action, delayMinutes: last.delayMinutes }, { rule: 'exhausted', action: 'never', delayMinutes: undefined })
  t.match(last.reason, /busy .*5 of 5/)
  t.equal(decide(DEFAULT_POLICY, { sip: 'answered', amd: 'human', conversation: 'lead' }, 4).action, 'done', 'a non-retry is not exhausted')
  t.equal(decide(DEFAULT_POLICY, { sip: 'failed', status: 502 }, 4).action, 'failover', 'an attempt that does not count does not exhaust')
})

t.test('parseRetryPolicy merges overrides over the defaults', async (t) => {
  t.equal(parseRetryPolicy(undefined), DEFAULT_POLICY)
  const p = parseRetryPolicy({
    maxAttempts: 3,
    rules: {
      declined: { action: 'retry', delayMinutes: 1440 },
      busy: { delayMinutes: 5 },
      machine: { action: 'never' },
      'trunk-error': { countsAsAttempt: true },
    },
  })
  t.equal(p.maxAttempts, 3)
  t.same(p.rules.declined, { action: 'retry', delayMinutes: 1440, countsAsAttempt: true })
  t.same(p.rules.busy, { action: 'retry', delayMinutes: 5, countsAsAttempt: true })
  t.same(p.rules.machine, { action: 'never', countsAsAttempt: true }, 'the default delay goes with the default action')
  t.same(p.rules['trunk-error'], { action: 'failover', countsAsAttempt: true })
  t.same(p.rules['no-answer'], DEFAULT_POLICY.rules['no-answer'], 'untouched rows keep the default')
  t.same(DEFAULT_POLICY.rules.busy, { action: 'retry', delayMinutes: 15, countsAsAttempt: true }, 'the defaults are not mutated')
  const d = decide(p, { sip: 'rejected', status: 603 }, 0)
  t.same([d.rule, d.action, d.delayMinutes], ['declined', 'retry', 1440])
  t.equal(decide(p, { sip: 'busy' }, 2).rule, 'exhausted', 'the lower maxAttempts applies')

  const listed = describePolicy(p).find((r) => r.rule === 'busy')!
  t.same(listed.delayMinutes, 5)
  t.match(listed.matches, '486')
})

t.test('parseRetryPolicy rejects bad input with a message naming the key', async (t) => {
  const bad: Array<[unknown, RegExp]> = [
    [[], /expected an object/],
    [{ maxAtempts: 3 }, /unknown key 'maxAtempts'/],
    [{ maxAttempts: 0 }, /maxAttempts must be an integer from 1/],
    [{ maxAttempts: 2.5 }, /maxAttempts/],
    [{ rules: [] }, /rules must be an object/],
    [{ rules: { bussy: {} } }, /unknown rule 'bussy' \(known: do-not-call, .*busy/],
    [{ rules: { busy: 15 } }, /rule 'busy': expected an object/],
    [{ rules: { busy: { delay: 15 } } }, /rule 'busy': unknown key 'delay'/],
    [{ rules: { busy: { action: 'later' } } }, /action must be one of done, retry/],
    [{ rules: { busy: { delayMinutes: -1 } } }, /delayMinutes must be a number of minutes above 0/],
    [{ rules: { busy: { delayMinutes: '15' } } }, /delayMinutes must be/],
    [{ rules: { busy: { countsAsAttempt: 'no' } } }, /countsAsAttempt must be true or false/],
    [{ rules: { declined: { action: 'retry' } } }, /rule 'declined': action 'retry' needs delayMinutes/],
    [{ rules: { busy: { action: 'never', delayMinutes: 10 } } }, /delayMinutes applies only to action 'retry'/],
  ]
  for (const [json, message] of bad) t.throws(() => parseRetryPolicy(json), message, JSON.stringify(json))
})
