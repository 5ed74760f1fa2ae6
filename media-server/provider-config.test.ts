import t from 'tap'
import client from 'prom-client'
import { FailoverMetrics } from '../providers/failover.ts'
import { buildProviders, parseProviderConfig, redact, type ProviderFactories, type TtsEntry } from './provider-config.ts'
import { ProviderError, type TtsChunk, type TtsProvider, type TtsRequest } from '../providers/types.ts'

const timeouts = { connectMs: 3000, responseMs: 5000 }

t.test('with nothing configured: eSpeak NG only, no ASR, no LLM', async (t) => {
  t.same(parseProviderConfig(undefined, {}), {
    asr: [],
    tts: [{ type: 'espeak', name: 'espeak', timeouts, budgetMs: 1000 }],
    llm: [],
    backoff: { baseMs: 2000, maxMs: 60_000 },
  })
})

t.test('the file section: ordered lists, baseURL alias, budgets, timeouts, sampling', async (t) => {
  const cfg = parseProviderConfig(
    {
      asr: [
        { type: 'vosk', url: 'ws://10.0.0.5:2700', language: 'ru-RU' },
        { type: 'deepgram', apiKey: 'dg-secret', model: 'nova-2', budgetMs: 900 },
      ],
      tts: [{ type: 'yandex', apiKey: 'y-secret', folderId: 'b1g', voice: 'alena', timeouts: { connectMs: 1000 } }],
      llm: [{ type: 'openai', baseURL: 'http://127.0.0.1:11434/v1', model: 'qwen2.5:7b', temperature: 0.3, maxTokens: 200 }],
      budgetMs: { asr: 1200, tts: 700 },
      backoff: { baseMs: 1000, maxMs: 30_000 },
    },
    {},
  )
  t.same(cfg.asr, [
    { type: 'vosk', name: 'vosk', url: 'ws://10.0.0.5:2700', language: 'ru-RU', timeouts, budgetMs: 1200 },
    { type: 'deepgram', name: 'deepgram', apiKey: 'dg-secret', model: 'nova-2', timeouts, budgetMs: 900 },
  ])
  t.same(
    cfg.tts.map((e) => [e.name, e.budgetMs, e.timeouts.connectMs, e.voice]),
    [
      ['yandex', 700, 1000, 'alena'],
      ['espeak', 700, 3000, undefined],
    ],
    'eSpeak NG is appended as the last fallback',
  )
  t.same(
    cfg.llm,
    [{ type: 'openai', name: 'openai', url: 'http://127.0.0.1:11434/v1', model: 'qwen2.5:7b', temperature: 0.3, maxTokens: 200, timeouts, budgetMs: 2000 }],
    'a self-hosted LLM needs no key',
  )
  t.same(cfg.backoff, { baseMs: 1000, maxMs: 30_000 })
})

