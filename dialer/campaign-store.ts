import type { SqlDriver, SqlExecutor } from '../crm/sql-driver.ts'
import { enqueueCampaignOutcome, type CampaignCrmTargets } from '../crm/outbox/campaign-outcome.ts'
import type { AmdPolicy } from './amd/amd-screen.ts'

export type CampaignState = 'draft' | 'running' | 'paused' | 'stopped' | 'finished'
export type ContactState = 'pending' | 'dialing' | 'done' | 'failed' | 'exhausted' | 'do-not-call'
export const CONTACT_STATES: readonly ContactState[] = ['pending', 'dialing', 'done', 'failed', 'exhausted', 'do-not-call']

/** A campaign as created: its window and retry policy are stored as given (checked by the API). */
export interface NewCampaign {
  id: string
  name: string
  trunks: string[]
  scenario: string | null
  callerId: string | null
  maxConcurrent: number
  callingWindow: unknown
  defaultTimeZone: string
  retryPolicy: unknown
  amd: AmdPolicy | null
  /** only contacts whose consent is recorded are taken (the API refuses the others) */
  requireConsent: boolean
}

/** Timestamps are ISO 8601 strings. */
export interface Campaign extends NewCampaign {
  state: CampaignState
  pausedReason: string | null
  createdAt: string
  updatedAt: string
  startedAt: string | null
  finishedAt: string | null
}

/** A contact to store: the zone it is called in is resolved before (contact, number, default). */
export interface NewContact {
  phone: string
  name?: string
  timeZone: string
  zoneSource: string
  region?: string
  /** consent to be called as imported; absent: not recorded */
  consent?: boolean
  fields: Record<string, string>
}

export interface Contact extends NewContact {
  id: string
  campaignId: string
  state: ContactState
  attempts: number
  trunkIndex: number
  nextAttemptAt: string
  lastCallId: string | null
  lastResult: string | null
  lastStatus: number | null
  lastAmd: string | null
  lastRule: string | null
  outcome: string | null
  updatedAt: string
}

/** A contact this instance holds while it is being called (the row's lease is this instance's). */
export interface Claimed extends Contact {
  /** the id the call will have: written on the row before any INVITE */
  callId: string
}

/** What one attempt came to, as the contact's row and the attempt's row keep it. */
export interface AttemptRecord {
  sipResult: string
  sipStatus: number | null
  amd: string | null
  conversation: string | null
  rule: string
  action: string
}

/** The contact's next state after an attempt. */
export interface ContactNext {
  state: ContactState
  /** when it may be called again (pending only) */
  nextAttemptAt?: Date
  trunkIndex: number
  /** the attempt did not count (a trunk's 5xx, a refusal before the INVITE): attempts goes back down */
  uncount: boolean
  /** the callee asked never to be called: the number goes on the do-not-call list */
  doNotCall?: string
}

/** A contact left dialing by an instance that stopped: what its last attempt left behind. */
export interface Orphan {
  contact: Contact
  /** the attempt's row was written: its INVITE may have gone out */
  attempted: boolean
}

interface CampaignRow {
  id: string
  name: string
  state: CampaignState
  trunks: string[]
  scenario: string | null
  caller_id: string | null
  max_concurrent: number
  calling_window: unknown
  default_time_zone: string
  retry_policy: unknown
  amd: AmdPolicy | null
  require_consent: boolean
  paused_reason: string | null
  created_at: Date
  updated_at: Date
  started_at: Date | null
  finished_at: Date | null
}

interface ContactRow {
  id: string | number
  campaign_id: string
  phone: string
  name: string | null
  time_zone: string
  zone_source: string
  region: string | null
  consent: boolean | null
  fields: Record<string, string>
  state: ContactState
  attempts: number
  trunk_index: number
  next_attempt_at: Date
  last_call_id: string | null
  last_result: string | null
  last_status: number | null
  last_amd: string | null
  last_rule: string | null
  outcome: string | null
  updated_at: Date
}

/** The contact's campaign's name, next to a contact row that UPDATE ... RETURNING gives. */
const CAMPAIGN_NAME = `(SELECT name FROM campaigns WHERE campaigns.id = campaign_contacts.campaign_id) AS campaign_name`
const CONTACT_COLUMNS = `id, campaign_id, phone, name, time_zone, zone_source, region, consent, fields, state, attempts, trunk_index, next_attempt_at,
  last_call_id, last_result, last_status, last_amd, last_rule, outcome, updated_at`

