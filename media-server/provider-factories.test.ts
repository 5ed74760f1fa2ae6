import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pino from 'pino'
import { Registry } from 'prom-client'
import t from 'tap'
import { loadConfig, type Config } from './config.ts'
import { EspeakTts } from '../providers/tts/espeak-engine.ts'
import { collect, FINAL_TEXT, refusedPort, startVoskServer, testPcm } from '../test/providers/asr-servers.ts'
import { createProviders } from './provider-factories.ts'
import { FailoverAsr, FailoverLlm, FailoverTts } from '../providers/failover.ts'
import { chatChunk, SSE_DONE, SSE_HEADERS, startHttpServer } from '../test/providers/wire-servers.ts'
import type { ChatEvent } from '../providers/types.ts'

const logger = pino({ level: 'silent' })
const espeak = new EspeakTts()
t.teardown(() => espeak.close())

const dir = mkdtempSync(path.join(os.tmpdir(), 'factories-test-'))
let files = 0
function config(providers: object, env: NodeJS.ProcessEnv = {}): Config {
  const file = path.join(dir, `config-${files++}.json`)
  writeFileSync(file, JSON.stringify({ providers }))
  return loadConfig({ ...env, CONFIG_FILE: file })
}

/** kind -> provider names, as the failover health gauge reports them */
async function healthGauge(registry: Registry): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {}
  const metric = registry.getSingleMetric('voice_provider_healthy')
  for (const v of (await metric!.get()).values) (out[String(v.labels.kind)] ??= []).push(String(v.labels.provider))
  return out
}

t.test('an entry of every type builds, each kind behind failover with the configured names', async (t) => {
  const dead = `127.0.0.1:${await refusedPort()}`
  const registry = new Registry()
  const built = createProviders(
    config({
      asr: [
        { type: 'vosk', url: `ws://${dead}` },
        { type: 'openai-realtime', url: `http://${dead}/v1` },
        { type: 'openai-transcriptions', name: 'whisper', url: `http://${dead}/v1`, model: 'large-v3' },
        { type: 'deepgram', apiKey: 'dg' },
        { type: 'yandex', apiKey: 'ya', folderId: 'b1g', url: `http://${dead}` },
      ],
      tts: [
        { type: 'openai-speech', name: 'local-tts', url: `http://${dead}/v1` },
        { type: 'yandex', apiKey: 'ya', url: `http://${dead}`, voice: 'alena' },
        { type: 'elevenlabs', apiKey: 'el', voice: 'v123' },
        { type: 'espeak' },
      ],
      llm: [{ type: 'openai', url: `http://${dead}/v1`, model: 'm' }],
    }),
    { registry, logger, espeak },
  )
  t.teardown(async () => {
    await built.asr?.close()
    await built.tts.close()
    await built.llm?.close()
  })
  t.type(built.asr, FailoverAsr)
  t.type(built.tts, FailoverTts)
  t.type(built.llm, FailoverLlm)
  t.same([built.asr?.name, built.tts.name, built.llm?.name], ['asr-failover', 'tts-failover', 'llm-failover'])
  t.same(await healthGauge(registry), {
    asr: ['vosk', 'openai-realtime', 'whisper', 'deepgram', 'yandex'],
    tts: ['local-tts', 'yandex', 'elevenlabs', 'espeak'],
    llm: ['openai'],
  })
})

t.test('without providers: no ASR, no LLM, eSpeak NG on the shared engine', async (t) => {
  const registry = new Registry()
  const built = createProviders(loadConfig({}), { registry, logger, espeak })
  t.equal(built.asr, undefined)
  t.equal(built.llm, undefined)
  const chunks = []
  for await (const c of built.tts.synthesize({ text: 'Добрый день', voice: 'ru', language: 'ru', sampleRate: 16000 })) chunks.push(c)
  t.ok(chunks.length > 0 && chunks.every((c) => c.sampleRate === 16000), 'audio at the asked rate')
  await built.tts.close()
  const after = await espeak.synthesize('still here', 'en')
  t.ok(after.pcm.length > 0, 'closing the providers leaves the server-owned engine running')
})

t.test('the Vosk entry streams to its url', async (t) => {
  const vosk = await startVoskServer()
  t.teardown(() => vosk.close())
  const built = createProviders(config({ asr: [{ type: 'vosk', url: vosk.url }] }), { registry: new Registry(), logger, espeak })
  t.teardown(() => built.asr?.close())
  const stream = built.asr!.stream({ language: 'ru-RU', sampleRate: 16000 })
  stream.write(testPcm(320))
  stream.end()
  const { results, error } = await collect(stream)
  t.equal(error, null)
  t.equal(results.at(-1)?.text, FINAL_TEXT)
  t.equal(vosk.sessions.length, 1)
})

t.test('an LLM entry on a local OpenAI-wire server streams its reply, after the dead first entry', async (t) => {
  const seen: Array<{ auth?: string; body: { model: string; temperature?: number; stream: boolean } }> = []
  const server = await startHttpServer((req, res, body) => {
    seen.push({ auth: req.headers.authorization, body: JSON.parse(body) })
    res.writeHead(200, SSE_HEADERS)
    res.write(chatChunk({ role: 'assistant', content: '' }))
    res.write(chatChunk({ content: 'Добрый ' }))
    res.end(chatChunk({ content: 'день!' }) + chatChunk({}, 'stop') + SSE_DONE)
  })
  t.teardown(() => server.close())
  const registry = new Registry()
  const built = createProviders(
    config({
      llm: [
        { type: 'openai', name: 'dead', url: `http://127.0.0.1:${await refusedPort()}/v1`, model: 'm' },
        { type: 'openai', name: 'local', url: `${server.url}/v1`, model: 'qwen2.5:7b', temperature: 0.2, apiKey: 'sk-local' },
      ],
    }),
    { registry, logger, espeak },
  )
  t.teardown(() => built.llm?.close())
  const events: ChatEvent[] = []
  for await (const e of built.llm!.chat({ messages: [{ role: 'user', content: 'Здравствуйте' }] })) events.push(e)
  t.equal(events.flatMap((e) => (e.type === 'text' ? [e.delta] : [])).join(''), 'Добрый день!')
  t.match(events.at(-1), { type: 'done', finishReason: 'stop' })
  t.match(seen, [{ auth: 'Bearer sk-local', body: { model: 'qwen2.5:7b', temperature: 0.2, stream: true } }])
  const failovers = (await registry.getSingleMetric('voice_provider_failovers_total')!.get()).values
  t.match(failovers, [{ labels: { kind: 'llm', from: 'dead', to: 'local' }, value: 1 }])
})
