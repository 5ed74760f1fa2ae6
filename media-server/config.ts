import { existsSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Lang } from '../dialog/lang.ts'
import { DEFAULT_CODEC_PREFERENCE, parseCodecList, type CodecName } from '../sip/sdp/codec-catalogue.ts'
import { SRTP_POLICIES, type SrtpPolicy } from '../sip/sdp/negotiate.ts'
// provider-config imports ConfigError back; neither module uses the other at load time
import { parseProviderConfig, type ProviderConfig } from './provider-config.ts'
import type { TrunkConfig } from '../sip/trunks/trunk.ts'
import { parseOutbound, parseTrunks, type OutboundConfig } from './trunk-config.ts'
import { validateEdge } from './edge-config.ts'
import { DEFAULT_TCP_OPTIONS } from '../sip/transport/tcp-options.ts'
import type { Bitrix24Settings } from '../crm/bitrix24/open-bitrix24.ts'

/** SIP over TLS: off while port is 0; cert and key are PEM files, read again when they change. */
export interface SipTlsConfig {
  port: number
  cert: string
  key: string
  /** PEM CA certificates that TLS trunks' certificates may chain to, besides the system's */
  ca: string
  /** required: mutual TLS, a peer connecting to SIP_TLS_PORT must present a certificate that chains to those CAs */
  verifyClient: string
}

/** Limits on SIP TCP/TLS connections (sip/transport/tcp-options.ts says why these defaults). */
export interface SipTcpConfig {
  idleTimeoutS: number
  maxConnections: number
  maxPerSource: number
}

export interface Config {
  /** t1Ms: RFC 3261 T1, the round-trip estimate every SIP timer derives from (64*T1: a lost ACK
   *  ends the call); 500 ms as the RFC has it, lower on a LAN (and in the fault tests). */
  sip: { host: string; port: number; t1Ms: number; sessionExpiresS: number; minSeS: number; tls: SipTlsConfig; tcp: SipTcpConfig }
  /** Who speaks SIP: the embedded stack, or drachtio-server in front (drachtio-srf connects to its admin port with the secret). */
  sipBackend: string
  drachtio: { host: string; port: number; secret: string }
  /** Where the caller's RTP ends: the Node media core (native), or FreeSWITCH through ESL, which bridges it to the media core. */
  mediaBackend: string
  freeswitch: { host: string; port: number; secret: string }
  rtp: { portMin: number; portMax: number }
  publicIp: string
  httpPort: number
  httpHost: string
  dataDir: string
  /** Synthesised prompts (WAV, keyed by voice and text); default DATA_DIR/prompts. Instances
   *  with the same voices may share one. */
  promptCacheDir: string
  databaseUrl?: string
  redisUrl?: string
  /** With REDIS_URL (cluster/): this instance's id (empty: hostname:sipPort), the prefix of every
   *  Redis key, the lease of the instance's record, live calls and call slots, and how often it is renewed. */
  cluster: { instanceId: string; keyPrefix: string; leaseS: number; heartbeatMs: number }
  language: Lang
  logLevel: string
  /** Codecs we accept, in the order we offer them (answers follow the offerer's order). */
  codecs: CodecName[]
  /** SRTP (SDES) on inbound calls: off, optional (taken when offered), required (plain offers: 488). */
  srtp: SrtpPolicy
  /** Inbound jitter buffer: starting and largest target delay. */
  jitter: { initialDelayMs: number; maxDelayMs: number }
  /** Media worker threads (sockets, clock, codecs, recording); 0: the media runs in the main thread. */
  mediaWorkers: number
  /** realtime: media workers ask for SCHED_RR (else a lower nice value); normal: left to the scheduler. */
  mediaPriority: string
  /** Opus encoder complexity 0-10: CPU per call against coding effort (codecs/opus.ts). */
  opus: { complexity: number }
  /** Ringing time before the answer (180 Ringing, then 200 OK). */
  answerDelayMs: number
  /** Turn-taking defaults (a scenario step may override them), in milliseconds. */
  listen: { noInputMs: number; endSilenceMs: number; minSpeechMs: number; maxUtteranceMs: number; interDigitMs: number }
  /** Caller speech over an interruptible prompt: how long before the prompt stops, and how the
   *  bot's own echo is told apart (see vad/echo-gate.ts). */
  bargeIn: { minSpeechMs: number; confirmMs: number; echoTailMs: number; echoMarginDb: number }
  /** Latency budgets of a turn, ms: the recogniser's final after the end of the utterance, and
   *  the reply's first audio after it (then a filler; at three budgets, the apology). */
  budget: { asrFinalMs: number; replyMs: number }
  /** Where transfer_to_seller sends the caller (SIP REFER): a number or SIP URI, and the trunk
   *  host a bare number is dialled at. Empty: no transfer, the seller calls back. When the
   *  caller's phone refuses the REFER the server calls the target itself and bridges the two;
   *  ringTimeoutMs is how long that call may ring before the transfer is given up. */
  transfer: { target: string; domain: string; ringTimeoutMs: number; targets: string }
  /** Silero VAD: batch collection period and the energy pre-gate for clear silence. */
  vad: { tickMs: number; gateDb: number }
  /** ASR, TTS and LLM providers in order of preference (see providers/provider-config.ts); with
   *  nothing configured: no ASR, no LLM, TTS by the embedded eSpeak NG. */
  providers: ProviderConfig
  /** A directory of YAML scenarios (dialog/scenarios/README.md) run by the scenario engine, per
   *  dialled number; default: the bilingual sales scenario shipped in dialog/scenarios. The LLM
   *  agent still wins when an ASR and an LLM are configured. */
  scenario: { dir: string }
  /** Storage faults: free space under which /health says degraded; the status code of a degraded
   *  /health (200: still taking calls; 503: take me out of rotation); the longest wait between
   *  journal replay attempts while the database is down. */
  storage: { minFreeDiskMb: number; healthDegradedStatus: number; journalRetryMaxMs: number }
  /** SIP trunks (media-server/trunk-config.ts): the file's `trunks` list and/or TRUNK_*. */
  trunks: TrunkConfig[]
  /** The toll-fraud guard: prefixes that may be dialled and the hourly cap. */
  outbound: OutboundConfig
  /** Who may send SIP (see sip/security/ and the README's security section). */
  inbound: InboundConfig
  /** Admin API access and HTTP limits (see media-server/http/api-guard.ts). */
  api: ApiConfig
  /** On SIGTERM or POST /api/drain: how long live calls may go on before they get BYE. */
  drainTimeoutS: number
  /** CRM delivery (crm/outbox/): the signed webhook (empty URL: off), attempts before a step is
   *  dead-lettered, and the base of a recording URL sent in the webhook (empty: path only). */
  crm: {
    webhookUrl: string
    webhookSecret: string
    outboxMaxAttempts: number
    recordingBaseUrl: string
  } & Bitrix24Settings
}

