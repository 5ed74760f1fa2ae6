// What a campaign does with a contact after one call attempt: the policy table by outcome.
// Pure: the runner feeds it the attempt's outcome and the count of attempts so far and acts on the Decision.

/** What one attempt ended with, as the SIP leg, answering-machine detection and the conversation saw it. */
export interface AttemptOutcome {
  sip: 'answered' | 'busy' | 'no-answer' | 'rejected' | 'failed'
  /** The SIP final status of the INVITE, when there was one. */
  status?: number
  /** our own shutdown cancelled the INVITE before an answer: nothing the callee did */
  interrupted?: boolean
  amd?: 'human' | 'machine' | 'unknown'
  /** The dialog's outcome; any other string is treated as a finished conversation. */
  conversation?: 'lead' | 'callback' | 'not-interested' | 'do-not-call' | 'wrong-number' | 'transferred' | 'caller-hangup' | 'no-input' | (string & {})
}

export type Action = 'done' | 'retry' | 'never' | 'pause-campaign' | 'failover'

export interface Decision {
  /** The table row that decided ('exhausted' when a retry was due but maxAttempts is reached). */
  rule: string
  /**
   * done: the contact is finished (reached); retry: call again after delayMinutes; never: do not call again
   * (invalid number, declined, do-not-call, exhausted); pause-campaign: the trunk refuses us, stop and alert;
   * failover: place the same attempt on the next trunk now.
   */
  action: Action
  delayMinutes?: number
  /** Whether this attempt counts towards maxAttempts (trunk faults are ours, not the callee's). */
  countsAsAttempt: boolean
  reason: string
}

/** One row's settings; delayMinutes is present exactly when action is 'retry'. */
export interface RuleSettings {
  action: Action
  delayMinutes?: number
  countsAsAttempt: boolean
}

/** A campaign's change to one row, merged over the default. */
export type RuleOverride = Partial<RuleSettings>

interface Row {
  name: string
  /** For people: what the row matches (listed in the README). */
  matches: string
  test: (o: AttemptOutcome) => boolean
  defaults: RuleSettings
}

const statusIn =
  (...codes: number[]) =>
  (o: AttemptOutcome) =>
    o.status !== undefined && codes.includes(o.status)
const answered = (o: AttemptOutcome) => o.sip === 'answered'
const retry = (delayMinutes: number): RuleSettings => ({ action: 'retry', delayMinutes, countsAsAttempt: true })
const final = (action: 'done' | 'never'): RuleSettings => ({ action, countsAsAttempt: true })