/** Rows per INSERT: one statement of jsonb_to_recordset each, so 100,000 contacts are 100 statements. */
const INSERT_CHUNK = 1000

/** The state changes an operator may ask for, from the states each is allowed in. */
export const TRANSITIONS = {
  start: { from: ['draft'], to: 'running' },
  pause: { from: ['running'], to: 'paused' },
  resume: { from: ['paused'], to: 'running' },
  stop: { from: ['draft', 'running', 'paused'], to: 'stopped' },
} as const satisfies Record<string, { from: readonly CampaignState[]; to: CampaignState }>
export type CampaignAction = keyof typeof TRANSITIONS

/**
 * Campaigns, their contacts and the do-not-call list. Every time is the caller's clock (`at`), not
 * the database's: the dialer runs on a clock a test can set. Several instances on one Postgres
 * claim contacts side by side (SKIP LOCKED); a contact is held by one instance's lease while it
 * is called, and the call's id is on the row before its INVITE.
 */
export class CampaignStore {
  /** `crm`: where a contact's final state is told (the outbox's campaign steps); none: nowhere */
  constructor(
    private readonly db: SqlDriver,
    private readonly crm: CampaignCrmTargets = {},
  ) {}

  /** The campaign and its contacts (due from `at`), in one transaction; phones already in it are skipped. */
  async create(c: NewCampaign, contacts: NewContact[], at: Date): Promise<{ campaign: Campaign; added: number }> {
    return this.db.transaction(async (tx) => {
      const { rows } = await tx.query<CampaignRow>(
        `INSERT INTO campaigns (id, name, trunks, scenario, caller_id, max_concurrent, calling_window, default_time_zone, retry_policy, amd, require_consent,
                                created_at, updated_at)
         VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7::jsonb, $8, $9::jsonb, $10::jsonb, $12, $11, $11) RETURNING *`,
        [
          c.id,
          c.name,
          JSON.stringify(c.trunks),
          c.scenario,
          c.callerId,
          c.maxConcurrent,
          JSON.stringify(c.callingWindow),
          c.defaultTimeZone,
          JSON.stringify(c.retryPolicy ?? {}),
          c.amd ? JSON.stringify(c.amd) : null,
          at,
          c.requireConsent,
        ],
      )
      const added = await insertContacts(tx, c.id, contacts, at)
      return { campaign: toCampaign(rows[0]), added }
    })
  }

  /** More contacts for a campaign that is not over; phones already in it are skipped. */
  async addContacts(campaignId: string, contacts: NewContact[], at: Date): Promise<number> {
    return this.db.transaction((tx) => insertContacts(tx, campaignId, contacts, at))
  }

  async get(id: string): Promise<Campaign | null> {
    const { rows } = await this.db.query<CampaignRow>('SELECT * FROM campaigns WHERE id = $1', [id])
    return rows[0] ? toCampaign(rows[0]) : null
  }

  /** Newest first. */
  async list(limit = 100): Promise<Campaign[]> {
    const { rows } = await this.db.query<CampaignRow>('SELECT * FROM campaigns ORDER BY created_at DESC, id LIMIT $1', [limit])
    return rows.map(toCampaign)
  }

  async running(): Promise<Campaign[]> {
    const { rows } = await this.db.query<CampaignRow>(`SELECT * FROM campaigns WHERE state = 'running' ORDER BY created_at, id`)
    return rows.map(toCampaign)
  }

  /** Contacts per state. */
  async counts(campaignId: string): Promise<Record<ContactState, number>> {
    const { rows } = await this.db.query<{ state: ContactState; n: string | number }>(
      'SELECT state, count(*) AS n FROM campaign_contacts WHERE campaign_id = $1 GROUP BY state',
      [campaignId],
    )
    const counts = Object.fromEntries(CONTACT_STATES.map((s) => [s, 0])) as Record<ContactState, number>
    for (const r of rows) counts[r.state] = Number(r.n)
    return counts
  }

  /** An operator's start, pause, resume or stop: the campaign after it, or null when not allowed from its state. */
  async transition(id: string, action: CampaignAction, at: Date): Promise<Campaign | null> {
    const { from, to } = TRANSITIONS[action]
    const { rows } = await this.db.query<CampaignRow>(
      `UPDATE campaigns SET state = $2, updated_at = $4, paused_reason = NULL,
              started_at = CASE WHEN $2 = 'running' THEN coalesce(started_at, $4) ELSE started_at END,
              finished_at = CASE WHEN $2 = 'stopped' THEN $4 ELSE finished_at END
       WHERE id = $1 AND state = ANY($3::text[]) RETURNING *`,
      [id, to, [...from], at],
    )
    return rows[0] ? toCampaign(rows[0]) : null
  }

