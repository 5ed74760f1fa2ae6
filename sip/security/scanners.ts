/**
 * User-Agents of SIP scanners and war-dialers. These tools probe for extensions and weak
 * passwords to place toll calls; any answer (even 403) confirms a SIP server lives here, so
 * they get none. The list is the one Kamailio and Asterisk deployments commonly drop.
 */
export const SCANNER_USER_AGENTS = [
  'friendly-scanner',
  'sipvicious',
  'sipcli',
  'vaxsipuseragent',
  'sip-scan',
  'iwar',
  'sivus',
  'sundayddr',
  'sipptk',
  'pplsip',
  'gulp',
  'voipsec',
  'sip-scanner',
]

/** A case-insensitive matcher for the User-Agent header, with extra names from the config. */
export function scannerMatcher(extra: string[] = []): (userAgent: string) => boolean {
  const names = [...SCANNER_USER_AGENTS, ...extra.map((s) => s.trim().toLowerCase()).filter(Boolean)]
  return (ua) => {
    const l = ua.toLowerCase()
    return names.some((n) => l.includes(n))
  }
}
