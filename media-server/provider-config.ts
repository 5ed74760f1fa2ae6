// Which ASR, TTS and LLM providers the server uses, in order of preference, with their endpoints,
// models, voices and keys: the config file's `providers` section, overridden by the environment.
// Adapters are plugged in by type through `buildProviders`, so this module imports none of them.
//
// File section (JSON):
//   "providers": {
//     "asr": [{ "type": "vosk", "url": "ws://127.0.0.1:2700" }, { "type": "deepgram", "apiKey": "..." }],
//     "tts": [{ "type": "yandex", "apiKey": "...", "folderId": "...", "voice": "alena" }],
//     "llm": [{ "type": "openai", "baseURL": "http://127.0.0.1:11434/v1", "model": "qwen2.5:7b" }],
//     "budgetMs": { "asr": 1500, "tts": 1000, "llm": 2000 },
//     "backoff": { "baseMs": 2000, "maxMs": 60000 },
//     "espeakFallback": true
//   }
// An entry: type, name (defaults to the type; must be unique within its kind), url (alias baseURL),
// apiKey, folderId, model, voice, language, temperature, maxTokens (LLM sampling),
// timeouts { connectMs, responseMs }, budgetMs (overrides the kind's budget).
//
// Environment (wins over the file). A per-type variable applies to the first entry of that type;
// a list variable picks entries by name (file entries) or type (new entries) and drops the rest.
//   ASR_PROVIDERS / TTS_PROVIDERS / LLM_PROVIDERS  ordered list, e.g. "vosk,deepgram"; "none" for none
//   VOSK_URL              asr vosk: url (required)
//   DEEPGRAM_API_KEY      asr deepgram: apiKey (required)
//   OPENAI_API_KEY        asr openai-realtime, openai-transcriptions, tts openai-speech: apiKey
//                         (required unless a url points at a self-hosted server); llm openai: apiKey
//                         only when neither LLM_API_KEY nor the file gives one (the LLM may be Groq)
//   OPENAI_BASE_URL       the same entries: url; for the LLM likewise only a fallback
//   LLM_API_KEY / LLM_BASE_URL / LLM_MODEL
//                         llm openai: apiKey (required unless a url is set), url, model (required);
//                         LLM_BASE_URL or LLM_MODEL alone enables the LLM when no list says otherwise
//   LLM_TEMPERATURE       llm openai: temperature
//   YANDEX_API_KEY        asr yandex, tts yandex: apiKey (required)
//   YANDEX_FOLDER_ID      asr yandex, tts yandex: folderId
//   ELEVENLABS_API_KEY    tts elevenlabs: apiKey (required)
//   ELEVENLABS_VOICE_ID   tts elevenlabs: voice (required)
//   ASR_BUDGET_MS / TTS_BUDGET_MS / LLM_BUDGET_MS  the kind's budget, for every entry of the kind
//   TTS_ESPEAK_FALLBACK   "false"/"0": no implicit eSpeak NG at the end of the TTS list
//   PROVIDER_BACKOFF_BASE_MS / PROVIDER_BACKOFF_MAX_MS  health backoff after a failure
//
// TTS always ends with the embedded eSpeak NG unless disabled; with no ASR the skeleton's clip
// recording stays; with no LLM the scenario engine runs alone.
import type { Logger } from 'pino'
import { ConfigError } from './config.ts'
import { FailoverAsr, FailoverLlm, FailoverTts, type FailoverMetrics } from '../providers/failover.ts'
import { ProviderHealth } from '../providers/health.ts'
import type { AsrProvider, LlmProvider, ProviderTimeouts, TtsProvider } from '../providers/types.ts'

export const ASR_TYPES = ['vosk', 'openai-realtime', 'openai-transcriptions', 'deepgram', 'yandex'] as const
export const TTS_TYPES = ['espeak', 'openai-speech', 'yandex', 'elevenlabs'] as const
export const LLM_TYPES = ['openai'] as const
export type AsrType = (typeof ASR_TYPES)[number]
export type TtsType = (typeof TTS_TYPES)[number]
export type LlmType = (typeof LLM_TYPES)[number]
type Kind = 'asr' | 'tts' | 'llm'

export interface ProviderEntry<T extends string = string> {
  type: T
  /** label in health, metrics and logs; the type unless given */
  name: string
  /** endpoint: WebSocket URL (Vosk), base URL (OpenAI-compatible), host (gRPC) */
  url?: string
  apiKey?: string
  folderId?: string
  model?: string
  voice?: string
  language?: string
  temperature?: number
  maxTokens?: number
  timeouts: ProviderTimeouts
  /** how long the caller may wait for this provider's first output before the next one takes over */
  budgetMs: number
}
export type AsrEntry = ProviderEntry<AsrType>
export type TtsEntry = ProviderEntry<TtsType>
export type LlmEntry = ProviderEntry<LlmType>