export interface InboundConfig {
  /** trusted-only | auth | open */
  mode: string
  /** Comma-separated CIDRs trusted without authentication (the trunks' addresses). */
  trustedCidrs: string
  /** Digest users for untrusted sources: "user:password,user2:password2". */
  users: string
  realm: string
  /** Digest algorithms offered, preferred first: "SHA-256,MD5". */
  algorithms: string
  nonceTtlS: number
  /** More scanner User-Agent substrings, comma-separated. */
  scannerUserAgents: string
  rateWindowS: number
  rateMax: number
  banS: number
  maxCallsPerSource: number
  maxCalls: number
  retryAfterS: number
}

export interface ApiConfig {
  /** Bearer token(s) for /api/* and the console, comma-separated; empty: loopback peers only. */
  token: string
  /** "true": /health and /metrics need no token (the default: load balancers and Prometheus). */
  openHealth: string
  openMetrics: string
  maxBodyBytes: number
  maxUploadBytes: number
  headersTimeoutMs: number
  requestTimeoutMs: number
  keepAliveTimeoutMs: number
}

/** The file section named `providers` is not a tree of scalars: provider-config parses it whole. */
const PROVIDERS_KEY = 'providers'
/** Nor are `trunks` (a list) and `outbound` (lists of prefixes): trunk-config parses them. */
const SECTIONS_PARSED_ELSEWHERE = ['trunks', 'outbound'] as const
type Sections = Partial<Record<typeof PROVIDERS_KEY | (typeof SECTIONS_PARSED_ELSEWHERE)[number], unknown>>

/** The bilingual sales scenario that ships with the server. */
export const SHIPPED_SCENARIOS = fileURLToPath(new URL('../dialog/scenarios/', import.meta.url))

