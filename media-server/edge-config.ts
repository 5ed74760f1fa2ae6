import { parseCidr, parseCidrList } from '../sip/security/cidr.ts'
import { parseAlgorithms, parseUsers } from '../sip/security/digest-server.ts'
// config.ts imports this back; neither module uses the other at load time
import { ConfigError, type Config } from './config.ts'

const MODES = ['trusted-only', 'auth', 'open']

/** Checks of the inbound trust, API access and drain settings (kept apart from config.ts). */
export function validateEdge(cfg: Config): void {
  const { inbound: i, api } = cfg
  if (!MODES.includes(i.mode)) throw new ConfigError(`SIP_INBOUND must be one of ${MODES.join(', ')}, got "${i.mode}"`)
  for (const c of parseCidrList(i.trustedCidrs)) {
    try {
      parseCidr(c)
    } catch (err) {
      throw new ConfigError(`SIP_TRUSTED_CIDRS: ${(err as Error).message}`)
    }
  }
  try {
    parseUsers(i.users)
  } catch (err) {
    throw new ConfigError(`SIP_AUTH_USERS: ${(err as Error).message}`)
  }
  try {
    parseAlgorithms(i.algorithms)
  } catch (err) {
    throw new ConfigError(`SIP_AUTH_ALGORITHMS: ${(err as Error).message}`)
  }
  const positive: Array<[string, number]> = [
    ['SIP_NONCE_TTL_S', i.nonceTtlS],
    ['SIP_RATE_WINDOW_S', i.rateWindowS],
    ['SIP_RATE_MAX', i.rateMax],
    ['SIP_BAN_S', i.banS],
    ['HTTP_MAX_BODY_BYTES', api.maxBodyBytes],
    ['KNOWLEDGE_MAX_UPLOAD_BYTES', api.maxUploadBytes],
    ['HTTP_HEADERS_TIMEOUT_MS', api.headersTimeoutMs],
    ['HTTP_KEEPALIVE_TIMEOUT_MS', api.keepAliveTimeoutMs],
  ]
  for (const [name, v] of positive) if (v < 1) throw new ConfigError(`${name} must be at least 1, got ${v}`)
  const zeroOk: Array<[string, number]> = [
    ['SIP_MAX_CALLS_PER_SOURCE', i.maxCallsPerSource],
    ['SIP_MAX_CALLS', i.maxCalls],
    ['SIP_RETRY_AFTER_S', i.retryAfterS],
    ['DRAIN_TIMEOUT_S', cfg.drainTimeoutS],
    ['HTTP_REQUEST_TIMEOUT_MS', api.requestTimeoutMs],
  ]
  for (const [name, v] of zeroOk) if (v < 0) throw new ConfigError(`${name} must be 0 or more, got ${v}`)
  // node: a request timeout shorter than the header timeout is refused at listen
  if (api.requestTimeoutMs && api.requestTimeoutMs < api.headersTimeoutMs)
    throw new ConfigError(`HTTP_REQUEST_TIMEOUT_MS (${api.requestTimeoutMs}) must be 0 or at least HTTP_HEADERS_TIMEOUT_MS (${api.headersTimeoutMs})`)
  for (const [name, v] of [
    ['HEALTH_OPEN', api.openHealth],
    ['METRICS_OPEN', api.openMetrics],
  ]) {
    // a JSON config file may hold a real boolean
    if (String(v) !== 'true' && String(v) !== 'false') throw new ConfigError(`${name} must be "true" or "false", got "${v}"`)
  }
}
