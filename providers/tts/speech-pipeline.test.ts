import t from 'tap'
import { Registry } from 'prom-client'
import { OpenAiChat } from '../llm/openai-chat.ts'
import type { ChatEvent } from '../types.ts'
import { OpenAiSpeechTts } from './openai-speech.ts'
import { SpeechPipeline, type SpokenChunk } from './speech-pipeline.ts'
import { chatChunk, delay, rampPcm, SSE_DONE, SSE_HEADERS, startHttpServer } from '../../test/providers/wire-servers.ts'

// What happened, in order, across the LLM server, the TTS server and the consumer.
let log: string[] = []
const waiters: { event: string; resolve: () => void }[] = []
function record(event: string) {
  log.push(event)
  for (const w of waiters.splice(0))
    if (w.event === event) w.resolve()
    else waiters.push(w)
}
/** Resolves when `event` is logged, or after `ms` (logging the miss, which fails the test). */
function until(event: string, ms = 1000): Promise<void> {
  if (log.includes(event)) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      record(`gave up waiting for ${event}`)
      resolve()
    }, ms)
    waiters.push({ event, resolve: () => (clearTimeout(timer), resolve()) })
  })
}

const CLAUSE_PCM = [rampPcm(2000, 1), rampPcm(1500, 2), rampPcm(1700, 3)]
const CLAUSES = ['Добрый день!', 'Чем могу помочь?', 'Оставьте номер, пожалуйста.']

const llmServer = await startHttpServer(async (req, res, raw) => {
  const mode = (JSON.parse(raw) as { messages: { content: string }[] }).messages.at(-1)!.content
  res.writeHead(200, SSE_HEADERS)
  req.socket.on('close', () => record('llm closed'))
  res.write(chatChunk({ role: 'assistant', content: '' }))
  res.write(chatChunk({ content: 'Добрый ' }))
  res.write(chatChunk({ content: 'день! ' }))
  if (mode === 'hold') return
  // the rest of the reply only once TTS of the first clause has been asked for
  await until('tts request 0')
  for (const piece of ['Чем могу ', 'помочь? ', 'Оставьте номер, ', 'пожалуйста.']) {
    res.write(chatChunk({ content: piece }))
    await delay(5)
  }
  res.write(chatChunk({}, 'stop'))
  res.end(SSE_DONE)
  record('llm finished')
})
t.teardown(() => llmServer.close())

const ttsServer = await startHttpServer(async (req, res, raw) => {
  const text = (JSON.parse(raw) as { input: string }).input
  const clause = CLAUSES.indexOf(text)
  record(`tts request ${clause}`)
  if ((JSON.parse(raw) as { voice: string }).voice === 'fail' && clause === 1) return void res.writeHead(503).end('{"error":{"message":"busy"}}')
  req.socket.on('close', () => record(`tts closed ${clause}`))
  res.writeHead(200, { 'content-type': 'audio/pcm' })
  const pcm = CLAUSE_PCM[clause] ?? CLAUSE_PCM[0]
  const third = Math.floor(pcm.length / 3)
  res.write(pcm.subarray(0, third))
  if ((JSON.parse(raw) as { voice: string }).voice === 'hold') return // until the client goes away
  await delay(20)
  res.write(pcm.subarray(third, 2 * third))
  // the first clause's last piece only once the second clause has been asked for
  if (clause === 0) await until('tts request 1')
  await delay(20)
  record(`tts sends the last of ${clause}`)
  res.end(pcm.subarray(2 * third))
})
t.teardown(() => ttsServer.close())

const timeouts = { connectMs: 1000, responseMs: 3000 }
const registry = new Registry()
const llm = new OpenAiChat({ baseURL: `${llmServer.url}/v1`, apiKey: 'k', model: 'm', timeouts, registry })

async function* textOf(events: AsyncIterable<ChatEvent>) {
  for await (const e of events) if (e.type === 'text') yield e.delta
}

t.test('TTS starts on the first clause mid-reply and the next clause is fetched while the current plays', async (t) => {
  log = []
  const tts = new OpenAiSpeechTts({ baseURL: `${ttsServer.url}/v1`, apiKey: 'k', model: 'tts', timeouts, registry })
  const speech = new SpeechPipeline({ tts, voice: 'alloy', language: 'ru', sampleRate: 24000 })
  const chunks: SpokenChunk[] = []
  for await (const chunk of speech.speak(textOf(llm.chat({ messages: [{ role: 'user', content: 'go' }], signal: speech.signal })))) {
    const last = chunks.at(-1)
    if (last && last.clause !== chunk.clause) record(`played ${last.clause}`)
    chunks.push(chunk)
  }
  record(`played ${chunks.at(-1)!.clause}`)

  t.same(
    log.filter((e) => e.startsWith('gave up')),
    [],
    'nothing had to wait for a fallback',
  )
  t.ok(log.indexOf('tts request 0') < log.indexOf('llm finished'), 'clause 1 went to TTS before the LLM reply ended')
  t.ok(log.indexOf('tts request 1') < log.indexOf('tts sends the last of 0'), 'clause 2 was requested while clause 1 was still arriving')
  t.ok(log.indexOf('tts request 1') < log.indexOf('played 0'), 'so before clause 1 was played through')
  t.ok(log.indexOf('tts request 2') < log.indexOf('played 1'), 'clause 3 was requested before clause 2 was played through')
  t.same([...new Set(chunks.map((c) => c.text))], CLAUSES, 'clauses in order')
  for (let i = 0; i < 3; i++) {
    const pcm = Buffer.concat(chunks.filter((c) => c.clause === i).map((c) => Buffer.from(c.pcm.buffer, c.pcm.byteOffset, c.pcm.byteLength)))
    t.same(pcm, CLAUSE_PCM[i], `clause ${i} audio exact and in order`)
  }
})

t.test('cancel() mid-speech closes the LLM stream and the TTS requests at once', async (t) => {
  log = []
  const tts = new OpenAiSpeechTts({ baseURL: `${ttsServer.url}/v1`, apiKey: 'k', model: 'tts', timeouts, registry })
  // voice 'hold': the TTS server stops after the first piece of audio
  const speech = new SpeechPipeline({ tts, voice: 'hold', language: 'ru', sampleRate: 24000 })
  let played = 0
  for await (const _ of speech.speak(textOf(llm.chat({ messages: [{ role: 'user', content: 'hold' }], signal: speech.signal })))) {
    played++
    speech.cancel()
  }
  t.equal(played, 1, 'no audio after the cancel; speak() ended without an error')
  await until('llm closed')
  await until('tts closed 0')
  t.same(
    log.filter((e) => e.startsWith('gave up')),
    [],
    'both servers saw their connection close',
  )
})

t.test('a failed synthesis surfaces as its ProviderError after the clauses before it', async (t) => {
  log = []
  const tts = new OpenAiSpeechTts({ baseURL: `${ttsServer.url}/v1`, apiKey: 'k', model: 'tts', timeouts, registry })
  const speech = new SpeechPipeline({ tts, voice: 'fail', language: 'ru', sampleRate: 24000 })
  const clauses = new Set<number>()
  try {
    for await (const chunk of speech.speak(textOf(llm.chat({ messages: [{ role: 'user', content: 'go' }], signal: speech.signal })))) clauses.add(chunk.clause)
    t.fail('should throw')
  } catch (err) {
    t.match(err, { name: 'ProviderError', kind: 'protocol', message: /503/ })
  }
  t.same([...clauses], [0], 'clause 1 was spoken first')
})
