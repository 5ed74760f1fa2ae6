import type { CallDetail } from '../call-store.ts'
import type { SqlExecutor } from '../sql-driver.ts'
import type { BatchCommand } from './bitrix24-client.ts'

/** What is done of a call's telephony record in Bitrix24 (crm_bitrix24_calls). */
export interface PortalCall {
  portalCallId: string
  finished: boolean
  recordAttached: boolean
}

/** The portal's CALL_ID per call and the parts done, so that a retry does none twice. */
export class PortalCallStore {
  constructor(private readonly db: SqlExecutor) {}

  async get(callIds: string[]): Promise<Map<string, PortalCall>> {
    if (!callIds.length) return new Map()
    const { rows } = await this.db.query<{ call_id: string; portal_call_id: string; finished: boolean; record_attached: boolean }>(
      `SELECT call_id, portal_call_id, finished, record_attached FROM crm_bitrix24_calls WHERE call_id = ANY($1::text[])`,
      [callIds],
    )
    return new Map(rows.map((r) => [r.call_id, { portalCallId: r.portal_call_id, finished: r.finished, recordAttached: r.record_attached }]))
  }

  async registered(callId: string, portalCallId: string): Promise<void> {
    await this.db.query(
      `INSERT INTO crm_bitrix24_calls (call_id, portal_call_id) VALUES ($1, $2)
       ON CONFLICT (call_id) DO UPDATE SET portal_call_id = excluded.portal_call_id, updated_at = now()`,
      [callId, portalCallId],
    )
  }

  async mark(callId: string, done: { finished?: boolean; recordAttached?: boolean }): Promise<void> {
    await this.db.query(
      `UPDATE crm_bitrix24_calls SET finished = finished OR $2, record_attached = record_attached OR $3, updated_at = now() WHERE call_id = $1`,
      [callId, done.finished ?? false, done.recordAttached ?? false],
    )
  }
}

/** Bitrix24's STATUS_CODE for how our call went: answered 200, else the SIP refusal it knows, else missed (304). */
export function statusCode(call: CallDetail): string {
  if (call.answeredAt) return '200'
  const sip = /^(\d{3})\b/.exec(call.endReason ?? '')?.[1]
  return sip && ['402', '403', '404', '423', '480', '484', '486', '503', '603'].includes(sip) ? sip : '304'
}

/** The other party's number: the caller on an inbound call, the dialled number on an outbound one. */
export function lineNumber(call: CallDetail): string {
  const uri = call.direction === 'outbound' ? call.toUri : call.fromUri
  return /^sips?:([^@;]+)/.exec(uri)?.[1] ?? call.callerId
}

/**
 * telephony.externalCall.register: the call in the lead's timeline, as the bot's user. No lead is
 * created by Bitrix24 (we made or found it) and no call card pops up.
 */
/** `entity`: the CRM record the call activity goes on (a lead, or a known caller's contact or company; Bitrix24 takes no deal here). */
export function registerCommand(call: CallDetail, entity: { type: 'LEAD' | 'CONTACT' | 'COMPANY'; id: string }, userId: number): BatchCommand {
  return {
    method: 'telephony.externalCall.register',
    params: {
      USER_ID: userId,
      PHONE_NUMBER: lineNumber(call),
      CALL_START_DATE: call.startedAt,
      TYPE: call.direction === 'outbound' ? 1 : 2,
      CRM_CREATE: 0,
      CRM_ENTITY_TYPE: entity.type,
      CRM_ENTITY_ID: entity.id,
      SHOW: 0,
      EXTERNAL_CALL_ID: call.id,
    },
  }
}

export function finishCommand(call: CallDetail, portalCallId: string, userId: number): BatchCommand {
  const duration = call.answeredAt && call.endedAt ? Math.max(0, Math.round((Date.parse(call.endedAt) - Date.parse(call.answeredAt)) / 1000)) : 0
  return {
    method: 'telephony.externalCall.finish',
    params: { CALL_ID: portalCallId, USER_ID: userId, DURATION: duration, STATUS_CODE: statusCode(call), ADD_TO_CHAT: 0 },
  }
}

/** voximplant.statistic.get by CALL_ID: a finished call has a row; an attached record, RECORD_FILE_ID. */
export function statisticCommand(portalCallId: string): BatchCommand {
  return { method: 'voximplant.statistic.get', params: { FILTER: { CALL_ID: portalCallId } } }
}
