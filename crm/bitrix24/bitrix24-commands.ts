import type { CallDetail } from '../call-store.ts'
import type { BatchCommand } from './bitrix24-client.ts'

// The CRM commands one call turns into (the lead or the known client's deal, its comment and to-do), built from the call record.

/** The record a call's comment and to-do go on: a lead, or a deal of a known contact or company. */
export interface Owner {
  kind: 'lead' | 'deal'
  id: string
}
/** crm.activity.* owner type ids */
const OWNER_TYPE_ID = { lead: 1, deal: 2 } as const

/** ORIGINATOR_ID of the leads we create: with ORIGIN_ID = our call id it finds them again. */
export const ORIGINATOR = 'voice-agent'

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v.trim() : typeof v === 'number' ? String(v) : undefined)

/** What a lead and a deal share: title, the need and summary as COMMENTS, the budget, the source and our call id. */
function common(call: CallDetail): Record<string, unknown> {
  const f = call.lead?.slots ?? {}
  const name = str(f.name)
  const budget = budgetOf(call)
  const comments = [str(f.need) && `Need: ${str(f.need)}`, call.lead?.summary].filter(Boolean).join('\n')
  return {
    TITLE: `Call ${phoneOf(call) ?? call.callerId}${name ? `: ${name}` : ''}`,
    ...(comments && { COMMENTS: comments }),
    ...(budget && { OPPORTUNITY: budget }),
    SOURCE_ID: 'CALL',
    ORIGINATOR_ID: ORIGINATOR,
    ORIGIN_ID: call.id,
  }
}

const budgetOf = (call: CallDetail): number | undefined => {
  const budget = Number(call.lead?.slots.budget)
  return Number.isFinite(budget) && budget > 0 ? budget : undefined
}

export function leadAdd(call: CallDetail): Record<string, unknown> {
  const phone = phoneOf(call)
  const f = call.lead?.slots ?? {}
  return {
    fields: {
      ...common(call),
      ...(str(f.name) && { NAME: str(f.name) }),
      ...(str(f.company) && { COMPANY_TITLE: str(f.company) }),
      ...(phone && { PHONE: [{ VALUE: phone, VALUE_TYPE: 'WORK' }] }),
      ...(str(f.email) && { EMAIL: [{ VALUE: str(f.email), VALUE_TYPE: 'WORK' }] }),
    },
    params: { REGISTER_SONET_EVENT: 'Y' },
  }
}

/** A known client's new deal: on their contact (or company), with ORIGIN_ID = our call id to find it again. */
export function dealAdd(call: CallDetail, client: Client, currency: string): Record<string, unknown> {
  return {
    fields: { ...common(call), CURRENCY_ID: currency, [client.type === 'CONTACT' ? 'CONTACT_ID' : 'COMPANY_ID']: client.id },
    params: { REGISTER_SONET_EVENT: 'Y' },
  }
}

/** The client's open deals (in progress, STAGE_SEMANTIC_ID P), newest first: the call goes on the first. */
export function openDeals(client: Client): BatchCommand {
  return {
    method: 'crm.deal.list',
    params: {
      filter: { [client.type === 'CONTACT' ? 'CONTACT_ID' : 'COMPANY_ID']: client.id, STAGE_SEMANTIC_ID: 'P' },
      order: { ID: 'DESC' },
      select: ['ID', 'OPPORTUNITY', 'CURRENCY_ID'],
    },
  }
}

/** An open deal's budget when it has none (a seller's figure is never overwritten); undefined when nothing to fill. */
export function dealUpdate(call: CallDetail, current: Record<string, unknown>, currency: string): Record<string, unknown> | undefined {
  const budget = budgetOf(call)
  return budget && !(Number(current.OPPORTUNITY) > 0) ? { OPPORTUNITY: budget, CURRENCY_ID: currency } : undefined
}

/** A caller Bitrix24 knows as a contact or a company (crm.duplicate.findbycomm). */
export interface Client {
  type: 'CONTACT' | 'COMPANY'
  id: string
}

/**
 * The fields the call gave that the caller's existing lead lacks (name, company, e-mail, budget);
 * undefined when there are none. Filling only empty fields never overwrites a seller's edits, and
 * sending it again on a retry changes nothing.
 */
export function leadUpdate(call: CallDetail, current: Record<string, unknown>): Record<string, unknown> | undefined {
  const f = call.lead?.slots ?? {}
  const empty = (v: unknown) => v === undefined || v === null || v === '' || (Array.isArray(v) && !v.length)
  const budget = budgetOf(call)
  const fill: Record<string, unknown> = {
    ...(str(f.name) && empty(current.NAME) && { NAME: str(f.name) }),
    ...(str(f.company) && empty(current.COMPANY_TITLE) && { COMPANY_TITLE: str(f.company) }),
    ...(str(f.email) && empty(current.EMAIL) && { EMAIL: [{ VALUE: str(f.email), VALUE_TYPE: 'WORK' }] }),
    ...(budget && !(Number(current.OPPORTUNITY) > 0) && { OPPORTUNITY: budget }),
  }
  return Object.keys(fill).length ? fill : undefined
}

/** How soon a seller should call back a caller who hung up or whose call was missed (BITRIX24_CALLBACK_MIN). */
export const CALLBACK_MS = 60 * 60_000

