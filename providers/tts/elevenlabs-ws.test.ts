import t from 'tap'
import { Registry } from 'prom-client'
import type { WebSocket } from 'ws'
import { ProviderError, type TtsChunk } from '../types.ts'
import { ElevenLabsTts } from './elevenlabs-ws.ts'
import { delay, failure, rampPcm, startWsServer } from '../../test/providers/wire-servers.ts'

const KEY = 'xi-secret-key-42'
const PCM = rampPcm(1300)

interface Session {
  url: string
  frames: Record<string, unknown>[]
  closed: boolean
  audioSentAt?: number
}
const sessions: Session[] = []

// Audio for the text so far after every piece, split at odd byte counts; isFinal after {"text":""}.
const server = await startWsServer((ws: WebSocket, req) => {
  const session: Session = { url: req.url ?? '', frames: [], closed: false }
  sessions.push(session)
  ws.on('close', () => (session.closed = true))
  const audio = (bytes: Buffer) => ws.send(JSON.stringify({ audio: bytes.toString('base64'), isFinal: null }))
  ws.on('message', async (data) => {
    const frame = JSON.parse(data.toString()) as { text: string }
    session.frames.push(frame)
    if (session.frames.length === 1) return // the opening frame
    const mode = frame.text.trim()
    if (mode === 'error') return void ws.send(JSON.stringify({ message: `quota exceeded for ${KEY}`, error: 'quota_exceeded', code: 1008 }))
    if (mode === 'auth') return void ws.close(1008, 'Invalid API key')
    if (frame.text === 'Hello, ') return audio(PCM.subarray(0, 1001))
    if (mode === 'drop') return ws.terminate()
    if (frame.text === 'world. ') return audio(PCM.subarray(1001, 2000))
    if (frame.text === '' && (session.frames[1] as { text: string }).text !== 'slow ') {
      await delay(20)
      audio(PCM.subarray(2000))
      ws.send(JSON.stringify({ isFinal: true }))
    }
  })
})
t.teardown(() => server.close())

const tts = (registry = new Registry()) =>
  new ElevenLabsTts({
    apiKey: KEY,
    model: 'eleven_flash_v2_5',
    voices: { ru: 'voice123' },
    voiceSettings: { stability: 0.5 },
    baseURL: server.url,
    timeouts: { connectMs: 500, responseMs: 400 },
    registry,
  })
const opts = { voice: 'ru', language: 'ru', sampleRate: 16000 as const }
const bytes = (chunks: TtsChunk[]) => Buffer.concat(chunks.map((c) => Buffer.from(c.pcm.buffer, c.pcm.byteOffset, c.pcm.byteLength)))

t.test('text in pieces: audio arrives before the text ends, bytes exact', async (t) => {
  const stream = tts().openStream(opts)
  stream.push('Hello,')
  const iterator = stream.audio()[Symbol.asyncIterator]()
  const first = await iterator.next()
  t.notOk(first.done, 'audio for the first piece before end()')
  const chunks = [first.value as TtsChunk]
  stream.push('world.')
  stream.end()
  for (let r = await iterator.next(); !r.done; r = await iterator.next()) chunks.push(r.value)
  t.same(bytes(chunks), PCM)
  t.ok(chunks.every((c) => c.sampleRate === 16000))
  const session = sessions.at(-1)!
  t.match(session.url, /^\/v1\/text-to-speech\/voice123\/stream-input\?/)
  const query = new URLSearchParams(session.url.split('?')[1])
  t.equal(query.get('model_id'), 'eleven_flash_v2_5')
  t.equal(query.get('output_format'), 'pcm_16000')
  t.same(session.frames, [
    { text: ' ', xi_api_key: KEY, voice_settings: { stability: 0.5 } },
    { text: 'Hello, ', try_trigger_generation: true },
    { text: 'world. ', try_trigger_generation: true },
    { text: '' },
  ])
  for (let i = 0; i < 50 && !session.closed; i++) await delay(10)
  t.ok(session.closed, 'closed after isFinal')
})

t.test('synthesize() at 8 kHz asks for pcm_16000 and resamples', async (t) => {
  const chunks: TtsChunk[] = []
  for await (const c of tts().synthesize({ ...opts, text: 'Hello,', sampleRate: 8000 })) chunks.push(c)
  t.ok(chunks.every((c) => c.sampleRate === 8000))
  t.equal(
    chunks.reduce((n, c) => n + c.pcm.length, 0),
    400,
    'half of the 800 samples at 16 kHz',
  )
  t.equal(new URLSearchParams(sessions.at(-1)!.url.split('?')[1]).get('output_format'), 'pcm_16000')
})

t.test('an error frame is a protocol error without the key', async (t) => {
  const registry = new Registry()
  const err = await failure(tts(registry).synthesize({ ...opts, text: 'error' }))
  t.equal(err.kind, 'protocol')
  t.match(err.message, /quota_exceeded/)
  t.notMatch(err.message, KEY)
  t.match(await registry.metrics(), /voice_tts_errors_total\{provider="elevenlabs",kind="protocol"\} 1/)
})

t.test('a 1008 close naming the key is auth', async (t) => {
  t.equal((await failure(tts().synthesize({ ...opts, text: 'auth' }))).kind, 'auth')
})

t.test('no audio after the end of text times out', async (t) => {
  t.equal((await failure(tts().synthesize({ ...opts, text: 'slow' }))).kind, 'timeout')
})

t.test('a connection dropped mid-stream is disconnected', async (t) => {
  const stream = tts().openStream(opts)
  stream.push('Hello,')
  stream.push('drop')
  const got: TtsChunk[] = []
  try {
    for await (const c of stream.audio()) got.push(c)
    t.fail('should throw')
  } catch (err) {
    t.equal((err as ProviderError).kind, 'disconnected')
  }
  t.equal(bytes(got).length, 1000, 'the audio before the drop')
})

t.test('nothing listening is a connect error', async (t) => {
  const dead = new ElevenLabsTts({
    apiKey: KEY,
    model: 'm',
    baseURL: 'ws://127.0.0.1:1',
    timeouts: { connectMs: 500, responseMs: 400 },
    registry: new Registry(),
  })
  t.equal((await failure(dead.synthesize({ ...opts, text: 'x' }))).kind, 'connect')
})

t.test('cancel mid-stream closes the socket at once', async (t) => {
  const stream = tts().openStream(opts)
  stream.push('Hello,')
  stream.push('hold')
  let pieces = 0
  try {
    for await (const _ of stream.audio()) {
      pieces++
      stream.cancel()
    }
    t.fail('should throw')
  } catch (err) {
    t.equal((err as ProviderError).kind, 'cancelled')
  }
  t.equal(pieces, 1)
  const session = sessions.at(-1)!
  for (let i = 0; i < 50 && !session.closed; i++) await delay(10)
  t.ok(session.closed, 'the server saw the close')
})

t.test('a consumer that stops reading closes the socket', async (t) => {
  const stream = tts().openStream(opts)
  stream.push('Hello,')
  stream.push('hold')
  for await (const _ of stream.audio()) break
  const session = sessions.at(-1)!
  for (let i = 0; i < 50 && !session.closed; i++) await delay(10)
  t.ok(session.closed)
})
