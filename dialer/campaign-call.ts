import { parseOriginate, type OriginateContext, type OriginateRequest } from '../media-server/call/originate-request.ts'
import type { Campaign, Contact } from './campaign-store.ts'

/**
 * The call to a campaign's contact: the same checks as POST /api/calls (the number, the trunk,
 * the scenario), the contact's name and custom fields as the call's variables (the scenario and the
 * lead record see them), and the campaign's answering-machine detection.
 */
export function campaignCall(
  campaign: Campaign,
  contact: Contact,
  trunk: string | undefined,
  ctx: OriginateContext,
): { ok: true; request: OriginateRequest } | { ok: false; error: string } {
  const parsed = parseOriginate(
    {
      to: contact.phone,
      ...(trunk && { trunk }),
      ...(campaign.scenario && { scenario: campaign.scenario }),
      ...(campaign.callerId && { callerId: campaign.callerId }),
      ...(campaign.amd && { amd: campaign.amd }),
    },
    ctx,
  )
  if (!parsed.ok) return parsed
  const variables = {
    ...contact.fields,
    ...(contact.name && { name: contact.name }),
    campaign: campaign.id,
    campaignName: campaign.name,
    contactId: contact.id,
  }
  return { ok: true, request: { ...parsed.request, variables } }
}