  /** The dialer pauses a running campaign itself (the trunk refused our credentials), saying why. */
  async pauseFor(id: string, reason: string, at: Date): Promise<boolean> {
    const { rows } = await this.db.query(
      `UPDATE campaigns SET state = 'paused', paused_reason = $2, updated_at = $3 WHERE id = $1 AND state = 'running' RETURNING id`,
      [id, reason, at],
    )
    return rows.length > 0
  }

  /** A running campaign with no contact left to call (none pending, none dialing) is finished. */
  async finishIfDone(id: string, at: Date): Promise<boolean> {
    const { rows } = await this.db.query(
      `UPDATE campaigns SET state = 'finished', finished_at = $2, updated_at = $2
       WHERE id = $1 AND state = 'running'
         AND NOT EXISTS (SELECT 1 FROM campaign_contacts WHERE campaign_id = $1 AND state IN ('pending', 'dialing'))
       RETURNING id`,
      [id, at],
    )
    return rows.length > 0
  }

  /**
   * Takes the campaign's next due contact for `instance` until `at + leaseMs`: its attempt counted,
   * the call's id written. Null when none is due.
   */
  async claim(campaignId: string, instance: string, callId: string, at: Date, leaseMs: number): Promise<Claimed | null> {
    const { rows } = await this.db.query<ContactRow>(
      `UPDATE campaign_contacts SET state = 'dialing', locked_by = $2, locked_until = $4::timestamptz + $5::int * interval '1 millisecond',
              attempts = attempts + 1, last_call_id = $3, updated_at = $4
       WHERE id = (
         SELECT id FROM campaign_contacts
         WHERE campaign_id = $1 AND state = 'pending' AND next_attempt_at <= $4
         ORDER BY next_attempt_at, id LIMIT 1
         FOR UPDATE SKIP LOCKED)
       RETURNING ${CONTACT_COLUMNS}`,
      [campaignId, instance, callId, at, leaseMs],
    )
    return rows[0] ? { ...toContact(rows[0]), callId } : null
  }

  /**
   * A claimed contact is not called now (outside its window, a refusal before any INVITE): it goes
   * back to pending, due at `until`, and this claim does not count as an attempt.
   */
  async defer(c: Claimed, instance: string, until: Date, at: Date): Promise<void> {
    await this.db.query(
      `UPDATE campaign_contacts SET state = 'pending', attempts = attempts - 1, next_attempt_at = $4, locked_by = NULL, locked_until = NULL,
              last_call_id = NULL, updated_at = $5
       WHERE id = $1 AND locked_by = $2 AND last_call_id = $3 AND state = 'dialing'`,
      [c.id, instance, c.callId, until, at],
    )
  }

  /** The number is on the do-not-call list: the contact is never called (and the CRM is told). */
  async markDoNotCall(c: Claimed, instance: string, at: Date): Promise<void> {
    await this.db.transaction(async (tx) => {
      const { rows } = await tx.query<ContactRow & { campaign_name: string }>(
        `UPDATE campaign_contacts SET state = 'do-not-call', attempts = attempts - 1, locked_by = NULL, locked_until = NULL, last_call_id = NULL,
                last_rule = 'do-not-call-list', updated_at = $4
         WHERE id = $1 AND locked_by = $2 AND last_call_id = $3 AND state = 'dialing'
         RETURNING ${CONTACT_COLUMNS}, ${CAMPAIGN_NAME}`,
        [c.id, instance, c.callId, at],
      )
      if (rows[0]) await this.tellCrm(tx, c.callId, rows[0], at)
    })
  }

  /** The attempt's row, written before its INVITE: from here on a restart counts the contact as called. */
  async attempt(c: Claimed, trunk: string | null, at: Date): Promise<void> {
    await this.db.query(`INSERT INTO campaign_attempts (campaign_id, contact_id, call_id, trunk, started_at) VALUES ($1, $2, $3, $4, $5)`, [
      c.campaignId,
      c.id,
      c.callId,
      trunk,
      at,
    ])
  }