// First match wins. Answered rows come first (a 200 carries no failure status); among them the callee's own
// words (do-not-call, wrong number) outrank what AMD guessed.
const TABLE: readonly Row[] = [
  {
    name: 'do-not-call',
    matches: "answered, conversation 'do-not-call' (the runner puts the number on the do-not-call list)",
    test: (o) => answered(o) && o.conversation === 'do-not-call',
    defaults: final('never'),
  },
  {
    name: 'wrong-number',
    matches: "answered, conversation 'wrong-number'",
    test: (o) => answered(o) && o.conversation === 'wrong-number',
    defaults: final('never'),
  },
  {
    name: 'machine',
    matches: "answered, AMD 'machine'",
    test: (o) => answered(o) && o.amd === 'machine',
    // Three hours later lands at another time of day, when a person may be at the phone.
    defaults: retry(180),
  },
  {
    name: 'no-input',
    matches: "answered, conversation 'no-input' (nobody spoke: a silent line or a machine AMD missed)",
    test: (o) => answered(o) && o.conversation === 'no-input',
    defaults: retry(120),
  },
  {
    name: 'answered',
    matches: 'answered, any other conversation outcome (lead, callback, not-interested, transferred, caller-hangup, none) or AMD unknown',
    test: answered,
    // A callback is done here too: the runner books it from the conversation, not from the retry table.
    defaults: final('done'),
  },
  {
    name: 'interrupted',
    matches: 'not answered, the INVITE cancelled by our own shutdown (end reason "487 cancelled: the server stopped")',
    test: (o) => o.sip !== 'answered' && o.interrupted === true,
    // the phone may have rung a moment: a few minutes' grace, and the callee is owed no attempt
    defaults: { action: 'retry', delayMinutes: 5, countsAsAttempt: false },
  },
  {
    name: 'trunk-auth',
    matches: 'SIP 401, 402, 403, 407: the trunk refuses our credentials or account',
    test: statusIn(401, 402, 403, 407),
    defaults: { action: 'pause-campaign', countsAsAttempt: false },
  },
  {
    name: 'trunk-error',
    matches: 'SIP 5xx: the trunk or the network behind it failed',
    test: (o) => o.status !== undefined && o.status >= 500 && o.status <= 599,
    defaults: { action: 'failover', countsAsAttempt: false },
  },
  {
    name: 'no-response',
    matches: "sip 'failed' with no final status: the trunk never answered the INVITE (timeout, transport error)",
    test: (o) => o.sip === 'failed' && o.status === undefined,
    defaults: { action: 'failover', countsAsAttempt: false },
  },
  {
    name: 'busy',
    matches: "SIP 486, 600, or sip 'busy'",
    test: (o) => o.sip === 'busy' || statusIn(486, 600)(o),
    defaults: retry(15),
  },
  {
    name: 'no-answer',
    matches: "SIP 408, 487 (our ring timeout cancelled it), or sip 'no-answer'",
    test: (o) => o.sip === 'no-answer' || statusIn(408, 487)(o),
    defaults: retry(60),
  },
  {
    name: 'unavailable',
    matches: 'SIP 480: the callee is temporarily unavailable (phone off, out of coverage)',
    test: statusIn(480),
    defaults: retry(30),
  },
  {
    name: 'invalid-number',
    matches: 'SIP 404, 410, 484, 604: the number does not exist',
    test: statusIn(404, 410, 484, 604),
    defaults: final('never'),
  },
  {
    // Never by default: the callee pressed "decline" on this call; calling again is what gets numbers reported
    // as spam. A campaign that wants one more try sets { "action": "retry", "delayMinutes": 1440 }.
    name: 'declined',
    matches: 'SIP 603: the callee declined',
    test: statusIn(603),
    defaults: final('never'),
  },
  {
    name: 'other-failure',
    matches: "any other failure: another 4xx or 6xx status, or sip 'rejected' with no status",
    test: () => true,
    defaults: retry(60),
  },
]

export interface RetryPolicy {
  /** Every row of the table by name, with the campaign's overrides already merged. */
  rules: Record<string, RuleSettings>
  /** Counted attempts after which the contact is exhausted (never called again). */
  maxAttempts: number
}

export const DEFAULT_POLICY: RetryPolicy = Object.freeze({
  rules: Object.freeze(Object.fromEntries(TABLE.map((row) => [row.name, Object.freeze({ ...row.defaults })]))),
  maxAttempts: 5,
})