const DEFAULTS: Omit<Config, 'providers' | 'trunks' | 'outbound'> = {
  // RFC 4028: 1800 s asked for, 90 s the least accepted (the RFC's own figures)
  sip: {
    host: '0.0.0.0',
    port: 5060,
    t1Ms: 500,
    sessionExpiresS: 1800,
    minSeS: 90,
    tls: { port: 0, cert: '', key: '', ca: '', verifyClient: 'off' },
    tcp: {
      idleTimeoutS: DEFAULT_TCP_OPTIONS.idleTimeoutMs / 1000,
      maxConnections: DEFAULT_TCP_OPTIONS.maxConnections,
      maxPerSource: DEFAULT_TCP_OPTIONS.maxPerSource,
    },
  },
  sipBackend: 'embedded',
  // no default secret: a well-known one would let anyone who reaches the admin port take the calls
  drachtio: { host: '127.0.0.1', port: 9022, secret: '' },
  mediaBackend: 'native',
  // no default secret either: ESL gives whoever connects the calls' media
  freeswitch: { host: '127.0.0.1', port: 8021, secret: '' },
  rtp: { portMin: 20000, portMax: 29999 },
  publicIp: '',
  httpPort: 8080,
  httpHost: '0.0.0.0',
  dataDir: './data',
  promptCacheDir: '',
  language: 'ru',
  logLevel: 'info',
  answerDelayMs: 0,
  codecs: DEFAULT_CODEC_PREFERENCE,
  srtp: 'optional',
  jitter: { initialDelayMs: 40, maxDelayMs: 200 },
  opus: { complexity: 2 },
  mediaWorkers: os.availableParallelism(),
  mediaPriority: 'realtime',
  listen: { noInputMs: 6000, endSilenceMs: 700, minSpeechMs: 120, maxUtteranceMs: 15000, interDigitMs: 4000 },
  bargeIn: { minSpeechMs: 60, confirmMs: 400, echoTailMs: 400, echoMarginDb: 6 },
  vad: { tickMs: 16, gateDb: -60 },
  budget: { asrFinalMs: 1500, replyMs: 1200 },
  transfer: { target: '', domain: '', ringTimeoutMs: 30000, targets: '' },
  scenario: { dir: SHIPPED_SCENARIOS },
  storage: { minFreeDiskMb: 200, healthDegradedStatus: 200, journalRetryMaxMs: 30000 },
  inbound: {
    mode: 'auth',
    // loopback only: `npm start` and SIPp on the same machine work, nothing from outside does
    trustedCidrs: '127.0.0.0/8,::1',
    users: '',
    realm: 'voice-agent',
    algorithms: 'SHA-256,MD5',
    nonceTtlS: 300,
    scannerUserAgents: '',
    rateWindowS: 2,
    rateMax: 60,
    banS: 300,
    maxCallsPerSource: 10,
    maxCalls: 0,
    retryAfterS: 30,
  },
  api: {
    token: '',
    openHealth: 'true',
    openMetrics: 'true',
    maxBodyBytes: 1024 * 1024,
    maxUploadBytes: 20 * 1024 * 1024,
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 120_000,
    keepAliveTimeoutMs: 5_000,
  },
  drainTimeoutS: 300,
  cluster: { instanceId: '', keyPrefix: 'voice:', leaseS: 10, heartbeatMs: 3000 },
  crm: {
    webhookUrl: '',
    webhookSecret: '',
    outboxMaxAttempts: 8,
    recordingBaseUrl: '',
    bitrix24WebhookUrl: '',
    bitrix24RatePerS: 2,
    bitrix24Portal: '',
    bitrix24ClientId: '',
    bitrix24ClientSecret: '',
    bitrix24RefreshToken: '',
    bitrix24OAuthUrl: 'https://oauth.bitrix.info/oauth/token/',
    bitrix24UserId: 0,
    bitrix24CallbackMin: 60,
    bitrix24Currency: 'RUB',
    bitrix24DncStatusId: '',
    bitrix24WrongNumberStatusId: '',
  },
}

