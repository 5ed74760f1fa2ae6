import t from 'tap'
import * as grpc from '@grpc/grpc-js'
import { Registry } from 'prom-client'
import { ProviderError, type TtsChunk, type TtsRequest } from '../types.ts'
import { YandexSpeechKitTts } from './yandex-speechkit.ts'
import {
  collect,
  delay,
  failure,
  rampPcm,
  startSynthesizerServer,
  type SynthesisCall,
  type SynthesisRequestMessage,
} from '../../test/providers/wire-servers.ts'

const KEY = 'AQVN-secret-api-key'
const PCM = rampPcm(1601)
const seen: { request: SynthesisRequestMessage; auth: unknown; folder: unknown }[] = []
let cancelledByClient = 0

const server = await startSynthesizerServer(async (call: SynthesisCall) => {
  seen.push({ request: call.request, auth: call.metadata.get('authorization')[0], folder: call.metadata.get('x-folder-id')[0] })
  call.on('cancelled', () => cancelledByClient++)
  const mode = call.request.text
  if (mode === 'error') return call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: `bad text for ${KEY}` })
  if (mode === 'auth') return call.emit('error', { code: grpc.status.UNAUTHENTICATED, details: 'unknown api key' })
  if (mode === 'slow') await delay(1500)
  const cuts = [0, 3, 1001, 2500, PCM.length]
  for (let i = 0; i + 1 < cuts.length; i++) {
    if (call.cancelled) return
    if (mode === 'hold' && i === 2) return // never ends
    call.write({ audioChunk: { data: PCM.subarray(cuts[i], cuts[i + 1]) } })
    await delay(20)
  }
  call.end()
})
t.teardown(() => server.close())

function tts(endpoint = server.url, registry = new Registry()) {
  return new YandexSpeechKitTts({
    endpoint,
    tls: false,
    apiKey: KEY,
    folderId: 'b1g-folder',
    voices: { ru: 'alena' },
    timeouts: { connectMs: 500, responseMs: 400 },
    registry,
  })
}
const req = (text: string, extra: Partial<TtsRequest> = {}): TtsRequest => ({ text, voice: 'ru', language: 'ru-RU', sampleRate: 16000, ...extra })

const bytes = (chunks: TtsChunk[]) => Buffer.concat(chunks.map((c) => Buffer.from(c.pcm.buffer, c.pcm.byteOffset, c.pcm.byteLength)))

t.test('streams audio_chunk data at the requested rate, with voice, spec and credentials', async (t) => {
  const provider = tts()
  t.teardown(() => provider.close())
  const chunks = await collect(provider.synthesize(req('normal')))
  t.same(bytes(chunks), PCM, 'exact bytes across odd cuts')
  t.ok(chunks.length >= 3)
  t.ok(chunks.every((c) => c.sampleRate === 16000))
  const { request, auth, folder } = seen.at(-1)!
  t.equal(request.text, 'normal')
  t.same(
    request.hints.map((h) => h.voice),
    ['alena'],
  )
  t.same(request.outputAudioSpec?.rawAudio, { audioEncoding: 'LINEAR16_PCM', sampleRateHertz: '16000' })
  t.equal(auth, `Api-Key ${KEY}`)
  t.equal(folder, 'b1g-folder')
  // the channel is reused
  t.same(bytes(await collect(provider.synthesize(req('normal', { sampleRate: 8000 })))), PCM)
  t.equal(seen.at(-1)!.request.outputAudioSpec?.rawAudio?.sampleRateHertz, '8000')
})

t.test('an IAM token goes as Bearer', async (t) => {
  const provider = new YandexSpeechKitTts({
    endpoint: server.url,
    tls: false,
    iamToken: 't1.iam',
    timeouts: { connectMs: 500, responseMs: 400 },
    registry: new Registry(),
  })
  t.teardown(() => provider.close())
  await collect(provider.synthesize(req('normal')))
  t.equal(seen.at(-1)!.auth, 'Bearer t1.iam')
})

t.test('an error status is a protocol error without the key', async (t) => {
  const provider = tts()
  t.teardown(() => provider.close())
  const err = await failure(provider.synthesize(req('error')))
  t.equal(err.kind, 'protocol')
  t.match(err.message, /INVALID_ARGUMENT/)
  t.notMatch(err.message, KEY)
  t.equal((await failure(provider.synthesize(req('auth')))).kind, 'auth')
})

t.test('a slow first response times out', async (t) => {
  const provider = tts()
  t.teardown(() => provider.close())
  t.equal((await failure(provider.synthesize(req('slow')))).kind, 'timeout')
})

t.test('nothing listening is a connect error', async (t) => {
  const provider = tts('127.0.0.1:1')
  t.teardown(() => provider.close())
  t.equal((await failure(provider.synthesize(req('normal')))).kind, 'connect')
})

t.test('cancel mid-stream cancels the RPC on the server', async (t) => {
  const provider = tts()
  t.teardown(() => provider.close())
  const ac = new AbortController()
  const before = cancelledByClient
  try {
    for await (const _ of provider.synthesize(req('hold', { signal: ac.signal }))) ac.abort()
    t.fail('should throw')
  } catch (err) {
    t.equal((err as ProviderError).kind, 'cancelled')
  }
  for (let i = 0; i < 50 && cancelledByClient === before; i++) await delay(10)
  t.equal(cancelledByClient, before + 1, 'the server saw the cancellation')
})

t.test('a server that goes away mid-stream is disconnected', async (t) => {
  // a server of its own, since the handler shuts it down
  const local = await startSynthesizerServer(async (call) => {
    call.write({ audioChunk: { data: PCM.subarray(0, 1000) } })
    await delay(30)
    local.server.forceShutdown()
  })
  t.teardown(() => local.close())
  const provider = tts(local.url)
  t.teardown(() => provider.close())
  const got: TtsChunk[] = []
  try {
    for await (const c of provider.synthesize(req('x'))) got.push(c)
    t.fail('should throw')
  } catch (err) {
    t.equal((err as ProviderError).kind, 'disconnected', (err as Error).message)
  }
  t.equal(bytes(got).length, 1000)
})