const ACTIONS: readonly Action[] = ['done', 'retry', 'never', 'pause-campaign', 'failover']
const MAX_DELAY_MINUTES = 30 * 24 * 60
const MAX_ATTEMPTS_LIMIT = 100

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * A campaign's retry policy from its JSON: `{ "maxAttempts"?: n, "rules"?: { "<row>": { "action"?, "delayMinutes"?,
 * "countsAsAttempt"? } } }`, merged over DEFAULT_POLICY. Throws an Error naming the offending key.
 */
export function parseRetryPolicy(json: unknown): RetryPolicy {
  if (json === undefined || json === null) return DEFAULT_POLICY
  if (!isObject(json)) throw new Error('retry policy: expected an object { maxAttempts?, rules? }')
  for (const key of Object.keys(json)) {
    if (key !== 'maxAttempts' && key !== 'rules') throw new Error(`retry policy: unknown key '${key}' (known: maxAttempts, rules)`)
  }
  let maxAttempts = DEFAULT_POLICY.maxAttempts
  if (json.maxAttempts !== undefined) {
    const n = json.maxAttempts
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_ATTEMPTS_LIMIT) {
      throw new Error(`retry policy: maxAttempts must be an integer from 1 to ${MAX_ATTEMPTS_LIMIT}, got ${JSON.stringify(n)}`)
    }
    maxAttempts = n
  }
  const rules: Record<string, RuleSettings> = { ...DEFAULT_POLICY.rules }
  if (json.rules !== undefined) {
    if (!isObject(json.rules)) throw new Error('retry policy: rules must be an object keyed by rule name')
    for (const [name, override] of Object.entries(json.rules)) {
      const base = DEFAULT_POLICY.rules[name]
      if (!base) throw new Error(`retry policy: unknown rule '${name}' (known: ${TABLE.map((r) => r.name).join(', ')})`)
      rules[name] = mergeRule(name, base, override)
    }
  }
  return { rules, maxAttempts }
}

function mergeRule(name: string, base: RuleSettings, override: unknown): RuleSettings {
  const where = `retry policy: rule '${name}'`
  if (!isObject(override)) throw new Error(`${where}: expected an object { action?, delayMinutes?, countsAsAttempt? }`)
  for (const key of Object.keys(override)) {
    if (key !== 'action' && key !== 'delayMinutes' && key !== 'countsAsAttempt') throw new Error(`${where}: unknown key '${key}'`)
  }
  const { action = base.action, countsAsAttempt = base.countsAsAttempt, delayMinutes } = override
  if (typeof action !== 'string' || !ACTIONS.includes(action as Action)) {
    throw new Error(`${where}: action must be one of ${ACTIONS.join(', ')}, got ${JSON.stringify(action)}`)
  }
  if (typeof countsAsAttempt !== 'boolean') throw new Error(`${where}: countsAsAttempt must be true or false`)
  if (action !== 'retry') {
    if (delayMinutes !== undefined) throw new Error(`${where}: delayMinutes applies only to action 'retry', not '${action}'`)
    return { action: action as Action, countsAsAttempt }
  }
  const delay = delayMinutes ?? base.delayMinutes
  if (delay === undefined) throw new Error(`${where}: action 'retry' needs delayMinutes`)
  if (typeof delay !== 'number' || !Number.isFinite(delay) || delay <= 0 || delay > MAX_DELAY_MINUTES) {
    throw new Error(`${where}: delayMinutes must be a number of minutes above 0 and at most ${MAX_DELAY_MINUTES}, got ${JSON.stringify(delay)}`)
  }
  return { action: 'retry', delayMinutes: delay, countsAsAttempt }
}

/** The decision for one attempt; attemptsSoFar counts the earlier attempts that counted, not this one. */
export function decide(policy: RetryPolicy, outcome: AttemptOutcome, attemptsSoFar: number): Decision {
  const row = TABLE.find((r) => r.test(outcome))!
  const settings = policy.rules[row.name] ?? row.defaults
  const what = describeOutcome(outcome)
  const used = attemptsSoFar + (settings.countsAsAttempt ? 1 : 0)
  if (settings.action === 'retry' && used >= policy.maxAttempts) {
    return {
      rule: 'exhausted',
      action: 'never',
      countsAsAttempt: settings.countsAsAttempt,
      reason: `${row.name} (${what}) would retry, but ${used} of ${policy.maxAttempts} attempts are used`,
    }
  }
  return {
    rule: row.name,
    action: settings.action,
    ...(settings.action === 'retry' ? { delayMinutes: settings.delayMinutes } : {}),
    countsAsAttempt: settings.countsAsAttempt,
    reason: `${row.name}: ${what}`,
  }
}

function describeOutcome(o: AttemptOutcome): string {
  const parts: string[] = [o.sip]
  if (o.status !== undefined) parts.push(String(o.status))
  if (o.amd !== undefined) parts.push(`amd ${o.amd}`)
  if (o.conversation !== undefined) parts.push(`conversation ${o.conversation}`)
  return parts.join(', ')
}

export interface PolicyRow {
  rule: string
  matches: string
  action: Action
  delayMinutes?: number
  countsAsAttempt: boolean
}

/** The table in match order as a policy sets it, for the README and the campaign API; ends with the exhaustion row. */
export function describePolicy(policy: RetryPolicy): PolicyRow[] {
  const rows: PolicyRow[] = TABLE.map((row) => ({ rule: row.name, matches: row.matches, ...(policy.rules[row.name] ?? row.defaults) }))
  rows.push({
    rule: 'exhausted',
    matches: `a row says retry, but the attempt that counts would be number ${policy.maxAttempts} (maxAttempts) or more`,
    action: 'never',
    countsAsAttempt: true,
  })
  return rows
}