  /**
   * Ends an attempt: the attempt's row gets its result, the contact its next state (when the
   * contact is still this instance's call), the number the do-not-call list when the callee asked.
   * False when the contact was no longer this instance's (its lease ran out and it was recovered).
   */
  async finishAttempt(contactId: string, callId: string, instance: string | null, rec: AttemptRecord, next: ContactNext, at: Date): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      await tx.query(
        `UPDATE campaign_attempts SET ended_at = $2, sip_result = $3, sip_status = $4, amd = $5, conversation = $6, rule = $7, action = $8
         WHERE call_id = $1`,
        [callId, at, rec.sipResult, rec.sipStatus, rec.amd, rec.conversation, rec.rule, rec.action],
      )
      const { rows } = await tx.query<ContactRow & { campaign_name: string }>(
        `UPDATE campaign_contacts SET state = $4, next_attempt_at = coalesce($5, next_attempt_at), trunk_index = $6,
                attempts = attempts - CASE WHEN $7 THEN 1 ELSE 0 END, locked_by = NULL, locked_until = NULL,
                last_result = $8, last_status = $9, last_amd = $10, last_rule = $11, outcome = coalesce($12, outcome), updated_at = $13
         WHERE id = $1 AND last_call_id = $2 AND state = 'dialing' AND ($3::text IS NULL OR locked_by = $3)
         RETURNING ${CONTACT_COLUMNS}, ${CAMPAIGN_NAME}`,
        [
          contactId,
          callId,
          instance,
          next.state,
          next.nextAttemptAt ?? null,
          next.trunkIndex,
          next.uncount,
          rec.sipResult,
          rec.sipStatus,
          rec.amd,
          rec.rule,
          rec.conversation,
          at,
        ],
      )
      if (!rows[0]) return false
      if (next.doNotCall) {
        await tx.query(`INSERT INTO do_not_call (phone, reason, call_id, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (phone) DO NOTHING`, [
          rows[0].phone,
          next.doNotCall,
          callId,
          at,
        ])
      }
      await this.tellCrm(tx, callId, rows[0], at)
      return true
    })
  }

  /** A final state's CRM steps, in the transaction that wrote it (nothing for pending). */
  private async tellCrm(tx: SqlExecutor, settledBy: string, row: ContactRow & { campaign_name: string }, at: Date): Promise<void> {
    const contact = toContact(row)
    await enqueueCampaignOutcome(tx, settledBy, { id: contact.campaignId, name: row.campaign_name }, contact, this.crm, at)
  }

  /** Keeps this instance's contacts (the ones being called) its own for another lease. */
  async renew(instance: string, at: Date, leaseMs: number): Promise<void> {
    await this.db.query(
      `UPDATE campaign_contacts SET locked_until = $2::timestamptz + $3::int * interval '1 millisecond'
       WHERE locked_by = $1 AND state = 'dialing'`,
      [instance, at, leaseMs],
    )
  }

  /**
   * Contacts left dialing by an instance that is gone (its lease ran out) or by this instance's
   * previous run (`ownPrevious`: at start nothing of its own is live): taken over by `instance`
   * for the caller to settle from what the call's record says.
   */
  async orphans(instance: string, at: Date, leaseMs: number, ownPrevious: boolean): Promise<Orphan[]> {
    const { rows } = await this.db.query<ContactRow & { attempted: boolean }>(
      `WITH taken AS (
         UPDATE campaign_contacts SET locked_by = $1, locked_until = $2::timestamptz + $3::int * interval '1 millisecond'
         WHERE id IN (
           SELECT id FROM campaign_contacts
           WHERE state = 'dialing' AND (locked_until < $2 OR ($4 AND locked_by = $1))
           FOR UPDATE SKIP LOCKED)
         RETURNING ${CONTACT_COLUMNS})
       SELECT taken.*, EXISTS (SELECT 1 FROM campaign_attempts a WHERE a.call_id = taken.last_call_id) AS attempted FROM taken`,
      [instance, at, leaseMs, ownPrevious],
    )
    return rows.map((r) => ({ contact: toContact(r), attempted: r.attempted }))
  }

  /** A recovered contact whose INVITE never went out: pending again, the claim uncounted. */
  async unclaim(c: Contact, instance: string, at: Date): Promise<void> {
    await this.db.query(
      `UPDATE campaign_contacts SET state = 'pending', attempts = attempts - 1, locked_by = NULL, locked_until = NULL, last_call_id = NULL, updated_at = $3
       WHERE id = $1 AND locked_by = $2 AND state = 'dialing'`,
      [c.id, instance, at],
    )
  }

  /** One page of a campaign's contacts, by id; one state or all. */
  async contacts(campaignId: string, opts: { state?: ContactState; limit: number; afterId?: string }): Promise<Contact[]> {
    const { rows } = await this.db.query<ContactRow>(
      `SELECT ${CONTACT_COLUMNS} FROM campaign_contacts
       WHERE campaign_id = $1 AND ($2::text IS NULL OR state = $2) AND id > $3
       ORDER BY id LIMIT $4`,
      [campaignId, opts.state ?? null, opts.afterId ?? '0', opts.limit],
    )
    return rows.map(toContact)
  }

  async isDoNotCall(phone: string): Promise<boolean> {
    const { rows } = await this.db.query('SELECT 1 FROM do_not_call WHERE phone = $1', [phone])
    return rows.length > 0
  }

  /** True when the number was not on the list before. */
  /** `callId`: the call the number's owner asked on; none: an operator added it */
  async addDoNotCall(phone: string, reason: string, at: Date, callId?: string): Promise<boolean> {
    const { rows } = await this.db.query(
      'INSERT INTO do_not_call (phone, reason, call_id, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (phone) DO NOTHING RETURNING phone',
      [phone, reason, callId ?? null, at],
    )
    return rows.length > 0
  }

  async removeDoNotCall(phone: string): Promise<boolean> {
    const { rows } = await this.db.query('DELETE FROM do_not_call WHERE phone = $1 RETURNING phone', [phone])
    return rows.length > 0
  }

  async doNotCallList(limit: number, offset: number): Promise<Array<{ phone: string; reason: string; callId: string | null; createdAt: string }>> {
    const { rows } = await this.db.query<{ phone: string; reason: string; call_id: string | null; created_at: Date }>(
      'SELECT phone, reason, call_id, created_at FROM do_not_call ORDER BY created_at DESC, phone LIMIT $1 OFFSET $2',
      [limit, offset],
    )
    return rows.map((r) => ({ phone: r.phone, reason: r.reason, callId: r.call_id, createdAt: r.created_at.toISOString() }))
  }
}

