// Added latency of each TTS/LLM adapter: time from the request to the first audio chunk (first token
// for the LLM) against a local server that speaks the provider's protocol and answers at once, so
// the figure is the adapter plus the protocol stack on loopback. eSpeak is there for comparison: its
// figure is synthesis itself.
//   node --import tsx test/bench/tts-latency-probe.ts [runs]
import { Registry } from 'prom-client'
import { OpenAiChat } from '../../providers/llm/openai-chat.ts'
import { ElevenLabsTts } from '../../providers/tts/elevenlabs-ws.ts'
import { EspeakProvider } from '../../providers/tts/espeak.ts'
import { OpenAiSpeechTts } from '../../providers/tts/openai-speech.ts'
import { chatChunk, rampPcm, SSE_DONE, SSE_HEADERS, startHttpServer, startSynthesizerServer, startWsServer } from '../providers/wire-servers.ts'
import { YandexSpeechKitTts } from '../../providers/tts/yandex-speechkit.ts'

const RUNS = Number(process.argv[2] ?? 50)
const WARMUP = 5
const PCM = rampPcm(4800) // 200 ms at 24 kHz
const timeouts = { connectMs: 2000, responseMs: 20_000 }
const registry = new Registry()

const speech = await startHttpServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'audio/pcm' })
  res.end(PCM)
})
const grpcServer = await startSynthesizerServer((call) => {
  call.write({ audioChunk: { data: PCM } })
  call.end()
})
const wsServer = await startWsServer((ws) => {
  ws.on('message', (data) => {
    if (JSON.parse(data.toString()).text !== '') return
    ws.send(JSON.stringify({ audio: PCM.toString('base64'), isFinal: null }))
    ws.send(JSON.stringify({ isFinal: true }))
  })
})
const chatServer = await startHttpServer((_req, res) => {
  res.writeHead(200, SSE_HEADERS)
  res.end(chatChunk({ content: 'Добрый день!' }) + chatChunk({}, 'stop') + SSE_DONE)
})

async function firstItem(source: AsyncIterable<unknown>): Promise<number> {
  const started = performance.now()
  let first = 0
  for await (const _ of source) if (!first) first = performance.now() - started
  return first
}

async function probe(name: string, once: () => AsyncIterable<unknown>, runs = RUNS): Promise<void> {
  for (let i = 0; i < WARMUP; i++) await firstItem(once())
  const ms: number[] = []
  for (let i = 0; i < runs; i++) ms.push(await firstItem(once()))
  ms.sort((a, b) => a - b)
  const at = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))].toFixed(2)
  console.log(`${name.padEnd(38)} median ${at(0.5).padStart(7)} ms   p95 ${at(0.95).padStart(7)} ms   (${runs} runs)`)
}

const request = { text: 'Добрый день!', voice: 'ru', language: 'ru-RU', sampleRate: 8000 as const }
const openai = new OpenAiSpeechTts({ baseURL: `${speech.url}/v1`, apiKey: 'k', model: 'tts-1', timeouts, registry })
const yandex = new YandexSpeechKitTts({ endpoint: grpcServer.url, tls: false, apiKey: 'k', timeouts, registry })
const eleven = new ElevenLabsTts({ apiKey: 'k', model: 'm', baseURL: wsServer.url, timeouts, registry })
const chat = new OpenAiChat({ baseURL: `${chatServer.url}/v1`, apiKey: 'k', model: 'm', timeouts, registry })
const espeak = new EspeakProvider({ timeouts, registry })

console.log(`first audio (first token for the LLM) at 8 kHz out, local servers on 127.0.0.1, node ${process.version}`)
await probe('openai-speech (HTTP, 24k->8k)', () => openai.synthesize(request))
await probe('openai-speech (HTTP, 24k as is)', () => openai.synthesize({ ...request, sampleRate: 24000 }))
await probe('yandex-speechkit (gRPC, warm channel)', () => yandex.synthesize(request))
await probe('elevenlabs-ws (new WebSocket each)', () => eleven.synthesize(request))
await probe('openai-chat (SSE, first token)', () => chat.chat({ messages: [{ role: 'user', content: 'hi' }] }))
await probe('espeak (embedded, synthesis)', () => espeak.synthesize(request), 10)

await Promise.all([speech.close(), grpcServer.close(), wsServer.close(), chatServer.close(), yandex.close(), espeak.close()])
