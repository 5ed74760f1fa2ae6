import type { Logger } from 'pino'
import type { Bitrix24Client } from './bitrix24-client.ts'

/** A caller the CRM knows: their lead, or their contact and its open deal, and what these say about them. */
export interface KnownCaller {
  /** the caller's lead (a caller known only as a contact has none) */
  leadId?: string
  /** the caller's contact, when they are one */
  contactId?: string
  name?: string
  company?: string
  /** the lead's STATUS_ID (NEW, IN_PROCESS, ...) */
  status?: string
  /** what they need, as an earlier call wrote it ("Need: ..." in the lead's or deal's COMMENTS) */
  need?: string
  /** the deal's (else the lead's) OPPORTUNITY, when set */
  budget?: number
  /** the contact's newest open deal (STAGE_SEMANTIC_ID P) */
  deal?: { id: string; title?: string; opportunity?: number }
}

/** How long a call waits for the CRM before it goes on without (a turn's budget, not more). */
export const LOOKUP_TIMEOUT_MS = 300

/** without the fields that are not there */
const defined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T
const text = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v.trim() : undefined)
const amount = (v: unknown): number | undefined => (Number(v) > 0 ? Number(v) : undefined)
/** the need an earlier call wrote into COMMENTS (see bitrix24-commands common()) */
const needIn = (v: unknown): string | undefined => text(/^Need: (.+)$/m.exec(text(v) ?? '')?.[1])

/**
 * Finds the caller by phone while the call runs, in one urgent batch request:
 * crm.duplicate.findbycomm over leads and contacts, crm.lead.get on the first lead, crm.contact.get
 * on the first contact and crm.deal.list for that contact's open deals. Never fails and never waits
 * past its deadline: a slow or failing CRM means an unknown caller.
 */
export class CallerLookup {
  constructor(
    private readonly client: Bitrix24Client,
    private readonly timeoutMs = LOOKUP_TIMEOUT_MS,
  ) {}

  async lookup(phone: string, log?: Logger): Promise<KnownCaller | undefined> {
    const number = phone.replace(/[^\d+]/g, '')
    if (!/\d{5,}/.test(number)) return undefined
    try {
      const answer = await this.client.batch(
        {
          dup: { method: 'crm.duplicate.findbycomm', params: { type: 'PHONE', values: [number] } },
          // with nothing found a reference is empty and its command fails on its own (halt 0)
          lead: { method: 'crm.lead.get', params: { id: '$result[dup][LEAD][0]' } },
          contact: { method: 'crm.contact.get', params: { id: '$result[dup][CONTACT][0]' } },
          deals: {
            method: 'crm.deal.list',
            params: {
              filter: { CONTACT_ID: '$result[dup][CONTACT][0]', STAGE_SEMANTIC_ID: 'P' },
              order: { ID: 'DESC' },
              select: ['ID', 'TITLE', 'OPPORTUNITY', 'COMMENTS', 'CONTACT_ID'],
            },
          },
        },
        AbortSignal.timeout(this.timeoutMs),
        true,
      )
      const lead = answer.result.lead as Record<string, unknown> | undefined
      const contact = answer.result.contact as Record<string, unknown> | undefined
      if (lead?.ID) {
        const name = [text(lead.NAME), text(lead.LAST_NAME)].filter(Boolean).join(' ')
        return defined({
          leadId: String(lead.ID),
          name: name || undefined,
          company: text(lead.COMPANY_TITLE),
          status: text(lead.STATUS_ID),
          need: needIn(lead.COMMENTS),
          budget: amount(lead.OPPORTUNITY),
        })
      }
      if (!contact?.ID) return undefined
      // an empty reference must not list someone else's deals: only the contact's own count
      const deals = (Array.isArray(answer.result.deals) ? answer.result.deals : []) as Array<Record<string, unknown>>
      const deal = deals.find((d) => String(d.CONTACT_ID ?? '') === String(contact.ID))
      const name = [text(contact.NAME), text(contact.LAST_NAME)].filter(Boolean).join(' ')
      return defined({
        contactId: String(contact.ID),
        name: name || undefined,
        company: text(contact.COMPANY_TITLE),
        ...(deal && {
          deal: defined({ id: String(deal.ID), title: text(deal.TITLE), opportunity: amount(deal.OPPORTUNITY) }),
          need: needIn(deal.COMMENTS),
          budget: amount(deal.OPPORTUNITY),
        }),
      })
    } catch (err) {
      log?.warn({ err: (err as Error).message }, 'CRM caller lookup failed or too slow; the call goes on without it')
      return undefined
    }
  }
}
