// The adapters behind each provider type of the configuration: one constructor per config entry,
// given the entry's endpoint, key, model, voice and timeouts plus the server's metrics registry and
// logger. buildProviders (provider-config.ts) wraps each kind in failover.
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { ConfigError, type Config } from './config.ts'
import type { EspeakTts } from '../providers/tts/espeak-engine.ts'
import { DeepgramAsr } from '../providers/asr/deepgram.ts'
import { OpenAiRealtimeAsr } from '../providers/asr/openai-realtime.ts'
import { OpenAiTranscriptionsAsr } from '../providers/asr/openai-transcriptions.ts'
import { VoskAsr } from '../providers/asr/vosk.ts'
import { YandexSpeechKitAsr } from '../providers/asr/yandex-speechkit.ts'
import { FailoverMetrics } from '../providers/failover.ts'
import { OpenAiChat } from '../providers/llm/openai-chat.ts'
import { buildProviders, type BuiltProviders, type ProviderEntry, type ProviderFactories } from './provider-config.ts'
import { ElevenLabsTts } from '../providers/tts/elevenlabs-ws.ts'
import { EspeakProvider } from '../providers/tts/espeak.ts'
import { OpenAiSpeechTts } from '../providers/tts/openai-speech.ts'
import { YandexSpeechKitTts } from '../providers/tts/yandex-speechkit.ts'
import type { AsrProvider, LlmProvider, TtsProvider } from '../providers/types.ts'

/** What a call gets to talk with: the failover wrappers of each configured kind. */
export interface CallProviders {
  /** absent when no ASR is configured: answers are recorded as clips */
  asr?: AsrProvider
  tts: TtsProvider
  /** absent when no LLM is configured: the scenario engine runs alone */
  llm?: LlmProvider
}

export interface ProviderDeps {
  /** the server's metrics registry (Metrics.registry) */
  registry: Registry
  logger: Logger
  /** the server's eSpeak NG engine, shared with the prompt cache so only one worker runs */
  espeak: EspeakTts
}

const OPENAI_BASE_URL = 'https://api.openai.com/v1'
// the SDK refuses an empty key; a self-hosted server (the config allows none with a url) ignores it
const NO_KEY = 'none'
const DEFAULT_MODELS = { 'openai-speech': 'gpt-4o-mini-tts', elevenlabs: 'eleven_flash_v2_5' }
/** Provider voices for the call's 'ru' and 'en' when the entry names none. */
const DEFAULT_VOICES = { 'openai-speech': { ru: 'alloy', en: 'alloy' }, yandex: { ru: 'alena', en: 'john' } }

/** The entry's one voice for every language of the call, or the type's defaults. */
function voices(entry: ProviderEntry, defaults?: Record<string, string>): Record<string, string> | undefined {
  return entry.voice ? { ru: entry.voice, en: entry.voice } : defaults
}

/** SpeechKit TTS takes host:port and a TLS flag; the config, like the ASR adapter, an http(s) URL. */
function grpcTarget(entry: ProviderEntry): { endpoint?: string; tls?: boolean } {
  if (entry.url === undefined) return {}
  const url = new URL(entry.url)
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError(`tts provider ${entry.name}: url must be https://host:port (or http:// for plaintext), got ${url.protocol}//${url.host}`)
  }
  const tls = url.protocol === 'https:'
  return { endpoint: `${url.hostname}:${url.port || (tls ? 443 : 80)}`, tls }
}

/** The adapter constructors of every type provider-config knows. */
export function providerFactories(deps: ProviderDeps): ProviderFactories {
  const { registry, espeak } = deps
  const logger = deps.logger.child({ component: 'providers' })
  // ASR adapters name themselves by type and label their logs with it
  const asr = (e: ProviderEntry) => ({ url: e.url, apiKey: e.apiKey, model: e.model, language: e.language, timeouts: e.timeouts, registry, logger })
  return {
    asr: {
      vosk: (e) => new VoskAsr({ url: e.url, timeouts: e.timeouts, registry, logger }),
      'openai-realtime': (e) => new OpenAiRealtimeAsr(asr(e)),
      'openai-transcriptions': (e) => new OpenAiTranscriptionsAsr(asr(e)),
      deepgram: (e) => new DeepgramAsr({ ...asr(e), apiKey: e.apiKey! }),
      yandex: (e) => new YandexSpeechKitAsr({ ...asr(e), folderId: e.folderId }),
    },
    tts: {
      espeak: (e) => new EspeakProvider({ engine: espeak, timeouts: e.timeouts, registry, logger: logger.child({ provider: e.name }) }),
      'openai-speech': (e) =>
        new OpenAiSpeechTts({
          name: e.name,
          baseURL: e.url ?? OPENAI_BASE_URL,
          apiKey: e.apiKey ?? NO_KEY,
          model: e.model ?? DEFAULT_MODELS['openai-speech'],
          voices: voices(e, DEFAULT_VOICES['openai-speech']),
          timeouts: e.timeouts,
          registry,
        }),
      yandex: (e) =>
        new YandexSpeechKitTts({
          name: e.name,
          ...grpcTarget(e),
          apiKey: e.apiKey,
          folderId: e.folderId,
          voices: voices(e, DEFAULT_VOICES.yandex),
          timeouts: e.timeouts,
          registry,
        }),
      elevenlabs: (e) =>
        new ElevenLabsTts({
          name: e.name,
          baseURL: e.url,
          apiKey: e.apiKey!,
          model: e.model ?? DEFAULT_MODELS.elevenlabs,
          voices: voices(e),
          timeouts: e.timeouts,
          registry,
        }),
    },
    llm: {
      openai: (e) =>
        new OpenAiChat({
          name: e.name,
          baseURL: e.url ?? OPENAI_BASE_URL,
          apiKey: e.apiKey ?? NO_KEY,
          model: e.model!,
          temperature: e.temperature,
          maxTokens: e.maxTokens,
          timeouts: e.timeouts,
          registry,
        }),
    },
  }
}

/** Every configured provider, each kind behind failover, with failover metrics on deps.registry. */
export function createProviders(config: Config, deps: ProviderDeps): BuiltProviders {
  return buildProviders(config.providers, providerFactories(deps), {
    metrics: new FailoverMetrics(deps.registry),
    logger: deps.logger.child({ component: 'providers' }),
  })
}