/**
 * The to-do a call asks for: a booked callback at its time (the agent's `callback.when`, or a
 * scenario's date-time slot), else for an inbound call that was missed or that the caller left
 * before the end (caller-hangup), or that rang and was never answered (cancelled while ringing,
 * refused at capacity), "call back" due `callbackMs` after the call's end.
 */
export function todoOf(call: CallDetail, callbackMs = CALLBACK_MS): { deadline: string; text: string } | undefined {
  const slots = call.lead?.slots ?? {}
  const agent = slots.callback as { when?: string; note?: string } | undefined
  const slot = Object.values(slots).find((v): v is { start: string } => !!v && typeof v === 'object' && typeof (v as { start?: unknown }).start === 'string')
  const booked = agent?.when ?? slot?.start ?? str(slots.callbackTime)
  if (booked) {
    const at = Date.parse(booked)
    // a time the agent wrote as words: due at once, the words in the text for the seller
    const deadline = new Date(Number.isNaN(at) ? Date.parse(call.endedAt ?? call.startedAt) : at).toISOString()
    return { deadline, text: `Booked callback: ${booked}${agent?.note ? ` (${agent.note})` : ''}` }
  }
  const missed = !call.answeredAt || call.result === 'caller-hangup' || call.result === 'cancelled'
  if (call.direction !== 'inbound' || !missed) return undefined
  const deadline = new Date(Date.parse(call.endedAt ?? call.startedAt) + callbackMs).toISOString()
  return { deadline, text: call.answeredAt ? 'Call back: the caller hung up before the end' : 'Call back: missed call' }
}

/** The to-do on the lead or deal, assigned to its responsible seller (read in the same batch). */
export function todoAdd(call: CallDetail, owner: Owner, todo: { deadline: string; text: string }): Record<string, BatchCommand> {
  return {
    owner: { method: `crm.${owner.kind}.get`, params: { id: owner.id } },
    todo: {
      method: 'crm.activity.todo.add',
      params: {
        ownerTypeId: OWNER_TYPE_ID[owner.kind],
        ownerId: owner.id,
        deadline: todo.deadline,
        title: todo.text.split(':')[0],
        description: `${marker(call.id)} ${todo.text}; number ${phoneOf(call) ?? call.callerId}`,
        responsibleId: '$result[owner][ASSIGNED_BY_ID]',
      },
    },
  }
}

/** The lead's or deal's newest to-dos first: ours, if an earlier attempt added it, is among them. */
export function todoList(owner: Owner): BatchCommand {
  return {
    method: 'crm.activity.list',
    params: {
      filter: { OWNER_TYPE_ID: OWNER_TYPE_ID[owner.kind], OWNER_ID: owner.id, PROVIDER_ID: 'CRM_TODO' },
      order: { ID: 'DESC' },
      select: ['ID', 'DESCRIPTION'],
    },
  }
}

export const marker = (callId: string) => `[voice call ${callId}]`

/** Whether a comment or to-do among `items` carries `mark` (one of our markers): an earlier attempt added it. */
export function hasMarker(items: unknown, mark: string): boolean {
  return Array.isArray(items) && items.some((c: { COMMENT?: string; DESCRIPTION?: string }) => (c.COMMENT ?? c.DESCRIPTION)?.includes(mark))
}

/** What a timeline comment can go on: a call's lead or deal, or a campaign contact's lead, contact or company. */
export interface TimelineEntity {
  kind: Owner['kind'] | 'contact' | 'company'
  id: string
}

/** The lead's or deal's newest comments first: ours, if an earlier attempt added it, is among them. */
export function commentList(owner: TimelineEntity): BatchCommand {
  return {
    method: 'crm.timeline.comment.list',
    params: { filter: { ENTITY_ID: owner.id, ENTITY_TYPE: owner.kind }, order: { ID: 'DESC' }, select: ['ID', 'COMMENT'] },
  }
}

export function commentAdd(call: CallDetail, owner: Owner): BatchCommand {
  const lines = [marker(call.id), `${call.direction} call, ${call.startedAt}, result: ${call.result ?? 'unknown'}`]
  if (call.lead?.summary) lines.push('', call.lead.summary)
  if (call.turns.length) {
    lines.push('')
    for (const t of call.turns) lines.push(`${t.who === 'bot' ? 'Bot' : 'Caller'}: ${t.text ?? '(audio clip)'}`)
  }
  if (call.recordingPath) lines.push('', `Recording: ${call.recordingPath}`)
  return timelineComment(owner, lines.join('\n'))
}

export function timelineComment(entity: TimelineEntity, text: string): BatchCommand {
  return { method: 'crm.timeline.comment.add', params: { fields: { ENTITY_ID: entity.id, ENTITY_TYPE: entity.kind, COMMENT: text } } }
}

/** The number to look the caller up by: what they gave, else the caller id; digits and a leading +. */
export function phoneOf(call: CallDetail): string | undefined {
  const raw = call.lead?.phoneDigits ?? str(call.lead?.slots.phone) ?? call.callerId
  const p = raw?.replace(/[^\d+]/g, '')
  return p && /\d{5,}/.test(p) ? p : undefined
}