export interface ProviderConfig {
  asr: AsrEntry[]
  tts: TtsEntry[]
  llm: LlmEntry[]
  backoff: { baseMs: number; maxMs: number }
}

const TYPES: Record<Kind, readonly string[]> = { asr: ASR_TYPES, tts: TTS_TYPES, llm: LLM_TYPES }
const DEFAULT_BUDGET_MS: Record<Kind, number> = { asr: 1500, tts: 1000, llm: 2000 }
const DEFAULT_TIMEOUTS: ProviderTimeouts = { connectMs: 3000, responseMs: 5000 }
const DEFAULT_BACKOFF = { baseMs: 2000, maxMs: 60_000 }

const STRING_FIELDS = ['type', 'name', 'url', 'apiKey', 'folderId', 'model', 'voice', 'language'] as const
const NUMBER_FIELDS = ['temperature', 'maxTokens', 'budgetMs'] as const
type StringField = (typeof STRING_FIELDS)[number]
const ENTRY_KEYS = new Set<string>([...STRING_FIELDS, ...NUMBER_FIELDS, 'baseURL', 'timeouts'])
const SECTION_KEYS = new Set(['asr', 'tts', 'llm', 'budgetMs', 'backoff', 'espeakFallback'])

interface EnvOverride {
  env: string
  field: StringField | 'temperature'
  /** only fills a value neither the file nor a more specific variable gave */
  fallback?: boolean
}

/** Per-type environment overrides, in precedence order (a specific variable before a fallback). */
const ENV: Record<Kind, Partial<Record<string, EnvOverride[]>>> = {
  asr: {
    vosk: [{ env: 'VOSK_URL', field: 'url' }],
    deepgram: [{ env: 'DEEPGRAM_API_KEY', field: 'apiKey' }],
    'openai-realtime': [
      { env: 'OPENAI_API_KEY', field: 'apiKey' },
      { env: 'OPENAI_BASE_URL', field: 'url' },
    ],
    'openai-transcriptions': [
      { env: 'OPENAI_API_KEY', field: 'apiKey' },
      { env: 'OPENAI_BASE_URL', field: 'url' },
    ],
    yandex: [
      { env: 'YANDEX_API_KEY', field: 'apiKey' },
      { env: 'YANDEX_FOLDER_ID', field: 'folderId' },
    ],
  },
  tts: {
    'openai-speech': [
      { env: 'OPENAI_API_KEY', field: 'apiKey' },
      { env: 'OPENAI_BASE_URL', field: 'url' },
    ],
    yandex: [
      { env: 'YANDEX_API_KEY', field: 'apiKey' },
      { env: 'YANDEX_FOLDER_ID', field: 'folderId' },
    ],
    elevenlabs: [
      { env: 'ELEVENLABS_API_KEY', field: 'apiKey' },
      { env: 'ELEVENLABS_VOICE_ID', field: 'voice' },
    ],
  },
  llm: {
    openai: [
      { env: 'LLM_API_KEY', field: 'apiKey' },
      { env: 'LLM_BASE_URL', field: 'url' },
      { env: 'LLM_MODEL', field: 'model' },
      { env: 'LLM_TEMPERATURE', field: 'temperature' },
      { env: 'OPENAI_API_KEY', field: 'apiKey', fallback: true },
      { env: 'OPENAI_BASE_URL', field: 'url', fallback: true },
    ],
  },
}

interface Required {
  field: StringField
  env: string
  /** not needed when the entry names its own url (a self-hosted server) */
  unlessUrl?: boolean
}

const REQUIRED: Record<Kind, Partial<Record<string, Required[]>>> = {
  asr: {
    vosk: [{ field: 'url', env: 'VOSK_URL' }],
    deepgram: [{ field: 'apiKey', env: 'DEEPGRAM_API_KEY' }],
    'openai-realtime': [{ field: 'apiKey', env: 'OPENAI_API_KEY', unlessUrl: true }],
    'openai-transcriptions': [{ field: 'apiKey', env: 'OPENAI_API_KEY', unlessUrl: true }],
    yandex: [{ field: 'apiKey', env: 'YANDEX_API_KEY' }],
  },
  tts: {
    'openai-speech': [{ field: 'apiKey', env: 'OPENAI_API_KEY', unlessUrl: true }],
    yandex: [{ field: 'apiKey', env: 'YANDEX_API_KEY' }],
    elevenlabs: [
      { field: 'apiKey', env: 'ELEVENLABS_API_KEY' },
      { field: 'voice', env: 'ELEVENLABS_VOICE_ID' },
    ],
  },
  llm: {
    openai: [
      { field: 'model', env: 'LLM_MODEL' },
      { field: 'apiKey', env: 'LLM_API_KEY', unlessUrl: true },
    ],
  },
}

