import type { Logger } from 'pino'
import type { Bitrix24Client } from './bitrix24-client.ts'

/** A caller the CRM knows: their lead and what it says about them. */
export interface KnownCaller {
  leadId: string
  name?: string
  company?: string
  /** the lead's STATUS_ID (NEW, IN_PROCESS, ...) */
  status?: string
}

/** How long a call waits for the CRM before it goes on without (a turn's budget, not more). */
export const LOOKUP_TIMEOUT_MS = 300

const text = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v.trim() : undefined)

/**
 * Finds the caller's lead by phone while the call runs, in one urgent batch request
 * (crm.duplicate.findbycomm, then crm.lead.get on its first lead). Never fails and never waits past
 * its deadline: a slow or failing CRM means an unknown caller.
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
          dup: { method: 'crm.duplicate.findbycomm', params: { type: 'PHONE', values: [number], entity_type: 'LEAD' } },
          // with no lead found the reference is empty and this command fails on its own (halt 0)
          lead: { method: 'crm.lead.get', params: { id: '$result[dup][LEAD][0]' } },
        },
        AbortSignal.timeout(this.timeoutMs),
        true,
      )
      const lead = answer.result.lead as Record<string, unknown> | undefined
      if (!lead?.ID) return undefined
      const name = [text(lead.NAME), text(lead.LAST_NAME)].filter(Boolean).join(' ')
      return { leadId: String(lead.ID), name: name || undefined, company: text(lead.COMPANY_TITLE), status: text(lead.STATUS_ID) }
    } catch (err) {
      log?.warn({ err: (err as Error).message }, 'CRM caller lookup failed or too slow; the call goes on without it')
      return undefined
    }
  }
}
