import { existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { ConfigError, loadConfig, transferTarget } from './config.ts'
import { redact } from './provider-config.ts'

const dir = mkdtempSync(path.join(os.tmpdir(), 'config-test-'))
let files = 0
function configFile(body: unknown): string {
  const file = path.join(dir, `config-${files++}.json`)
  writeFileSync(file, JSON.stringify(body))
  return file
}

t.test('defaults: no ASR, no LLM, eSpeak NG as the only TTS', async (t) => {
  const cfg = loadConfig({})
  t.same(cfg.providers.asr, [])
  t.same(cfg.providers.llm, [])
  t.same(
    cfg.providers.tts.map((e) => e.type),
    ['espeak'],
  )
  t.equal(cfg.sip.port, 5060)
  t.ok(existsSync(path.join(cfg.scenario.dir, 'sales.yaml')), 'the shipped sales scenario is the default')
  t.equal(cfg.promptCacheDir, path.join(cfg.dataDir, 'prompts'), 'prompts are cached under DATA_DIR by default')
  t.equal(loadConfig({ PROMPT_CACHE_DIR: '/srv/prompts' }).promptCacheDir, '/srv/prompts')
  t.equal(loadConfig({ SCENARIO_DIR: 'some/dir' }).scenario.dir, path.resolve('some/dir'), 'SCENARIO_DIR replaces it')
})

t.test('a file with a providers section loads next to the other keys', async (t) => {
  const file = configFile({
    sip: { port: 5070 },
    codecs: ['PCMA', 'PCMU'],
    providers: {
      asr: [
        { type: 'vosk', url: 'ws://127.0.0.1:2700' },
        { type: 'deepgram', apiKey: 'dg-secret' },
      ],
      tts: [{ type: 'yandex', apiKey: 'ya-secret', folderId: 'b1g', voice: 'alena', timeouts: { connectMs: 1000 } }],
      llm: [{ type: 'openai', baseURL: 'http://127.0.0.1:11434/v1', model: 'qwen2.5:7b' }],
      budgetMs: { asr: 1200 },
      backoff: { baseMs: 1000, maxMs: 5000 },
    },
  })
  const cfg = loadConfig({ CONFIG_FILE: file, SIP_PORT: '5080' })
  t.equal(cfg.sip.port, 5080, 'the environment still wins over the file')
  t.same(cfg.codecs, ['PCMA', 'PCMU'])
  t.same(
    cfg.providers.asr.map((e) => [e.name, e.url ?? e.apiKey, e.budgetMs]),
    [
      ['vosk', 'ws://127.0.0.1:2700', 1200],
      ['deepgram', 'dg-secret', 1200],
    ],
  )
  t.same(
    cfg.providers.tts.map((e) => e.type),
    ['yandex', 'espeak'],
    'eSpeak NG is appended as the last resort',
  )
  t.equal(cfg.providers.tts[0].timeouts.connectMs, 1000)
  t.match(cfg.providers.llm, [{ type: 'openai', url: 'http://127.0.0.1:11434/v1', model: 'qwen2.5:7b' }])
  t.same(cfg.providers.backoff, { baseMs: 1000, maxMs: 5000 })
})

t.test('providers from the environment alone', async (t) => {
  const cfg = loadConfig({ VOSK_URL: 'ws://vosk:2700', ASR_PROVIDERS: 'vosk', LLM_BASE_URL: 'http://llm:8000/v1', LLM_MODEL: 'm' })
  t.match(cfg.providers.asr, [{ type: 'vosk', name: 'vosk', url: 'ws://vosk:2700' }])
  t.equal(cfg.providers.asr.length, 1)
  t.match(cfg.providers.llm, [{ type: 'openai', url: 'http://llm:8000/v1', model: 'm' }])
})

t.test('a missing key names the variable that gives it', async (t) => {
  t.throws(() => loadConfig({ ASR_PROVIDERS: 'deepgram' }), { constructor: ConfigError, message: /missing DEEPGRAM_API_KEY/ })
  const file = configFile({ providers: { tts: [{ type: 'elevenlabs', apiKey: 'k' }] } })
  t.throws(() => loadConfig({ CONFIG_FILE: file }), { message: /ELEVENLABS_VOICE_ID.*providers\.tts\[0\]\.voice/ })
})

t.test('bad files give a ConfigError, not a TypeError', async (t) => {
  t.throws(() => loadConfig({ CONFIG_FILE: configFile({ providers: { asr: [{ type: 'whisper' }] } }) }), {
    constructor: ConfigError,
    message: /unknown asr provider type "whisper"/,
  })
  t.throws(() => loadConfig({ CONFIG_FILE: configFile({ nosuch: { port: 1 } }) }), { constructor: ConfigError, message: /unknown config key "nosuch.port"/ })
  t.throws(() => loadConfig({ CONFIG_FILE: configFile([1, 2]) }), { constructor: ConfigError, message: /JSON object/ })
})

t.test('redact hides keys and URL passwords', async (t) => {
  const file = configFile({
    providers: {
      asr: [{ type: 'deepgram', apiKey: 'dg-secret' }],
      llm: [{ type: 'openai', url: 'https://user:pw-secret@llm.example/v1', model: 'm', apiKey: 'sk-secret' }],
    },
  })
  const cfg = loadConfig({ CONFIG_FILE: file, YANDEX_API_KEY: 'ya-secret', TTS_PROVIDERS: 'yandex' })
  const text = JSON.stringify(redact(cfg.providers))
  for (const secret of ['dg-secret', 'pw-secret', 'sk-secret', 'ya-secret']) t.notOk(text.includes(secret), `${secret} is hidden`)
  t.equal(redact(cfg.providers).asr[0].apiKey, '***')
  t.equal(cfg.providers.asr[0].apiKey, 'dg-secret', 'the config itself keeps the key')
})

t.test('named transfer targets: a scenario step names one, TRANSFER_TARGET serves the rest', async (t) => {
  const cfg = loadConfig({ TRANSFER_TARGET: '89990001122', TRANSFER_TARGETS: 'support = sip:help@pbx.example.com, vip=84950000000' })
  t.equal(transferTarget(cfg, 'support'), 'sip:help@pbx.example.com')
  t.equal(transferTarget(cfg, 'vip'), '84950000000')
  t.equal(transferTarget(cfg, 'seller'), '89990001122', 'an unnamed target goes to TRANSFER_TARGET')
  t.equal(transferTarget(cfg), '89990001122')
  t.equal(transferTarget(loadConfig({}), 'seller'), '', 'none configured: nowhere')
  t.throws(() => loadConfig({ TRANSFER_TARGETS: 'support' }), { constructor: ConfigError, message: /TRANSFER_TARGETS: "support" is not name=number-or-uri/ })
})

t.test('OPUS_COMPLEXITY: default 2, set from the environment or the file, checked', async (t) => {
  t.equal(loadConfig({}).opus.complexity, 2)
  t.equal(loadConfig({ OPUS_COMPLEXITY: '5' }).opus.complexity, 5)
  t.equal(loadConfig({ CONFIG_FILE: configFile({ opus: { complexity: 3 } }) }).opus.complexity, 3)
  t.throws(() => loadConfig({ OPUS_COMPLEXITY: '11' }), { constructor: ConfigError, message: /OPUS_COMPLEXITY must be between 0 and 10/ })
  t.throws(() => loadConfig({ OPUS_COMPLEXITY: 'high' }), { constructor: ConfigError, message: /must be an integer/ })
})

t.test('storage fault settings: defaults, environment, bad values', async (t) => {
  t.same(loadConfig({}).storage, { minFreeDiskMb: 200, healthDegradedStatus: 200, journalRetryMaxMs: 30000 })
  t.same(loadConfig({ MIN_FREE_DISK_MB: '50', HEALTH_DEGRADED_STATUS: '503', JOURNAL_RETRY_MAX_MS: '2000' }).storage, {
    minFreeDiskMb: 50,
    healthDegradedStatus: 503,
    journalRetryMaxMs: 2000,
  })
  t.throws(() => loadConfig({ HEALTH_DEGRADED_STATUS: '500' }), { constructor: ConfigError, message: /HEALTH_DEGRADED_STATUS must be 200 or 503/ })
  t.throws(() => loadConfig({ MIN_FREE_DISK_MB: '-1' }), { constructor: ConfigError, message: /MIN_FREE_DISK_MB/ })
})

t.test('session timers: SESSION_EXPIRES_S and MIN_SE_S', async (t) => {
  const cfg = loadConfig({})
  t.equal(cfg.sip.sessionExpiresS, 1800)
  t.equal(cfg.sip.minSeS, 90)
  const set = loadConfig({ SESSION_EXPIRES_S: '600', MIN_SE_S: '120' })
  t.same([set.sip.sessionExpiresS, set.sip.minSeS], [600, 120])
  t.throws(() => loadConfig({ SESSION_EXPIRES_S: '60' }), /SESSION_EXPIRES_S must be .* at least MIN_SE_S/, 'below MIN_SE_S')
  t.throws(() => loadConfig({ MIN_SE_S: '0' }), /MIN_SE_S must be/)
})

t.test('SIP TCP limits from SIP_TCP_*', async (t) => {
  t.same(loadConfig({}).sip.tcp, { idleTimeoutS: 120, maxConnections: 2048, maxPerSource: 64 }, 'Kamailio-like defaults')
  t.same(loadConfig({ SIP_TCP_IDLE_TIMEOUT_S: '30', SIP_TCP_MAX_CONNECTIONS: '500', SIP_TCP_MAX_PER_SOURCE: '8' }).sip.tcp, {
    idleTimeoutS: 30,
    maxConnections: 500,
    maxPerSource: 8,
  })
  t.throws(() => loadConfig({ SIP_TCP_MAX_PER_SOURCE: '0' }), /SIP_TCP_MAX_PER_SOURCE must be a positive whole number/)
  t.throws(() => loadConfig({ SIP_TCP_IDLE_TIMEOUT_S: 'soon' }), /must be an integer/)
})

t.test('SIP over TLS: SIP_TLS_PORT needs SIP_TLS_CERT and SIP_TLS_KEY files', async (t) => {
  t.same(loadConfig({}).sip.tls, { port: 0, cert: '', key: '', ca: '', verifyClient: 'off' }, 'off by default')
  t.throws(() => loadConfig({ SIP_TLS_PORT: '5061' }), /SIP_TLS_CERT must name a PEM file/)
  t.throws(() => loadConfig({ SIP_TLS_PORT: '5061', SIP_TLS_CERT: '/nonexistent.crt', SIP_TLS_KEY: '/nonexistent.key' }), /no such file/)
  const cert = configFile({})
  const cfg = loadConfig({ SIP_TLS_PORT: '5061', SIP_TLS_CERT: cert, SIP_TLS_KEY: cert })
  t.same(cfg.sip.tls, { port: 5061, cert, key: cert, ca: '', verifyClient: 'off' })
  t.equal(loadConfig({ SIP_TLS_PORT: '5061', SIP_TLS_CERT: cert, SIP_TLS_KEY: cert, SIP_TLS_VERIFY_CLIENT: 'required' }).sip.tls.verifyClient, 'required')
  t.throws(() => loadConfig({ SIP_TLS_VERIFY_CLIENT: 'yes' }), /SIP_TLS_VERIFY_CLIENT must be off or required/)
  t.throws(() => loadConfig({ SIP_TLS_PORT: '5061', SIP_TLS_CERT: cert, SIP_TLS_KEY: cert, SIP_TLS_CA: '/nonexistent.pem' }), /SIP_TLS_CA: no such file/)
  t.equal(loadConfig({ SIP_TLS_PORT: '5061', SIP_TLS_CERT: cert, SIP_TLS_KEY: cert, SIP_TLS_CA: cert }).sip.tls.ca, cert)
})

t.test('MEDIA_PRIORITY: realtime by default, normal on request, nothing else', async (t) => {
  t.equal(loadConfig({}).mediaPriority, 'realtime')
  t.equal(loadConfig({ MEDIA_PRIORITY: 'normal' }).mediaPriority, 'normal')
  t.throws(() => loadConfig({ MEDIA_PRIORITY: 'rt' }), { constructor: ConfigError, message: /MEDIA_PRIORITY must be realtime or normal/ })
})

t.test('the cluster keys: REDIS_URL, INSTANCE_ID, REDIS_KEY_PREFIX, the lease and heartbeat', async (t) => {
  const d = loadConfig({})
  t.equal(d.redisUrl, undefined, 'no Redis by default: one instance alone')
  t.same(d.cluster, { instanceId: '', keyPrefix: 'voice:', leaseS: 10, heartbeatMs: 3000 })
  const c = loadConfig({
    REDIS_URL: 'redis://127.0.0.1:6379/2',
    INSTANCE_ID: 'edge-1',
    REDIS_KEY_PREFIX: 'sales:',
    CLUSTER_LEASE_S: '6',
    CLUSTER_HEARTBEAT_MS: '2000',
  })
  t.equal(c.redisUrl, 'redis://127.0.0.1:6379/2')
  t.same(c.cluster, { instanceId: 'edge-1', keyPrefix: 'sales:', leaseS: 6, heartbeatMs: 2000 })
  t.throws(() => loadConfig({ REDIS_URL: '127.0.0.1:6379' }), /REDIS_URL must start with redis:\/\//, 'a URL without its scheme')
  t.throws(() => loadConfig({ CLUSTER_LEASE_S: '4', CLUSTER_HEARTBEAT_MS: '3000' }), /CLUSTER_HEARTBEAT_MS/, 'a heartbeat over half the lease')
  t.throws(() => loadConfig({ CLUSTER_LEASE_S: '1' }), /CLUSTER_LEASE_S/)
})

t.test('SIP_BACKEND: embedded by default; drachtio needs the admin secret and takes its address from DRACHTIO_*', async (t) => {
  const c = loadConfig({})
  t.equal(c.sipBackend, 'embedded')
  t.throws(() => loadConfig({ SIP_BACKEND: 'drachtio' }), { constructor: ConfigError, message: /SIP_BACKEND=drachtio needs DRACHTIO_SECRET/ })
  t.throws(() => loadConfig({ SIP_BACKEND: 'sofia' }), { constructor: ConfigError, message: /SIP_BACKEND must be embedded or drachtio/ })
  const d = loadConfig({ SIP_BACKEND: 'drachtio', DRACHTIO_HOST: '10.0.0.5', DRACHTIO_PORT: '9023', DRACHTIO_SECRET: 's3' })
  t.same(d.drachtio, { host: '10.0.0.5', port: 9023, secret: 's3' })
  t.throws(() => loadConfig({ SIP_BACKEND: 'drachtio', DRACHTIO_SECRET: 's3', DRACHTIO_PORT: '0' }), { message: /DRACHTIO_PORT must be between 1 and 65535/ })
})

t.test('MEDIA_BACKEND: native by default; freeswitch needs drachtio and the ESL password', async (t) => {
  t.equal(loadConfig({}).mediaBackend, 'native')
  t.throws(() => loadConfig({ MEDIA_BACKEND: 'asterisk' }), { constructor: ConfigError, message: /MEDIA_BACKEND must be native or freeswitch/ })
  t.throws(() => loadConfig({ MEDIA_BACKEND: 'freeswitch', FREESWITCH_SECRET: 'x' }), { message: /MEDIA_BACKEND=freeswitch needs SIP_BACKEND=drachtio/ })
  const drachtio = { SIP_BACKEND: 'drachtio', DRACHTIO_SECRET: 's3' }
  t.throws(() => loadConfig({ ...drachtio, MEDIA_BACKEND: 'freeswitch' }), { message: /needs FREESWITCH_SECRET/ })
  const c = loadConfig({ ...drachtio, MEDIA_BACKEND: 'freeswitch', FREESWITCH_HOST: '10.0.0.6', FREESWITCH_PORT: '8022', FREESWITCH_SECRET: 'esl' })
  t.same(c.freeswitch, { host: '10.0.0.6', port: 8022, secret: 'esl' })
})