async function insertContacts(tx: SqlExecutor, campaignId: string, contacts: NewContact[], at: Date): Promise<number> {
  let added = 0
  for (let i = 0; i < contacts.length; i += INSERT_CHUNK) {
    const chunk = contacts.slice(i, i + INSERT_CHUNK).map((c) => ({
      phone: c.phone,
      name: c.name ?? null,
      time_zone: c.timeZone,
      zone_source: c.zoneSource,
      region: c.region ?? null,
      consent: c.consent ?? null,
      fields: c.fields,
    }))
    const { rows } = await tx.query(
      `INSERT INTO campaign_contacts (campaign_id, phone, name, time_zone, zone_source, region, consent, fields, next_attempt_at, updated_at)
       SELECT $1, x.phone, x.name, x.time_zone, x.zone_source, x.region, x.consent, coalesce(x.fields, '{}'::jsonb), $3, $3
       FROM jsonb_to_recordset($2::jsonb) AS x(phone text, name text, time_zone text, zone_source text, region text, consent boolean, fields jsonb)
       ON CONFLICT (campaign_id, phone) DO NOTHING RETURNING id`,
      [campaignId, JSON.stringify(chunk), at],
    )
    added += rows.length
  }
  return added
}

function iso(d: Date | null): string | null {
  return d ? d.toISOString() : null
}

function toCampaign(r: CampaignRow): Campaign {
  return {
    id: r.id,
    name: r.name,
    state: r.state,
    trunks: r.trunks,
    scenario: r.scenario,
    callerId: r.caller_id,
    maxConcurrent: r.max_concurrent,
    callingWindow: r.calling_window,
    defaultTimeZone: r.default_time_zone,
    retryPolicy: r.retry_policy,
    amd: r.amd,
    requireConsent: r.require_consent,
    pausedReason: r.paused_reason,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
  }
}

function toContact(r: ContactRow): Contact {
  return {
    id: String(r.id),
    campaignId: r.campaign_id,
    phone: r.phone,
    ...(r.name !== null && { name: r.name }),
    timeZone: r.time_zone,
    zoneSource: r.zone_source,
    ...(r.region !== null && { region: r.region }),
    ...(r.consent !== null && { consent: r.consent }),
    fields: r.fields,
    state: r.state,
    attempts: r.attempts,
    trunkIndex: r.trunk_index,
    nextAttemptAt: r.next_attempt_at.toISOString(),
    lastCallId: r.last_call_id,
    lastResult: r.last_result,
    lastStatus: r.last_status,
    lastAmd: r.last_amd,
    lastRule: r.last_rule,
    outcome: r.outcome,
    updatedAt: r.updated_at.toISOString(),
  }
}
