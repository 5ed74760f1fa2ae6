import t from 'tap'
import { Registry } from 'prom-client'
import { ProviderError, type TtsChunk, type TtsRequest } from '../types.ts'
import { OpenAiSpeechTts } from './openai-speech.ts'
import { collect, delay, failure, rampPcm, startHttpServer } from '../../test/providers/wire-servers.ts'

const KEY = 'sk-test-secret-key-123'
const PCM = rampPcm(2401) // 4802 bytes, cut below at odd offsets

const requests: { auth?: string; body: Record<string, unknown> }[] = []
let closedMidStream = 0

const server = await startHttpServer(async (req, res, raw) => {
  const body = JSON.parse(raw) as Record<string, unknown>
  requests.push({ auth: req.headers.authorization, body })
  const mode = String(body.input)
  if (req.url !== '/v1/audio/speech') return void res.writeHead(404).end()
  if (mode === 'error') {
    res.writeHead(500, { 'content-type': 'application/json' })
    return void res.end(JSON.stringify({ error: { message: `engine failed for ${req.headers.authorization}` } }))
  }
  if (mode === 'auth') {
    res.writeHead(401, { 'content-type': 'application/json' })
    return void res.end(JSON.stringify({ error: { message: 'bad key' } }))
  }
  if (mode === 'hold') req.socket.on('close', () => closedMidStream++)
  if (mode === 'slow') await delay(1500)
  if (res.destroyed) return
  res.writeHead(200, { 'content-type': 'audio/pcm' })
  if (mode === 'stall') return // headers, then nothing
  const cuts = [0, 1, 999, 2000, 3333, PCM.length]
  for (let i = 0; i + 1 < cuts.length; i++) {
    if (mode === 'drop' && i === 2) return void res.socket?.destroy()
    if (mode === 'hold' && i === 2) return // and never end
    res.write(PCM.subarray(cuts[i], cuts[i + 1]))
    await delay(20)
  }
  res.end()
})
t.teardown(() => server.close())

function tts(registry = new Registry()) {
  return new OpenAiSpeechTts({
    baseURL: `${server.url}/v1`,
    apiKey: KEY,
    model: 'tts-1',
    voices: { ru: 'alloy' },
    timeouts: { connectMs: 500, responseMs: 400 },
    registry,
  })
}

const req = (text: string, extra: Partial<TtsRequest> = {}): TtsRequest => ({ text, voice: 'ru', language: 'ru-RU', sampleRate: 24000, ...extra })

t.test('streams the PCM body as it arrives, bytes intact across odd cuts', async (t) => {
  const registry = new Registry()
  const chunks = await collect(tts(registry).synthesize(req('normal')))
  t.ok(chunks.length >= 4, `one chunk per body piece (${chunks.length})`)
  const joined = Buffer.concat(chunks.map((c) => Buffer.from(c.pcm.buffer, c.pcm.byteOffset, c.pcm.byteLength)))
  t.same(joined, PCM, 'exact bytes')
  t.ok(chunks.every((c) => c.sampleRate === 24000))
  const last = requests.at(-1)!
  t.equal(last.auth, `Bearer ${KEY}`)
  t.match(last.body, { model: 'tts-1', voice: 'alloy', input: 'normal', response_format: 'pcm' })
  t.match(await registry.metrics(), /voice_tts_first_audio_seconds_count\{provider="openai-speech"\} 1/)
})

t.test('resamples to the requested rate', async (t) => {
  const chunks = await collect(tts().synthesize(req('normal', { sampleRate: 8000 })))
  t.ok(chunks.every((c) => c.sampleRate === 8000))
  t.equal(
    chunks.reduce((n, c) => n + c.pcm.length, 0),
    Math.ceil((2401 * 8000) / 24000),
  )
})

t.test('an error response is a protocol error without the key in it', async (t) => {
  const registry = new Registry()
  const err = await failure(tts(registry).synthesize(req('error')))
  t.equal(err.kind, 'protocol')
  t.match(err.message, /500/)
  t.notMatch(err.message, KEY)
  t.notMatch(String((err.cause as Error | undefined)?.message), KEY)
  t.match(await registry.metrics(), /voice_tts_errors_total\{provider="openai-speech",kind="protocol"\} 1/)
})

t.test('401 is auth', async (t) => {
  t.equal((await failure(tts().synthesize(req('auth')))).kind, 'auth')
})

t.test('a slow first response times out', async (t) => {
  t.equal((await failure(tts().synthesize(req('slow')))).kind, 'timeout')
})

t.test('headers but no audio times out', async (t) => {
  t.equal((await failure(tts().synthesize(req('stall')))).kind, 'timeout')
})

t.test('a connection dropped mid-stream is disconnected, after the audio so far', async (t) => {
  const got: TtsChunk[] = []
  try {
    for await (const c of tts().synthesize(req('drop'))) got.push(c)
    t.fail('should throw')
  } catch (err) {
    t.equal((err as ProviderError).kind, 'disconnected')
  }
  t.equal(
    got.reduce((n, c) => n + c.pcm.length, 0),
    499,
    'the first two pieces (999 bytes) came through',
  )
})

t.test('nothing listening is a connect error', async (t) => {
  const dead = new OpenAiSpeechTts({
    baseURL: 'http://127.0.0.1:1/v1',
    apiKey: KEY,
    model: 'm',
    timeouts: { connectMs: 500, responseMs: 500 },
    registry: new Registry(),
  })
  t.equal((await failure(dead.synthesize(req('normal')))).kind, 'connect')
})

t.test('cancel mid-stream closes the connection and ends with cancelled', async (t) => {
  const ac = new AbortController()
  const before = closedMidStream
  let first = false
  try {
    for await (const _ of tts().synthesize(req('hold', { signal: ac.signal }))) {
      if (!first) {
        first = true
        ac.abort()
      }
    }
    t.fail('should throw')
  } catch (err) {
    t.equal((err as ProviderError).kind, 'cancelled')
  }
  for (let i = 0; i < 50 && closedMidStream === before; i++) await delay(10)
  t.equal(closedMidStream, before + 1, 'the server saw the connection close')
})

t.test('a consumer that stops early closes the connection too', async (t) => {
  const before = closedMidStream
  for await (const _ of tts().synthesize(req('hold'))) break
  for (let i = 0; i < 50 && closedMidStream === before; i++) await delay(10)
  t.equal(closedMidStream, before + 1)
})