t.test('the environment alone configures providers, and wins over the file', async (t) => {
  const env = {
    ASR_PROVIDERS: 'vosk,deepgram',
    VOSK_URL: 'ws://127.0.0.1:2700',
    DEEPGRAM_API_KEY: 'dg',
    TTS_PROVIDERS: 'openai-speech,espeak',
    OPENAI_API_KEY: 'sk-openai',
    LLM_MODEL: 'gpt-4o-mini',
    ASR_BUDGET_MS: '800',
    TTS_BUDGET_MS: '600',
    LLM_BUDGET_MS: '1800',
    PROVIDER_BACKOFF_BASE_MS: '500',
  }
  const cfg = parseProviderConfig(undefined, env)
  t.same(
    cfg.asr.map((e) => [e.type, e.url ?? e.apiKey, e.budgetMs]),
    [
      ['vosk', 'ws://127.0.0.1:2700', 800],
      ['deepgram', 'dg', 800],
    ],
  )
  t.same(
    cfg.tts.map((e) => [e.type, e.apiKey, e.budgetMs]),
    [
      ['openai-speech', 'sk-openai', 600],
      ['espeak', undefined, 600],
    ],
  )
  t.same(
    cfg.llm.map((e) => [e.type, e.model, e.apiKey, e.budgetMs]),
    [['openai', 'gpt-4o-mini', 'sk-openai', 1800]],
    'LLM_MODEL enables the LLM; OPENAI_API_KEY is its fallback key',
  )
  t.same(cfg.backoff, { baseMs: 500, maxMs: 60_000 })

  const file = {
    asr: [
      { type: 'vosk', url: 'ws://file:2700', budgetMs: 2000 },
      { type: 'vosk', name: 'vosk-backup', url: 'ws://backup:2700' },
      { type: 'deepgram', apiKey: 'file-dg' },
    ],
    llm: [{ type: 'openai', url: 'https://api.groq.com/openai/v1', apiKey: 'gsk-file', model: 'llama-3.1-8b-instant' }],
  }
  const over = parseProviderConfig(file, { VOSK_URL: 'ws://env:2700', ASR_BUDGET_MS: '700', OPENAI_API_KEY: 'sk-openai', LLM_TEMPERATURE: '0.2' })
  t.same(
    over.asr.map((e) => [e.name, e.url ?? e.apiKey, e.budgetMs]),
    [
      ['vosk', 'ws://env:2700', 700],
      ['vosk-backup', 'ws://backup:2700', 700],
      ['deepgram', 'file-dg', 700],
    ],
    'a per-type variable overrides the first entry of its type; the kind budget overrides every entry',
  )
  t.equal(over.llm[0].apiKey, 'gsk-file', 'OPENAI_API_KEY does not replace the LLM key of the file (the LLM may be another vendor)')
  t.equal(over.llm[0].temperature, 0.2)
  t.equal(parseProviderConfig(file, { LLM_API_KEY: 'gsk-env' }).llm[0].apiKey, 'gsk-env', 'LLM_API_KEY does')

  const picked = parseProviderConfig(file, { ASR_PROVIDERS: 'vosk-backup,deepgram' })
  t.same(
    picked.asr.map((e) => e.name),
    ['vosk-backup', 'deepgram'],
    'the list variable picks file entries by name and sets the order',
  )
  t.same(parseProviderConfig(file, { ASR_PROVIDERS: 'none' }).asr, [], '"none" turns ASR off')
  t.same(parseProviderConfig(file, { LLM_PROVIDERS: 'none' }).llm, [])
})

t.test('eSpeak NG is the implicit last TTS fallback unless disabled', async (t) => {
  const env = { TTS_PROVIDERS: 'openai-speech', OPENAI_BASE_URL: 'http://127.0.0.1:8880/v1' }
  t.same(
    parseProviderConfig(undefined, env).tts.map((e) => e.name),
    ['openai-speech', 'espeak'],
  )
  t.same(
    parseProviderConfig(undefined, { ...env, TTS_ESPEAK_FALLBACK: 'false' }).tts.map((e) => e.name),
    ['openai-speech'],
  )
  t.same(
    parseProviderConfig({ tts: [{ type: 'espeak' }, { type: 'openai-speech', url: 'http://x/v1' }] }, {}).tts.map((e) => e.name),
    ['espeak', 'openai-speech'],
    'not added twice',
  )
  t.same(parseProviderConfig({ espeakFallback: false, tts: [{ type: 'openai-speech', url: 'http://x/v1' }] }, {}).tts.length, 1)
  t.throws(() => parseProviderConfig({ espeakFallback: false }, {}), /no TTS provider/)
  t.throws(() => parseProviderConfig(undefined, { TTS_ESPEAK_FALLBACK: 'maybe' }), /TTS_ESPEAK_FALLBACK must be true or false, got "maybe"/)
})