/** Environment variable -> config path. The first block is the design's fixed contract. */
const ENV_KEYS: Array<[string, string]> = [
  ['SIP_HOST', 'sip.host'],
  ['SIP_PORT', 'sip.port'],
  ['SIP_T1_MS', 'sip.t1Ms'],
  ['SESSION_EXPIRES_S', 'sip.sessionExpiresS'],
  ['SIP_TLS_PORT', 'sip.tls.port'],
  ['SIP_TLS_CERT', 'sip.tls.cert'],
  ['SIP_TLS_KEY', 'sip.tls.key'],
  ['SIP_TLS_CA', 'sip.tls.ca'],
  ['SIP_TLS_VERIFY_CLIENT', 'sip.tls.verifyClient'],
  ['MIN_SE_S', 'sip.minSeS'],
  ['SIP_TCP_IDLE_TIMEOUT_S', 'sip.tcp.idleTimeoutS'],
  ['SIP_TCP_MAX_CONNECTIONS', 'sip.tcp.maxConnections'],
  ['SIP_TCP_MAX_PER_SOURCE', 'sip.tcp.maxPerSource'],
  ['SIP_BACKEND', 'sipBackend'],
  ['DRACHTIO_HOST', 'drachtio.host'],
  ['DRACHTIO_PORT', 'drachtio.port'],
  ['DRACHTIO_SECRET', 'drachtio.secret'],
  ['MEDIA_BACKEND', 'mediaBackend'],
  ['FREESWITCH_HOST', 'freeswitch.host'],
  ['FREESWITCH_PORT', 'freeswitch.port'],
  ['FREESWITCH_SECRET', 'freeswitch.secret'],
  ['RTP_PORT_MIN', 'rtp.portMin'],
  ['RTP_PORT_MAX', 'rtp.portMax'],
  ['PUBLIC_IP', 'publicIp'],
  ['HTTP_PORT', 'httpPort'],
  ['DATA_DIR', 'dataDir'],
  ['PROMPT_CACHE_DIR', 'promptCacheDir'],
  ['DATABASE_URL', 'databaseUrl'],
  ['REDIS_URL', 'redisUrl'],
  ['LANGUAGE', 'language'],
  ['HTTP_HOST', 'httpHost'],
  ['LOG_LEVEL', 'logLevel'],
  ['ANSWER_DELAY_MS', 'answerDelayMs'],
  ['CODECS', 'codecs'],
  ['SRTP', 'srtp'],
  ['JITTER_INITIAL_MS', 'jitter.initialDelayMs'],
  ['JITTER_MAX_MS', 'jitter.maxDelayMs'],
  ['OPUS_COMPLEXITY', 'opus.complexity'],
  ['MEDIA_WORKERS', 'mediaWorkers'],
  ['MEDIA_PRIORITY', 'mediaPriority'],
  ['LISTEN_NO_INPUT_MS', 'listen.noInputMs'],
  ['LISTEN_END_SILENCE_MS', 'listen.endSilenceMs'],
  ['LISTEN_MIN_SPEECH_MS', 'listen.minSpeechMs'],
  ['LISTEN_MAX_UTTERANCE_MS', 'listen.maxUtteranceMs'],
  ['LISTEN_INTER_DIGIT_MS', 'listen.interDigitMs'],
  ['BARGE_IN_MIN_SPEECH_MS', 'bargeIn.minSpeechMs'],
  ['BARGE_IN_CONFIRM_MS', 'bargeIn.confirmMs'],
  ['ECHO_TAIL_MS', 'bargeIn.echoTailMs'],
  ['ECHO_MARGIN_DB', 'bargeIn.echoMarginDb'],
  ['ASR_FINAL_BUDGET_MS', 'budget.asrFinalMs'],
  ['REPLY_BUDGET_MS', 'budget.replyMs'],
  ['TRANSFER_TARGET', 'transfer.target'],
  ['TRANSFER_DOMAIN', 'transfer.domain'],
  ['TRANSFER_RING_TIMEOUT_MS', 'transfer.ringTimeoutMs'],
  ['TRANSFER_TARGETS', 'transfer.targets'],
  ['VAD_TICK_MS', 'vad.tickMs'],
  ['VAD_GATE_DB', 'vad.gateDb'],
  ['SCENARIO_DIR', 'scenario.dir'],
  ['MIN_FREE_DISK_MB', 'storage.minFreeDiskMb'],
  ['HEALTH_DEGRADED_STATUS', 'storage.healthDegradedStatus'],
  ['JOURNAL_RETRY_MAX_MS', 'storage.journalRetryMaxMs'],
  ['API_TOKEN', 'api.token'],
  ['DRAIN_TIMEOUT_S', 'drainTimeoutS'],
  ['SIP_INBOUND', 'inbound.mode'],
  ['SIP_TRUSTED_CIDRS', 'inbound.trustedCidrs'],
  ['SIP_AUTH_USERS', 'inbound.users'],
  ['SIP_AUTH_REALM', 'inbound.realm'],
  ['SIP_AUTH_ALGORITHMS', 'inbound.algorithms'],
  ['SIP_NONCE_TTL_S', 'inbound.nonceTtlS'],
  ['SIP_SCANNER_USER_AGENTS', 'inbound.scannerUserAgents'],
  ['SIP_RATE_WINDOW_S', 'inbound.rateWindowS'],
  ['SIP_RATE_MAX', 'inbound.rateMax'],
  ['SIP_BAN_S', 'inbound.banS'],
  ['SIP_MAX_CALLS_PER_SOURCE', 'inbound.maxCallsPerSource'],
  ['SIP_MAX_CALLS', 'inbound.maxCalls'],
  ['SIP_RETRY_AFTER_S', 'inbound.retryAfterS'],
  ['HEALTH_OPEN', 'api.openHealth'],
  ['METRICS_OPEN', 'api.openMetrics'],
  ['HTTP_MAX_BODY_BYTES', 'api.maxBodyBytes'],
  ['KNOWLEDGE_MAX_UPLOAD_BYTES', 'api.maxUploadBytes'],
  ['HTTP_HEADERS_TIMEOUT_MS', 'api.headersTimeoutMs'],
  ['HTTP_REQUEST_TIMEOUT_MS', 'api.requestTimeoutMs'],
  ['HTTP_KEEPALIVE_TIMEOUT_MS', 'api.keepAliveTimeoutMs'],
  ['INSTANCE_ID', 'cluster.instanceId'],
  ['REDIS_KEY_PREFIX', 'cluster.keyPrefix'],
  ['CLUSTER_LEASE_S', 'cluster.leaseS'],
  ['CLUSTER_HEARTBEAT_MS', 'cluster.heartbeatMs'],
  ['CRM_WEBHOOK_URL', 'crm.webhookUrl'],
  ['CRM_WEBHOOK_SECRET', 'crm.webhookSecret'],
  ['CRM_OUTBOX_MAX_ATTEMPTS', 'crm.outboxMaxAttempts'],
  ['CRM_RECORDING_BASE_URL', 'crm.recordingBaseUrl'],
  ['BITRIX24_WEBHOOK_URL', 'crm.bitrix24WebhookUrl'],
  ['BITRIX24_RATE_PER_S', 'crm.bitrix24RatePerS'],
  ['BITRIX24_PORTAL', 'crm.bitrix24Portal'],
  ['BITRIX24_CLIENT_ID', 'crm.bitrix24ClientId'],
  ['BITRIX24_CLIENT_SECRET', 'crm.bitrix24ClientSecret'],
  ['BITRIX24_REFRESH_TOKEN', 'crm.bitrix24RefreshToken'],
  ['BITRIX24_OAUTH_URL', 'crm.bitrix24OAuthUrl'],
  ['BITRIX24_USER_ID', 'crm.bitrix24UserId'],
  ['BITRIX24_CALLBACK_MIN', 'crm.bitrix24CallbackMin'],
  ['BITRIX24_CURRENCY', 'crm.bitrix24Currency'],
  ['BITRIX24_DNC_STATUS_ID', 'crm.bitrix24DncStatusId'],
  ['BITRIX24_WRONG_NUMBER_STATUS_ID', 'crm.bitrix24WrongNumberStatusId'],
]