type Raw = Record<string, unknown>
const isObject = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v)

function positiveInt(value: unknown, where: string): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value
  if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0) throw new ConfigError(`${where} must be a positive integer, got ${JSON.stringify(value)}`)
  return n
}

function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name]
  return v === undefined || v === '' ? undefined : v
}

/** The `providers` file section and the environment -> a validated provider configuration (no I/O). */
export function parseProviderConfig(fileSection: unknown, env: NodeJS.ProcessEnv): ProviderConfig {
  const section: Raw = fileSection === undefined || fileSection === null ? {} : (fileSection as Raw)
  if (!isObject(section)) throw new ConfigError('providers must be an object with asr, tts and llm lists')
  for (const key of Object.keys(section)) {
    if (!SECTION_KEYS.has(key)) throw new ConfigError(`providers: unknown key "${key}" (expected ${[...SECTION_KEYS].join(', ')})`)
  }
  const budgets = section.budgetMs ?? {}
  if (!isObject(budgets)) throw new ConfigError('providers.budgetMs must be an object like {"asr": 1500, "tts": 1000, "llm": 2000}')
  const espeakFallback = espeakFallbackSetting(section.espeakFallback, env)

  const kinds = {} as { [K in Kind]: ProviderEntry[] }
  for (const kind of ['asr', 'tts', 'llm'] as const) {
    const envBudget = envValue(env, `${kind.toUpperCase()}_BUDGET_MS`)
    const budgetMs =
      envBudget !== undefined
        ? positiveInt(envBudget, `${kind.toUpperCase()}_BUDGET_MS`)
        : budgets[kind] !== undefined
          ? positiveInt(budgets[kind], `providers.budgetMs.${kind}`)
          : DEFAULT_BUDGET_MS[kind]
    const entries = selectEntries(kind, section[kind], env).map((raw, i) => toEntry(kind, raw, i, budgetMs))
    if (kind === 'tts' && espeakFallback && !entries.some((e) => e.type === 'espeak')) {
      entries.push(toEntry('tts', { type: 'espeak' }, entries.length, budgetMs))
    }
    if (envBudget !== undefined) for (const e of entries) e.budgetMs = budgetMs
    applyEnv(kind, entries, env)
    entries.forEach((e, i) => validateEntry(kind, e, i))
    const names = entries.map((e) => e.name)
    const dup = names.find((n, i) => names.indexOf(n) !== i)
    if (dup) throw new ConfigError(`${kind} providers: two entries named "${dup}"; give one a distinct "name"`)
    kinds[kind] = entries
  }
  if (!kinds.tts.length) throw new ConfigError('no TTS provider: list one in providers.tts or TTS_PROVIDERS, or keep the eSpeak NG fallback')

  return {
    asr: kinds.asr as AsrEntry[],
    tts: kinds.tts as TtsEntry[],
    llm: kinds.llm as LlmEntry[],
    backoff: parseBackoff(section.backoff, env),
  }
}

function espeakFallbackSetting(fileValue: unknown, env: NodeJS.ProcessEnv): boolean {
  const v = envValue(env, 'TTS_ESPEAK_FALLBACK')
  if (v !== undefined) {
    if (/^(1|true|yes|on)$/i.test(v)) return true
    if (/^(0|false|no|off)$/i.test(v)) return false
    throw new ConfigError(`TTS_ESPEAK_FALLBACK must be true or false, got "${v}"`)
  }
  if (fileValue === undefined) return true
  if (typeof fileValue !== 'boolean') throw new ConfigError(`providers.espeakFallback must be true or false, got ${JSON.stringify(fileValue)}`)
  return fileValue
}