t.test('an incomplete provider fails with the provider and the missing key named', async (t) => {
  const missing = (section: unknown, env: NodeJS.ProcessEnv = {}) => {
    try {
      parseProviderConfig(section, env)
    } catch (err) {
      return (err as Error).message
    }
    return 'no error'
  }
  t.equal(missing({ tts: [{ type: 'elevenlabs', voice: 'Rachel' }] }), 'tts provider elevenlabs: missing ELEVENLABS_API_KEY (providers.tts[0].apiKey)')
  t.equal(
    missing({ tts: [{ type: 'elevenlabs' }] }, { ELEVENLABS_API_KEY: 'el' }),
    'tts provider elevenlabs: missing ELEVENLABS_VOICE_ID (providers.tts[0].voice)',
  )
  t.equal(missing(undefined, { ASR_PROVIDERS: 'vosk' }), 'asr provider vosk: missing VOSK_URL (providers.asr[0].url)')
  t.equal(
    missing(undefined, { ASR_PROVIDERS: 'vosk,deepgram', VOSK_URL: 'ws://v' }),
    'asr provider deepgram: missing DEEPGRAM_API_KEY (providers.asr[1].apiKey)',
  )
  t.equal(missing({ asr: [{ type: 'yandex', name: 'speechkit' }] }), 'asr provider speechkit: missing YANDEX_API_KEY (providers.asr[0].apiKey)')
  t.equal(missing(undefined, { TTS_PROVIDERS: 'openai-speech' }), 'tts provider openai-speech: missing OPENAI_API_KEY (providers.tts[0].apiKey)')
  t.equal(missing(undefined, { LLM_BASE_URL: 'http://127.0.0.1:8000/v1' }), 'llm provider openai: missing LLM_MODEL (providers.llm[0].model)')
  t.equal(missing(undefined, { LLM_PROVIDERS: 'openai', LLM_MODEL: 'gpt-4o' }), 'llm provider openai: missing LLM_API_KEY (providers.llm[0].apiKey)')
  t.equal(missing({ asr: [{ type: 'vosk', url: 'not a url' }] }), 'asr provider vosk: url "not a url" is not a URL (providers.asr[0].url)')
  t.equal(
    missing({
      asr: [
        { type: 'vosk', url: 'ws://a' },
        { type: 'vosk', url: 'ws://b' },
      ],
    }),
    'asr providers: two entries named "vosk"; give one a distinct "name"',
  )
})

t.test('unknown types, unknown keys and bad values are refused with a clear message', async (t) => {
  t.throws(() => parseProviderConfig({ asr: [{ type: 'whisper' }] }, {}), {
    message: 'providers.asr[0]: unknown asr provider type "whisper"; expected one of vosk, openai-realtime, openai-transcriptions, deepgram, yandex',
  })
  t.throws(
    () => parseProviderConfig({ tts: [{ type: 'vosk' }] }, {}),
    /providers\.tts\[0\]: unknown tts provider type "vosk"; expected one of espeak, openai-speech, yandex, elevenlabs/,
  )
  t.throws(
    () => parseProviderConfig(undefined, { TTS_PROVIDERS: 'openai-speech,cartesia' }),
    /TTS_PROVIDERS: unknown tts provider "cartesia"; expected one of espeak, openai-speech, yandex, elevenlabs/,
  )
  t.throws(() => parseProviderConfig({ llm: [{}] }, {}), /providers\.llm\[0\]: unknown llm provider type undefined/)
  t.throws(() => parseProviderConfig({ tts: [{ type: 'yandex', apikey: 'x' }] }, {}), /providers\.tts\[0\]: unknown key "apikey"/)
  t.throws(() => parseProviderConfig({ sst: [] }, {}), /providers: unknown key "sst"/)
  t.throws(() => parseProviderConfig({ asr: { type: 'vosk' } }, {}), /providers\.asr must be a list/)
  t.throws(() => parseProviderConfig([], {}), /providers must be an object/)
  t.throws(() => parseProviderConfig(undefined, { TTS_BUDGET_MS: 'fast' }), /TTS_BUDGET_MS must be a positive integer, got "fast"/)
  t.throws(() => parseProviderConfig({ tts: [{ type: 'espeak', budgetMs: -5 }] }, {}), /providers\.tts\[0\]\.budgetMs must be a positive integer, got -5/)
  t.throws(() => parseProviderConfig({ tts: [{ type: 'espeak', timeouts: { connect: 5 } }] }, {}), /providers\.tts\[0\]\.timeouts: unknown key "connect"/)
  t.throws(() => parseProviderConfig({ tts: [{ type: 'yandex', apiKey: 42 }] }, {}), /providers\.tts\[0\]\.apiKey must be a non-empty string/)
  t.throws(() => parseProviderConfig(undefined, { LLM_MODEL: 'm', LLM_API_KEY: 'k', LLM_TEMPERATURE: 'hot' }), /LLM_TEMPERATURE must be a number from 0 to 2/)
  t.throws(() => parseProviderConfig({ backoff: { baseMs: 5000, maxMs: 1000 } }, {}), /maxMs \(1000\) must be at least baseMs \(5000\)/)
})