export class ConfigError extends Error {}

function setPath(target: Record<string, unknown>, dotted: string, value: unknown): void {
  const keys = dotted.split('.')
  let node = target
  for (const k of keys.slice(0, -1)) {
    const next = node[k]
    if (!next || typeof next !== 'object') throw new ConfigError(`unknown config key "${dotted}"`)
    node = next as Record<string, unknown>
  }
  const leaf = keys[keys.length - 1]
  if (Array.isArray(node[leaf])) {
    try {
      node[leaf] = parseCodecList(Array.isArray(value) ? value.join(',') : String(value))
    } catch (err) {
      throw new ConfigError(`${dotted}: ${(err as Error).message}`)
    }
  } else if (typeof node[leaf] === 'number') {
    const n = Number(value)
    if (!Number.isInteger(n)) throw new ConfigError(`${dotted} must be an integer, got "${value}"`)
    node[leaf] = n
  } else {
    node[leaf] = value
  }
}

/** Merges the file into cfg and returns its `providers`, `trunks` and `outbound` sections, left unparsed. */
function mergeFile(cfg: Omit<Config, 'providers' | 'trunks' | 'outbound'>, file: string): Sections {
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'))
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`)
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`config file ${file} must hold a JSON object`)
  const { [PROVIDERS_KEY]: providers, trunks, outbound, ...rest } = parsed as Record<string, unknown>
  const walk = (obj: Record<string, unknown>, prefix: string) => {
    for (const [k, v] of Object.entries(obj)) {
      const key = prefix ? `${prefix}.${k}` : k
      if (v && typeof v === 'object' && !Array.isArray(v)) walk(v as Record<string, unknown>, key)
      else setPath(cfg as unknown as Record<string, unknown>, key, v)
    }
  }
  walk(rest, '')
  return { providers, trunks, outbound }
}

/** First non-internal IPv4 address, so that SDP and Contact name something reachable. */
export function firstNonLoopbackAddress(): string {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return '127.0.0.1'
}

/** Defaults, then the JSON file named by CONFIG_FILE, then the environment. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const base = structuredClone(DEFAULTS)
  const sections: Sections = env.CONFIG_FILE ? mergeFile(base, env.CONFIG_FILE) : {}
  const cfg: Config = {
    ...base,
    providers: parseProviderConfig(sections.providers, env),
    trunks: parseTrunks(sections.trunks, env),
    outbound: parseOutbound(sections.outbound, env),
  }
  for (const [name, key] of ENV_KEYS) {
    const v = env[name]
    if (v !== undefined && v !== '') setPath(cfg as unknown as Record<string, unknown>, key, v)
  }
  if (!cfg.publicIp) cfg.publicIp = firstNonLoopbackAddress()
  cfg.dataDir = path.resolve(cfg.dataDir)
  cfg.promptCacheDir = path.resolve(cfg.promptCacheDir || path.join(cfg.dataDir, 'prompts'))
  cfg.scenario.dir = path.resolve(cfg.scenario.dir)
  // A bare-number transfer target is dialled at the (first) trunk unless TRANSFER_DOMAIN says otherwise.
  const t0 = cfg.trunks[0]
  if (!cfg.transfer.domain && t0) cfg.transfer.domain = t0.domain === t0.host && t0.port !== 5060 ? `${t0.host}:${t0.port}` : t0.domain
  validate(cfg)
  return cfg
}

/**
 * Named transfer targets, "seller=89990001122,support=sip:help@pbx.example.com": a scenario's
 * transfer step names one (`target: support`); TRANSFER_TARGET serves every other name.
 */
export function namedTargets(spec: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const part of spec
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const eq = part.indexOf('=')
    const name = part.slice(0, eq).trim()
    const target = part.slice(eq + 1).trim()
    if (eq <= 0 || !target) throw new ConfigError(`TRANSFER_TARGETS: "${part}" is not name=number-or-uri`)
    out[name] = target
  }
  return out
}

/** Where a transfer to `name` goes: its named target, else TRANSFER_TARGET; '' for nowhere. */
export function transferTarget(cfg: Pick<Config, 'transfer'>, name?: string): string {
  return (name && namedTargets(cfg.transfer.targets)[name]) || cfg.transfer.target
}

function validate(cfg: Config): void {
  const port = (name: string, v: number, min = 0) => {
    if (v < min || v > 65535) throw new ConfigError(`${name} must be between ${min} and 65535, got ${v}`)
  }
  port('SIP_PORT', cfg.sip.port)
  port('SIP_TLS_PORT', cfg.sip.tls.port)
  if (cfg.sip.tls.port > 0) {
    for (const [name, file] of [
      ['SIP_TLS_CERT', cfg.sip.tls.cert],
      ['SIP_TLS_KEY', cfg.sip.tls.key],
    ]) {
      if (!file) throw new ConfigError(`SIP_TLS_PORT is set: ${name} must name a PEM file`)
      if (!existsSync(file)) throw new ConfigError(`${name}: no such file ${file}`)
    }
  }
  if (cfg.sip.tls.ca && !existsSync(cfg.sip.tls.ca)) throw new ConfigError(`SIP_TLS_CA: no such file ${cfg.sip.tls.ca}`)
  if (!['off', 'required'].includes(cfg.sip.tls.verifyClient))
    throw new ConfigError(`SIP_TLS_VERIFY_CLIENT must be off or required, got "${cfg.sip.tls.verifyClient}"`)
  for (const trunk of cfg.trunks) {
    // the carrier's requests come back over TLS too, to our TLS port with our certificate
    if (trunk.transport === 'tls' && !(cfg.sip.tls.port > 0))
      throw new ConfigError(`trunk ${trunk.name}: transport tls needs SIP_TLS_PORT (with SIP_TLS_CERT and SIP_TLS_KEY)`)
  }
  port('HTTP_PORT', cfg.httpPort)
  if (cfg.sipBackend !== 'embedded' && cfg.sipBackend !== 'drachtio') throw new ConfigError(`SIP_BACKEND must be embedded or drachtio, got "${cfg.sipBackend}"`)
  if (cfg.sipBackend === 'drachtio') {
    if (!cfg.drachtio.secret)
      throw new ConfigError(
        'SIP_BACKEND=drachtio needs DRACHTIO_SECRET: the secret of drachtio-server\'s admin port (<admin secret="..."> in drachtio.conf.xml)',
      )
    port('DRACHTIO_PORT', cfg.drachtio.port, 1)
  }
  if (cfg.mediaBackend !== 'native' && cfg.mediaBackend !== 'freeswitch')
    throw new ConfigError(`MEDIA_BACKEND must be native or freeswitch, got "${cfg.mediaBackend}"`)
  if (cfg.mediaBackend === 'freeswitch') {
    // fsmrf makes FreeSWITCH's endpoints with INVITEs from drachtio-server
    if (cfg.sipBackend !== 'drachtio') throw new ConfigError('MEDIA_BACKEND=freeswitch needs SIP_BACKEND=drachtio')
    if (!cfg.freeswitch.secret)
      throw new ConfigError(
        'MEDIA_BACKEND=freeswitch needs FREESWITCH_SECRET: the ESL password of FreeSWITCH (event_socket.conf.xml; FS_ESL_PASSWORD with freeswitch-conf/)',
      )
    port('FREESWITCH_PORT', cfg.freeswitch.port, 1)
  }
  port('RTP_PORT_MIN', cfg.rtp.portMin, 1024)
  port('RTP_PORT_MAX', cfg.rtp.portMax, 1024)
  if (cfg.rtp.portMax - cfg.rtp.portMin < 1) {
    throw new ConfigError(`RTP_PORT_MAX (${cfg.rtp.portMax}) must leave room for at least one RTP/RTCP pair above RTP_PORT_MIN (${cfg.rtp.portMin})`)
  }
  if (cfg.sip.t1Ms < 20 || cfg.sip.t1Ms > 4000) throw new ConfigError(`SIP_T1_MS must be between 20 and 4000 (T2 is 4 s), got ${cfg.sip.t1Ms}`)
  // RFC 4028 puts the floor at 90 s; lower values are accepted for tests on a LAN
  for (const [name, v] of [
    ['SIP_TCP_IDLE_TIMEOUT_S', cfg.sip.tcp.idleTimeoutS],
    ['SIP_TCP_MAX_CONNECTIONS', cfg.sip.tcp.maxConnections],
    ['SIP_TCP_MAX_PER_SOURCE', cfg.sip.tcp.maxPerSource],
  ] as const)
    if (!(v > 0)) throw new ConfigError(`${name} must be a positive whole number, got ${v}`)
  if (!Number.isInteger(cfg.sip.minSeS) || cfg.sip.minSeS < 1)
    throw new ConfigError(`MIN_SE_S must be a whole number of seconds, at least 1 (RFC 4028: 90), got ${cfg.sip.minSeS}`)
  if (!Number.isInteger(cfg.sip.sessionExpiresS) || cfg.sip.sessionExpiresS < cfg.sip.minSeS) {
    throw new ConfigError(`SESSION_EXPIRES_S must be a whole number of seconds, at least MIN_SE_S (${cfg.sip.minSeS}), got ${cfg.sip.sessionExpiresS}`)
  }
  if (!['realtime', 'normal'].includes(cfg.mediaPriority)) throw new ConfigError(`MEDIA_PRIORITY must be realtime or normal, got "${cfg.mediaPriority}"`)
  if (cfg.mediaWorkers < 0 || cfg.mediaWorkers > 64) throw new ConfigError(`MEDIA_WORKERS must be between 0 and 64, got ${cfg.mediaWorkers}`)
  if (!cfg.codecs.length) throw new ConfigError('CODECS must name at least one codec')
  if (!SRTP_POLICIES.includes(cfg.srtp)) throw new ConfigError(`SRTP must be off, optional or required, got "${cfg.srtp}"`)
  if (cfg.jitter.maxDelayMs < cfg.jitter.initialDelayMs)
    throw new ConfigError(`JITTER_MAX_MS (${cfg.jitter.maxDelayMs}) must be at least JITTER_INITIAL_MS (${cfg.jitter.initialDelayMs})`)
  if (cfg.opus.complexity < 0 || cfg.opus.complexity > 10) throw new ConfigError(`OPUS_COMPLEXITY must be between 0 and 10, got ${cfg.opus.complexity}`)
  if (cfg.vad.tickMs < 1 || cfg.vad.tickMs > 32) throw new ConfigError(`VAD_TICK_MS must be between 1 and 32 (the window is 32 ms), got ${cfg.vad.tickMs}`)
  const st = cfg.storage
  if (st.healthDegradedStatus !== 200 && st.healthDegradedStatus !== 503)
    throw new ConfigError(`HEALTH_DEGRADED_STATUS must be 200 or 503, got ${st.healthDegradedStatus}`)
  if (st.minFreeDiskMb < 0) throw new ConfigError(`MIN_FREE_DISK_MB must be 0 or more, got ${st.minFreeDiskMb}`)
  if (st.journalRetryMaxMs < 100) throw new ConfigError(`JOURNAL_RETRY_MAX_MS must be at least 100, got ${st.journalRetryMaxMs}`)
  namedTargets(cfg.transfer.targets)
  validateEdge(cfg)
  const cl = cfg.cluster
  if (cl.leaseS < 2 || cl.leaseS > 3600) throw new ConfigError(`CLUSTER_LEASE_S must be between 2 and 3600, got ${cl.leaseS}`)
  if (cl.heartbeatMs < 100 || cl.heartbeatMs * 2 > cl.leaseS * 1000)
    throw new ConfigError(`CLUSTER_HEARTBEAT_MS must be at least 100 and at most half of CLUSTER_LEASE_S, got ${cl.heartbeatMs}`)
  if (cfg.redisUrl && !/^rediss?:\/\//.test(cfg.redisUrl)) throw new ConfigError(`REDIS_URL must start with redis:// or rediss://, got "${cfg.redisUrl}"`)
  const crm = cfg.crm
  if (crm.webhookUrl && !/^https?:\/\/[^/]/.test(crm.webhookUrl))
    throw new ConfigError(`CRM_WEBHOOK_URL must be an http:// or https:// URL, got "${crm.webhookUrl}"`)
  if (crm.bitrix24WebhookUrl && !/^https?:\/\/[^/]+\/rest\/\d+\/[^/]+\/?$/.test(crm.bitrix24WebhookUrl))
    throw new ConfigError(
      `BITRIX24_WEBHOOK_URL must have the form https://<portal>/rest/<user>/<code>/, got "${crm.bitrix24WebhookUrl.replace(/\/rest\/(\d+)\/[^/]+/, '/rest/$1/***')}"`,
    )
  if (crm.bitrix24Portal) {
    if (crm.bitrix24WebhookUrl) throw new ConfigError('set either BITRIX24_WEBHOOK_URL (inbound webhook) or BITRIX24_PORTAL (local application), not both')
    if (!/^(https?:\/\/)?[\w.-]+(:\d+)?\/?$/.test(crm.bitrix24Portal))
      throw new ConfigError(`BITRIX24_PORTAL must be the portal's address (example.bitrix24.ru), got "${crm.bitrix24Portal}"`)
    if (!crm.bitrix24ClientId || !crm.bitrix24ClientSecret)
      throw new ConfigError("BITRIX24_PORTAL needs BITRIX24_CLIENT_ID and BITRIX24_CLIENT_SECRET (the local application's credentials)")
    if (!/^https?:\/\/[^/]/.test(crm.bitrix24OAuthUrl))
      throw new ConfigError(`BITRIX24_OAUTH_URL must be an http:// or https:// URL, got "${crm.bitrix24OAuthUrl}"`)
  }
  if (crm.bitrix24UserId < 0) throw new ConfigError(`BITRIX24_USER_ID must be a Bitrix24 user id, got ${crm.bitrix24UserId}`)
  if (crm.bitrix24UserId && !crm.bitrix24Portal)
    throw new ConfigError('BITRIX24_USER_ID records calls through telephony.externalCall.*, which needs application mode (BITRIX24_PORTAL)')
  if (!/^[A-Z]{3}$/.test(crm.bitrix24Currency))
    throw new ConfigError(`BITRIX24_CURRENCY must be a currency code (RUB, USD, ...), got "${crm.bitrix24Currency}"`)
  if (crm.bitrix24CallbackMin < 0 || crm.bitrix24CallbackMin > 7 * 24 * 60)
    throw new ConfigError(`BITRIX24_CALLBACK_MIN must be between 0 and 10080 (a week), got ${crm.bitrix24CallbackMin}`)
  if (crm.bitrix24RatePerS < 1 || crm.bitrix24RatePerS > 100)
    throw new ConfigError(`BITRIX24_RATE_PER_S must be between 1 and 100, got ${crm.bitrix24RatePerS}`)
  if (crm.outboxMaxAttempts < 1 || crm.outboxMaxAttempts > 100)
    throw new ConfigError(`CRM_OUTBOX_MAX_ATTEMPTS must be between 1 and 100, got ${crm.outboxMaxAttempts}`)
  if (cfg.language !== 'ru' && cfg.language !== 'en') throw new ConfigError(`LANGUAGE must be "ru" or "en", got "${cfg.language}"`)
}
