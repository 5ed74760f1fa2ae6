// What an outbound INVITE through a trunk carries besides the call itself: the identity the
// carrier knows us by, the credentials for its challenges, and the outbound proxy route.
import { DigestSession } from '../auth/digest.ts'
import type { TrunkConfig } from './trunk.ts'

export interface TrunkRoute {
  trunk: string
  /** From: sip:<user>@<host>, P-Asserted-Identity the same (RFC 3325), as the carrier expects. */
  fromUser: string
  fromHost: string
  /** Answers 401/407 to this call's INVITE; none: the trunk trusts our address. */
  credentials?: DigestSession
  /** Loose route to the outbound proxy (RFC 3261 §8.1.2), when the trunk has one. */
  route?: string
}

/**
 * The user part of our From: the caller id the dial asked for, else the trunk's identity (its caller
 * id or login), else the dial's own user (a bridged transfer: the caller's number), else "agent".
 * Empty strings count as unset: `sip:@host` is no URI.
 */
export function fromUserOf(trunkUser: string | undefined, dial: { callerId?: string; fromUser?: string }): string {
  return dial.callerId || trunkUser || dial.fromUser || 'agent'
}

/** Who the carrier knows us as: the trunk's caller id, else its login ('' when it has neither). */
export function trunkUser(trunk: TrunkConfig | undefined): string {
  return trunk ? trunk.callerId || trunk.username : ''
}

export function routeFor(trunk: TrunkConfig): TrunkRoute {
  return {
    trunk: trunk.name,
    fromUser: trunkUser(trunk),
    fromHost: trunk.domain,
    // A session per call: its nonce and nc belong to this INVITE's challenges only.
    ...(trunk.username && { credentials: new DigestSession({ username: trunk.username, password: trunk.password }, trunk.realm) }),
    ...(trunk.outboundProxy && { route: `sip:${trunk.outboundProxy};lr` }),
  }
}