function parseBackoff(fileValue: unknown, env: NodeJS.ProcessEnv): ProviderConfig['backoff'] {
  if (fileValue !== undefined && !isObject(fileValue)) throw new ConfigError('providers.backoff must be an object like {"baseMs": 2000, "maxMs": 60000}')
  const file = fileValue ?? {}
  const pick = (field: 'baseMs' | 'maxMs', name: string) => {
    const e = envValue(env, name)
    if (e !== undefined) return positiveInt(e, name)
    return file[field] === undefined ? DEFAULT_BACKOFF[field] : positiveInt(file[field], `providers.backoff.${field}`)
  }
  const backoff = { baseMs: pick('baseMs', 'PROVIDER_BACKOFF_BASE_MS'), maxMs: pick('maxMs', 'PROVIDER_BACKOFF_MAX_MS') }
  if (backoff.maxMs < backoff.baseMs) throw new ConfigError(`provider backoff: maxMs (${backoff.maxMs}) must be at least baseMs (${backoff.baseMs})`)
  return backoff
}

/** The file's list, or the one *_PROVIDERS names (file entries by name, others as bare types). */
function selectEntries(kind: Kind, fileList: unknown, env: NodeJS.ProcessEnv): Raw[] {
  if (fileList !== undefined && !Array.isArray(fileList)) throw new ConfigError(`providers.${kind} must be a list of provider entries`)
  const file = (fileList ?? []) as unknown[]
  file.forEach((e, i) => {
    if (!isObject(e)) throw new ConfigError(`providers.${kind}[${i}] must be an object with a "type"`)
  })
  const listVar = `${kind.toUpperCase()}_PROVIDERS`
  const list = envValue(env, listVar)
  if (list === undefined) {
    const llmByEnv = kind === 'llm' && !file.length && (envValue(env, 'LLM_BASE_URL') || envValue(env, 'LLM_MODEL'))
    return llmByEnv ? [{ type: 'openai' }] : (file as Raw[])
  }
  if (list.trim() === 'none') return []
  return list.split(',').map((item) => {
    const wanted = item.trim()
    const fromFile = (file as Raw[]).find((e) => (e.name ?? e.type) === wanted)
    if (fromFile) return fromFile
    if (!TYPES[kind].includes(wanted)) {
      throw new ConfigError(
        `${listVar}: unknown ${kind} provider "${wanted}"; expected one of ${TYPES[kind].join(', ')} or the name of an entry in providers.${kind}`,
      )
    }
    return { type: wanted }
  })
}

function toEntry(kind: Kind, raw: Raw, index: number, budgetMs: number): ProviderEntry {
  const where = `providers.${kind}[${index}]`
  for (const key of Object.keys(raw)) {
    if (!ENTRY_KEYS.has(key)) throw new ConfigError(`${where}: unknown key "${key}" (expected ${[...ENTRY_KEYS].join(', ')})`)
  }
  if (typeof raw.type !== 'string' || !TYPES[kind].includes(raw.type)) {
    throw new ConfigError(`${where}: unknown ${kind} provider type ${JSON.stringify(raw.type)}; expected one of ${TYPES[kind].join(', ')}`)
  }
  if (raw.url !== undefined && raw.baseURL !== undefined) throw new ConfigError(`${where}: give url or baseURL, not both`)
  const entry: ProviderEntry = { type: raw.type, name: raw.type, timeouts: { ...DEFAULT_TIMEOUTS }, budgetMs }
  const source: Raw = { ...raw, url: raw.url ?? raw.baseURL }
  for (const field of STRING_FIELDS) {
    const v = source[field]
    if (v === undefined) continue
    if (typeof v !== 'string' || v === '') throw new ConfigError(`${where}.${field} must be a non-empty string`)
    entry[field] = v
  }
  if (raw.temperature !== undefined) entry.temperature = temperature(raw.temperature, `${where}.temperature`)
  if (raw.maxTokens !== undefined) entry.maxTokens = positiveInt(raw.maxTokens, `${where}.maxTokens`)
  if (raw.budgetMs !== undefined) entry.budgetMs = positiveInt(raw.budgetMs, `${where}.budgetMs`)
  if (raw.timeouts !== undefined) {
    if (!isObject(raw.timeouts)) throw new ConfigError(`${where}.timeouts must be an object like {"connectMs": 3000, "responseMs": 5000}`)
    for (const key of Object.keys(raw.timeouts)) {
      if (key !== 'connectMs' && key !== 'responseMs') throw new ConfigError(`${where}.timeouts: unknown key "${key}" (expected connectMs, responseMs)`)
      entry.timeouts[key] = positiveInt(raw.timeouts[key], `${where}.timeouts.${key}`)
    }
  }
  return entry
}

function temperature(value: unknown, where: string): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value
  if (typeof n !== 'number' || !(n >= 0 && n <= 2)) throw new ConfigError(`${where} must be a number from 0 to 2, got ${JSON.stringify(value)}`)
  return n
}

