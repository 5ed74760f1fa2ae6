// Operations on one FreeSWITCH endpoint (a channel drachtio-fsmrf made) that the anchored call and
// its seller leg share.
import type Mrf from 'drachtio-fsmrf'
import { sipErrorStatus } from './srf-message.ts'

/** Re-INVITEs to an endpoint answered 491 (Request Pending) before giving up, 100, 200, ... ms apart. */
const GLARE_RETRIES = 5

/** A re-INVITE to an endpoint with the far end's SDP; a 491 (FreeSWITCH still in the endpoint's
 *  last offer/answer, e.g. right after it was made) is retried: the INVITE was ours, so RFC 3261
 *  §14.1 lets us retry within 2 s. */
export async function modifyEndpoint(ep: Mrf.Endpoint, sdp: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await ep.modify(sdp)
      return
    } catch (err) {
      if (sipErrorStatus(err) !== 491 || attempt >= GLARE_RETRIES) throw err
      await new Promise((r) => setTimeout(r, 100 * attempt))
    }
  }
}

/** How long an ESL API command may take: a FreeSWITCH that hangs must not hold a call's teardown. */
const API_TIMEOUT_MS = 3000

/** An ESL API command on an endpoint's connection; rejects on -ERR, on a lost link, and after API_TIMEOUT_MS. */
export async function eslApi(ep: Mrf.Endpoint, command: string, args: string[]): Promise<string> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${command}: no answer from FreeSWITCH`)), API_TIMEOUT_MS)))
  try {
    const res = await Promise.race([ep.api(command, args), timeout])
    const body = res.getBody()
    if (!body.startsWith('+OK')) throw new Error(`${command}: ${body.trim()}`)
    return body
  } finally {
    clearTimeout(timer)
  }
}
