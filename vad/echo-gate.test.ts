import t from 'tap'
import { EspeakTts } from '../providers/tts/espeak-engine.ts'
import { resample } from '../codecs/resample.ts'
import { EchoGate } from './echo-gate.ts'

const FRAME = 320 // 20 ms at 16 kHz

function frames(pcm: Int16Array): Int16Array[] {
  const out: Int16Array[] = []
  for (let i = 0; i + FRAME <= pcm.length; i += FRAME) out.push(pcm.slice(i, i + FRAME))
  return out
}

const scale = (f: Int16Array, g: number) => Int16Array.from(f, (x) => Math.round(x * g))
const add = (a: Int16Array, b: Int16Array) => Int16Array.from(a, (x, i) => Math.max(-32768, Math.min(32767, x + b[i])))

t.test("the bot's echo is not the caller; the caller talking over the bot is", async (t) => {
  const tts = new EspeakTts()
  t.teardown(() => tts.close())
  const synth = async (text: string, lang: 'ru' | 'en') => {
    const s = await tts.synthesize(text, lang)
    return frames(resample(s.pcm, s.sampleRate, 16000))
  }
  const bot = await synth('Hello! You have reached the sales department. I am the voice assistant. What is your name? Please tell me about your company.', 'en')
  const talker = await synth('Иван Петров, компания Ромашка, мы хотим купить систему', 'ru')
  const silence = new Int16Array(FRAME)
  const DELAY = 6 // frames: 120 ms of round trip and jitter buffer
  const run = (caller: (i: number, echo: Int16Array) => Int16Array) => {
    const gate = new EchoGate({ tailMs: 400, marginDb: 6, frameMs: 20 })
    const nearEnd: boolean[] = []
    for (let i = 0; i < bot.length; i++) {
      gate.onBotFrame(bot[i])
      const echo = i >= DELAY ? scale(bot[i - DELAY], 0.316) : silence // -10 dB
      nearEnd.push(gate.onCallerFrame(caller(i, echo)))
    }
    return { nearEnd, path: gate.echoPath }
  }

  const echoOnly = run((_i, echo) => echo)
  const early = echoOnly.nearEnd.slice(0, 50).filter(Boolean).length
  t.equal(early, 0, 'while the estimate trains, the echo is held back by the worst-case rule')
  const late = echoOnly.nearEnd.slice(50) // after a second of training
  const leaked = late.filter(Boolean).length / late.length
  t.ok(leaked < 0.05, `echo at -10 dB: ${(leaked * 100).toFixed(1)}% of frames taken for the caller`)
  t.equal(echoOnly.path.lagFrames, DELAY, 'the echo delay is found')
  t.ok(Math.abs(echoOnly.path.erlDb - 10) < 1.5, `ERL estimated at ${echoOnly.path.erlDb.toFixed(1)} dB`)

  // The caller starts talking over the bot 2 s in, at the bot's own level, echo still there.
  const START = 100
  const doubleTalk = run((i, echo) => (i >= START && i - START < talker.length ? add(echo, talker[i - START]) : echo))
  const talking = talker.map((f, k) => ({ k, loud: f.some((x) => Math.abs(x) > 3000) })).filter((x) => x.loud && START + x.k < bot.length)
  const heard = talking.filter((x) => doubleTalk.nearEnd[START + x.k]).length / talking.length
  t.ok(heard > 0.6, `double talk: ${(heard * 100).toFixed(0)}% of the caller's loud frames taken for the caller`)

  // A line with no echo: anything the caller says is the caller.
  const noEcho = run((i) => (i >= START && i - START < talker.length ? talker[i - START] : silence))
  t.equal(noEcho.path.erlDb, Infinity, 'no echo found on a clean line')
  const clean = talking.filter((x) => noEcho.nearEnd[START + x.k]).length / talking.length
  t.ok(clean > 0.95, `clean line: ${(clean * 100).toFixed(0)}% of the caller's loud frames pass`)
})

t.test('the echo path moves mid-call: told by the jitter buffer, or learnt again', async (t) => {
  const tts = new EspeakTts()
  t.teardown(() => tts.close())
  const s = await tts.synthesize(
    'Hello! You have reached the sales department. I am the voice assistant. What is your name? Please tell me about your company and what you would like to buy from us today.',
    'en',
  )
  const bot = frames(resample(s.pcm, s.sampleRate, 16000))
  const silence = new Int16Array(FRAME)
  const JUMP = 120 // frames: from here on the echo comes back 4 frames (80 ms) later
  const run = (reported: boolean) => {
    const gate = new EchoGate({ tailMs: 400, marginDb: 6, frameMs: 20 })
    const nearEnd: boolean[] = []
    for (let i = 0; i < bot.length; i++) {
      gate.onBotFrame(bot[i])
      const delay = i < JUMP ? 3 : 7
      const echo = i >= delay ? scale(bot[i - delay], 0.316) : silence
      // Reported: the jitter buffer grew by 80 ms and says so with the frame.
      nearEnd.push(gate.onCallerFrame(echo, reported ? 40 + (i < JUMP ? 0 : 80) : 0))
    }
    const after = nearEnd.slice(JUMP)
    let streak = 0
    let longest = 0
    for (const x of after) longest = Math.max(longest, (streak = x ? streak + 1 : 0))
    return { gate, after, longest, passed: after.filter(Boolean).length }
  }
  const told = run(true)
  t.equal(told.passed, 0, 'the buffer grew by 80 ms: no echo frame is taken for the caller')
  t.equal(told.gate.echoPath.lagFrames, 1, 'the echo path is measured from the wire (60 ms, less the 40 ms buffered)')
  const moved = run(false)
  t.equal(moved.gate.echoPath.lagFrames, 7, 'a path that moved by itself is learnt again')
  const late = moved.after.slice(50)
  t.ok(late.filter(Boolean).length / late.length < 0.05, 'a second after the move the echo is held back again')
  t.comment(`path moved unannounced: ${moved.passed} echo frames passed, longest run ${moved.longest}: ${moved.after.map((x) => (x ? 1 : 0)).join('')}`)
})