function applyEnv(kind: Kind, entries: ProviderEntry[], env: NodeJS.ProcessEnv): void {
  const seen = new Set<string>()
  for (const entry of entries) {
    if (seen.has(entry.type)) continue // only the first entry of a type
    seen.add(entry.type)
    const given = new Set<string>()
    for (const o of ENV[kind][entry.type] ?? []) {
      const v = envValue(env, o.env)
      if (v === undefined) continue
      if (o.fallback && (given.has(o.field) || entry[o.field] !== undefined)) continue
      if (o.field === 'temperature') entry.temperature = temperature(v, o.env)
      else entry[o.field] = v
      given.add(o.field)
    }
  }
}

function validateEntry(kind: Kind, entry: ProviderEntry, index: number): void {
  for (const r of REQUIRED[kind][entry.type] ?? []) {
    if (entry[r.field] !== undefined || (r.unlessUrl && entry.url !== undefined)) continue
    throw new ConfigError(`${kind} provider ${entry.name}: missing ${r.env} (providers.${kind}[${index}].${r.field})`)
  }
  if (entry.url !== undefined && !URL.canParse(entry.url)) {
    throw new ConfigError(`${kind} provider ${entry.name}: url "${redactUrl(entry.url)}" is not a URL (providers.${kind}[${index}].url)`)
  }
}

const REDACTED = '***'

/** The configuration with every key replaced by "***" (and passwords in URLs), for logs and /api. */
export function redact(config: ProviderConfig): ProviderConfig {
  const hide = <E extends ProviderEntry>(e: E): E => ({
    ...e,
    timeouts: { ...e.timeouts },
    ...(e.apiKey !== undefined ? { apiKey: REDACTED } : {}),
    ...(e.url !== undefined ? { url: redactUrl(e.url) } : {}),
  })
  return { asr: config.asr.map(hide), tts: config.tts.map(hide), llm: config.llm.map(hide), backoff: { ...config.backoff } }
}

function redactUrl(url: string): string {
  if (!URL.canParse(url)) return url.includes('@') ? REDACTED : url
  const u = new URL(url)
  if (!u.password && !u.username) return url
  // set through the URL API the stars would come back percent-encoded
  const auth = u.password ? `${REDACTED}:${REDACTED}` : REDACTED
  return `${u.protocol}//${auth}@${u.host}${u.pathname}${u.search}${u.hash}`
}

/** Adapter constructors by type, per kind; the adapters register here, this module knows none. */
export interface ProviderFactories {
  asr?: Partial<Record<AsrType, (entry: AsrEntry) => AsrProvider>>
  tts?: Partial<Record<TtsType, (entry: TtsEntry) => TtsProvider>>
  llm?: Partial<Record<LlmType, (entry: LlmEntry) => LlmProvider>>
}

export interface BuiltProviders {
  /** undefined when no ASR is configured: the call records answers as clips */
  asr?: FailoverAsr
  tts: FailoverTts
  /** undefined when no LLM is configured: the scenario engine runs alone */
  llm?: FailoverLlm
}

export interface BuildOptions {
  metrics?: FailoverMetrics
  logger?: Logger
  /** time source of the health backoff; tests inject their own */
  now?: () => number
}

/** Every configured provider built by its factory, each kind wrapped in failover. */
export function buildProviders(config: ProviderConfig, factories: ProviderFactories, opts: BuildOptions = {}): BuiltProviders {
  // check every type has an adapter before building any, so a bad config opens no connection
  for (const kind of ['asr', 'tts', 'llm'] as const) {
    for (const e of config[kind]) {
      if (!(factories[kind] as Record<string, unknown> | undefined)?.[e.type])
        throw new ConfigError(`${kind} provider ${e.name}: no adapter for type "${e.type}"`)
    }
  }
  const failoverOpts = () => ({
    health: new ProviderHealth({ baseBackoffMs: config.backoff.baseMs, maxBackoffMs: config.backoff.maxMs, now: opts.now }),
    metrics: opts.metrics,
    logger: opts.logger,
  })
  const members = <E extends ProviderEntry, P>(entries: E[], factory: Partial<Record<E['type'], (entry: E) => P>> | undefined) =>
    entries.map((e) => ({ provider: factory![e.type as E['type']]!(e), budgetMs: e.budgetMs, name: e.name }))
  return {
    asr: config.asr.length ? new FailoverAsr(members(config.asr, factories.asr), failoverOpts()) : undefined,
    tts: new FailoverTts(members(config.tts, factories.tts), failoverOpts()),
    llm: config.llm.length ? new FailoverLlm(members(config.llm, factories.llm), failoverOpts()) : undefined,
  }
}
