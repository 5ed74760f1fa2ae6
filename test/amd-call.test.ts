// Answering-machine detection on calls the server places (POST /api/calls with "amd"), SIPp as
// the callee streaming an opening from the AMD set (test/amd/) once it has answered: a voicemail
// greeting is hung up on with the record's result 'machine' and no greeting said; a short
// "Алло?" is a person, and the bot greets; a short greeting with its beep gets the message,
// said after the beep.
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import t, { type Test } from 'tap'
import { linearToUlaw } from '../codecs/g711.ts'
import { encodeWavCoded } from '../codecs/wav.ts'
import { BeepDetector } from '../dialer/amd/beep-detector.ts'
import { readClip } from './amd/labels.ts'
import { renderScenario } from './helpers/scenario-file.ts'
import { startOutboundEnv, type OutboundEnv } from './helpers/outbound-env.ts'
import { runSipp } from './helpers/sipp.ts'
import { ringingFor } from './helpers/sipp-callee.ts'

// This file's share of ports: server RTP 40100-40299, SIPp media 40400-40499.
const RTP_MIN = 40100
const RTP_MAX = 40299
const CALLEE_MP = 40400
const TOKEN = 'amd-test-token'
const NUMBER = '89990001122'
/** What the callee streams after the opening: silence, so the line stays up while the server decides and acts. */
const TAIL_MS = 8000

type Env = OutboundEnv

/** A clip of the AMD set as the μ-law WAV SIPp's rtp_stream sends, followed by silence. */
async function calleeAudio(dataDir: string, clip: string): Promise<string> {
  const wav = await readClip(clip)
  const pcm = new Int16Array(wav.samples.length + (wav.sampleRate * TAIL_MS) / 1000)
  pcm.set(wav.samples)
  const out = path.join(dataDir, clip)
  writeFileSync(out, encodeWavCoded(Uint8Array.from(pcm, linearToUlaw), 'ulaw'))
  return out
}

/** When the beep in `pcm` (8 kHz) has stopped, to the 20 ms packet, as the call hears it. */
function beepEnd(pcm: Int16Array): number | undefined {
  const d = new BeepDetector(8000)
  let heard = false
  for (let i = 0; i < pcm.length; i += 160) {
    if (d.push(pcm.subarray(i, i + 160))) heard = true
    if (heard && !d.sounding) return ((i + 160) * 1000) / 8000
  }
  return undefined
}

async function api(env: Env, p: string, body?: unknown): Promise<{ status: number; body: any }> {
  const r = await fetch(`http://127.0.0.1:${env.server.httpPort}${p}`, {
    method: body ? 'POST' : 'GET',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  })
  return { status: r.status, body: await r.json() }
}

/** SIPp answers as the callee and streams `clip`; resolves with SIPp's exit and the final record. */
async function callClip(env: Env, clip: string, amd: object, mediaPort: number, hangUpAfterMs = 12_000) {
  const file = renderScenario('uas-callee.xml', env.dataDir, {
    ANSWER_PT: 0,
    ANSWER_CODEC: 'PCMU',
    CALLER_ID: '74951234567',
    CHALLENGE: '',
    PROVISIONAL: ringingFor(200),
    HANG_UP_AFTER_MS: hangUpAfterMs,
    AFTER_ACK: `<nop><action><exec rtp_stream="${await calleeAudio(env.dataDir, clip)},1,0" /></action></nop>`,
  })
  const started = Date.now()
  const sipp = runSipp(file, `127.0.0.1:${env.server.sipPort}`, ['-p', String(env.calleePort), '-m', '1', '-mp', String(mediaPort)], 60_000)
  await new Promise((r) => setTimeout(r, 500)) // SIPp binds its port
  const placed = await api(env, '/api/calls', { to: NUMBER, amd })
  if (placed.status !== 202) throw new Error(`POST /api/calls: ${placed.status} ${JSON.stringify(placed.body)}`)
  const done = await sipp
  const sippMs = Date.now() - started
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    const { body: call } = await api(env, `/api/calls/${placed.body.id}`)
    if (call.live === false && call.result) return { sipp: done, sippMs, call }
  }
  throw new Error('no final record')
}

function startEnv(t: Test): Promise<Env> {
  return startOutboundEnv(t, { backend: 'embedded', rtp: [RTP_MIN, RTP_MAX], apiToken: TOKEN, env: { TRUNK_CALLER_ID: '74951234567' } })
}

t.test('answering-machine detection on outbound calls, SIPp as the callee', async (t) => {
  const env = await startEnv(t)

  await t.test('a voicemail greeting: BYE from the server, result machine, nothing said', async (t) => {
    const { sipp, call } = await callClip(env, 'machine-ru-19.wav', { onMachine: 'hangup' }, CALLEE_MP)
    t.equal(sipp.code, 0, `SIPp got our BYE before it would hang up (${sipp.stderr.slice(-400)})`)
    t.match(call, { direction: 'outbound', result: 'machine', endReason: 'local-bye', amd: { result: 'machine', reason: 'long-greeting' } })
    t.ok(call.amd.decisionMs <= 3500, `decided at ${call.amd.decisionMs} ms after the answer`)
    t.equal(call.turns.length, 0, 'the bot said nothing to the machine')
  })

  await t.test('"Алло?" and silence: a person, and the bot greets', async (t) => {
    const { sipp, call } = await callClip(env, 'human-ru-01.wav', { onMachine: 'hangup' }, CALLEE_MP + 10, 6000)
    t.equal(sipp.code, 0, `SIPp hung up after 6 s (${sipp.stderr.slice(-400)})`)
    t.match(call, { result: 'caller-hangup', amd: { result: 'human', reason: 'short-greeting-then-silence' } })
    t.ok(call.amd.decisionMs <= 3500, `decided at ${call.amd.decisionMs} ms after the answer`)
    t.equal(call.turns[0]?.step, 'greeting', 'the greeting came after the decision')
    t.ok(call.turns[0]?.startMs >= call.amd.decisionMs, `greeting at ${call.turns[0]?.startMs} ms, decision at ${call.amd.decisionMs} ms`)
  })

  await t.test('a short greeting and its beep: the message is left after the beep, then BYE', async (t) => {
    const clip = 'machine-ru-35.wav'
    const beepEndMs = beepEnd((await readClip(clip)).samples)
    t.ok(beepEndMs, `the clip's beep ends ${beepEndMs} ms into it`)
    const message = 'Здравствуйте, это компания Ромашка, перезвоните нам, пожалуйста.'
    const { sipp, call } = await callClip(env, clip, { onMachine: 'message', message }, CALLEE_MP + 20)
    t.equal(sipp.code, 0, `SIPp got our BYE (${sipp.stderr.slice(-400)})`)
    t.match(call, { result: 'machine', endReason: 'local-bye', amd: { result: 'machine' } })
    t.match(call.turns, [{ who: 'bot', step: 'amd-message', text: message }], 'the message, and nothing else')
    t.equal(call.turns.length, 1)
    // the callee's stream starts with its ACK, a little after the call's timeline does
    t.ok(call.turns[0]?.startMs >= beepEndMs!, `message at ${call.turns[0]?.startMs} ms, after the beep (its end ${beepEndMs} ms into the stream)`)
  })
})
