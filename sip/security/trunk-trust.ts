import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import type { TrustList } from './cidr.ts'

/**
 * For the trunks code: trust the addresses a trunk's host resolves to now, as source
 * `trunk:<name>`, replacing what it resolved to before (call again on each re-resolution or
 * re-registration). A host given as an address or CIDR is taken as it is. Returns what is trusted.
 */
export async function trustTrunkHost(trust: TrustList, name: string, host: string): Promise<string[]> {
  const bare = host.replace(/^\[|\](:\d+)?$/g, '').replace(/:\d+$/, (m) => (isIP(host) === 6 ? m : ''))
  const addresses = isIP(bare) || bare.includes('/') ? [bare] : (await lookup(bare, { all: true })).map((a) => a.address)
  trust.setSource(`trunk:${name}`, addresses)
  return addresses
}
