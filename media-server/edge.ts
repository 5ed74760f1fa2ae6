import type { Logger } from 'pino'
import { parseCidrList, TrustList } from '../sip/security/cidr.ts'
import { DigestServer, parseAlgorithms, parseUsers } from '../sip/security/digest-server.ts'
import { InboundGate, type InboundMode, type InboundStats } from '../sip/security/inbound-gate.ts'
import { scannerMatcher } from '../sip/security/scanners.ts'
import type { Config } from './config.ts'

/**
 * The SIP edge from the configuration. Trunks add their own addresses later with
 * `gate.trust.setSource('trunk:<name>', cidrs)` (each resolution of a trunk's host replaces the last).
 * `hooks.onBan` hears of each source the rate limiter bans (the cluster shares it with the other instances);
 * `hooks.mediaHasRoom` says whether an RTP port pair is free (OPTIONS answers 503 when not).
 */
export function createInboundGate(
  config: Config,
  logger: Logger,
  stats: InboundStats,
  hooks: { onBan?: (source: string, banMs: number) => void; mediaHasRoom?: () => boolean } = {},
): InboundGate {
  const i = config.inbound
  const trust = new TrustList()
  trust.setSource('config', parseCidrList(i.trustedCidrs))
  const users = parseUsers(i.users)
  const digest = new DigestServer({ realm: i.realm, users, nonceTtlMs: i.nonceTtlS * 1000, algorithms: parseAlgorithms(i.algorithms) })
  const mode = i.mode as InboundMode
  const gate = new InboundGate({
    mode,
    trust,
    digest,
    isScanner: scannerMatcher(i.scannerUserAgents.split(',')),
    rate: { windowMs: i.rateWindowS * 1000, max: i.rateMax, banMs: i.banS * 1000, onBan: hooks.onBan },
    maxCallsPerSource: i.maxCallsPerSource,
    maxCalls: i.maxCalls,
    retryAfterS: i.retryAfterS,
    mediaHasRoom: hooks.mediaHasRoom,
    logger,
    stats,
  })
  const others =
    mode === 'open'
      ? 'accepted (SIP_INBOUND=open)'
      : mode === 'auth' && users.size
        ? `must authenticate (digest, realm "${i.realm}", ${users.size} user(s))`
        : 'refused with 403 (no SIP_AUTH_USERS)' + (mode === 'auth' ? '' : ', SIP_INBOUND=trusted-only')
  logger.info(
    {
      mode,
      trusted: trust.describe(),
      rate: `${i.rateMax} requests per ${i.rateWindowS} s, then a ${i.banS} s ban`,
      maxCallsPerSource: i.maxCallsPerSource,
      maxCalls: i.maxCalls || 'no limit but RTP ports',
    },
    `inbound SIP: trusted from ${parseCidrList(i.trustedCidrs).join(', ') || 'nowhere'}; other sources ${others}; scanners dropped`,
  )
  return gate
}
