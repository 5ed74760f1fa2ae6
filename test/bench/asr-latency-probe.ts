// What each ASR adapter adds to the latency of its provider, measured against the local protocol
// servers: end() -> final minus the server's own deliberate delay, and first write -> first
// partial (this includes opening the connection, which every WebSocket adapter does per stream).
//   node --import tsx test/bench/asr-latency-probe.ts [runs]
import type { AsrProvider } from '../../providers/types.ts'
import { DeepgramAsr } from '../../providers/asr/deepgram.ts'
import { OpenAiRealtimeAsr } from '../../providers/asr/openai-realtime.ts'
import { OpenAiTranscriptionsAsr } from '../../providers/asr/openai-transcriptions.ts'
import { VoskAsr } from '../../providers/asr/vosk.ts'
import { YandexSpeechKitAsr } from '../../providers/asr/yandex-speechkit.ts'
import {
  startDeepgramServer,
  startRealtimeServer,
  startSpeechKitServer,
  startTranscriptionsServer,
  startVoskServer,
  testPcm,
  type LocalServer,
  type Scenario,
} from '../providers/asr-servers.ts'

const RUNS = Number(process.argv[2] ?? 30)
const SERVER_DELAY_MS = 50
const KEY = 'probe-key'

interface Case {
  name: string
  start(scenario: Scenario): Promise<LocalServer>
  provider(url: string): AsrProvider
}

const cases: Case[] = [
  { name: 'vosk', start: startVoskServer, provider: (url) => new VoskAsr({ url }) },
  { name: 'deepgram', start: startDeepgramServer, provider: (url) => new DeepgramAsr({ url, apiKey: KEY }) },
  { name: 'openai-realtime', start: startRealtimeServer, provider: (url) => new OpenAiRealtimeAsr({ url, apiKey: KEY }) },
  { name: 'openai-transcriptions', start: startTranscriptionsServer, provider: (url) => new OpenAiTranscriptionsAsr({ url, apiKey: KEY }) },
  { name: 'yandex-speechkit', start: startSpeechKitServer, provider: (url) => new YandexSpeechKitAsr({ url, apiKey: KEY }) },
]

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
}

const fmt = (values: number[]) => (values.length === 0 ? 'n/a' : `median ${quantile(values, 0.5).toFixed(2)} ms, p95 ${quantile(values, 0.95).toFixed(2)} ms`)

for (const c of cases) {
  const server = await c.start({ finalDelayMs: SERVER_DELAY_MS })
  const provider = c.provider(server.url)
  const toFinal: number[] = []
  const toPartial: number[] = []
  for (let run = 0; run < RUNS; run++) {
    const stream = provider.stream({ language: 'ru-RU', sampleRate: 8000 })
    const firstWrite = performance.now()
    let endAt = 0
    let partialSeen = false
    // 200 ms of audio in 20 ms frames, written at once: the probe measures the adapter, not a clock
    for (let i = 0; i < 10; i++) stream.write(testPcm(160, i * 160))
    const results = (async () => {
      for await (const r of stream.results()) {
        const now = performance.now()
        if (!r.final && !partialSeen && endAt === 0) {
          partialSeen = true
          toPartial.push(now - firstWrite)
        }
        if (r.final) toFinal.push(now - endAt - SERVER_DELAY_MS)
      }
    })()
    // end after the first partial (if the provider sends one before the end) or 100 ms
    const deadline = performance.now() + 100
    while (!partialSeen && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 1))
    endAt = performance.now()
    stream.end()
    await results
  }
  console.log(
    `${c.name.padEnd(22)} end->final minus ${SERVER_DELAY_MS} ms server delay: ${fmt(toFinal)}; write->first partial (incl. connect): ${fmt(toPartial)}`,
  )
  await provider.close()
  await server.close()
}