t.test('redact() hides every key and URL password, and leaves the config alone', async (t) => {
  const cfg = parseProviderConfig(
    {
      asr: [{ type: 'vosk', url: 'ws://asr:hunter2@10.0.0.5:2700' }, { type: 'deepgram' }],
      tts: [{ type: 'elevenlabs', voice: 'Rachel' }],
      llm: [{ type: 'openai', model: 'gpt-4o-mini' }],
    },
    { DEEPGRAM_API_KEY: 'dg-secret-1', ELEVENLABS_API_KEY: 'el-secret-2', OPENAI_API_KEY: 'sk-secret-3' },
  )
  const shown = redact(cfg)
  const text = JSON.stringify(shown)
  for (const secret of ['dg-secret-1', 'el-secret-2', 'sk-secret-3', 'hunter2']) t.notOk(text.includes(secret), `${secret} is not shown`)
  t.equal(shown.asr[1].apiKey, '***')
  t.equal(shown.tts[0].apiKey, '***')
  t.equal(shown.llm[0].apiKey, '***')
  t.equal(shown.asr[0].url, 'ws://***:***@10.0.0.5:2700/')
  t.equal(shown.tts[1].apiKey, undefined, 'an entry without a key gets none')
  t.equal(shown.tts[0].voice, 'Rachel', 'the rest is shown')
  t.equal(cfg.asr[1].apiKey, 'dg-secret-1', 'the original keeps its keys')
})

class StubTts implements TtsProvider {
  constructor(
    readonly entry: TtsEntry,
    private readonly fail: boolean,
  ) {}
  get name() {
    return this.entry.type
  }
  async *synthesize(request: TtsRequest): AsyncIterable<TtsChunk> {
    if (this.fail) throw new ProviderError(this.name, 'connect', 'refused')
    yield { pcm: new Int16Array(160).fill(this.entry.voice === 'alena' ? 1 : 2), sampleRate: request.sampleRate }
  }
  async close() {}
}

t.test('buildProviders wraps the factories products in failover, by kind', async (t) => {
  const cfg = parseProviderConfig({ tts: [{ type: 'yandex', apiKey: 'k', voice: 'alena' }], backoff: { baseMs: 1000, maxMs: 4000 } }, {})
  const built: TtsEntry[] = []
  let ms = 0
  const registry = new client.Registry()
  const factories: ProviderFactories = {
    tts: {
      yandex: (e) => (built.push(e), new StubTts(e, true)),
      espeak: (e) => (built.push(e), new StubTts(e, false)),
    },
  }
  const providers = buildProviders(cfg, factories, { metrics: new FailoverMetrics(registry), now: () => ms })
  t.equal(providers.asr, undefined, 'no ASR configured: none built (the clip recording stays)')
  t.equal(providers.llm, undefined)
  t.same(
    built.map((e) => e.name),
    ['yandex', 'espeak'],
    'each entry went to its factory',
  )
  const request = { text: 'Алло', voice: 'ru', language: 'ru-RU', sampleRate: 8000 as const }
  const chunks: TtsChunk[] = []
  for await (const c of providers.tts.synthesize(request)) chunks.push(c)
  t.equal(chunks[0].pcm[0], 2, 'the failing provider fell back to eSpeak NG')
  const healthy = async () =>
    (await (registry.getSingleMetric('voice_provider_healthy') as client.Gauge).get()).values.map((v) => `${v.labels.provider}=${v.value}`)
  t.same(await healthy(), ['yandex=0', 'espeak=1'])
  ms += 1000
  t.same(await healthy(), ['yandex=1', 'espeak=1'], 'the configured backoff base applies')

  t.throws(() => buildProviders(parseProviderConfig(undefined, { ASR_PROVIDERS: 'deepgram', DEEPGRAM_API_KEY: 'k' }), factories), {
    message: 'asr provider deepgram: no adapter for type "deepgram"',
  })
  let asrBuilt = 0
  const withAsr = buildProviders(parseProviderConfig(undefined, { ASR_PROVIDERS: 'vosk', VOSK_URL: 'ws://127.0.0.1:2700' }), {
    ...factories,
    asr: {
      vosk: (e) => (
        asrBuilt++,
        {
          name: e.name,
          stream: () => {
            throw new Error('unused')
          },
          close: async () => {},
        }
      ),
    },
  })
  t.equal(withAsr.asr?.name, 'asr-failover')
  t.equal(asrBuilt, 1)
})
