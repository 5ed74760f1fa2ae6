// Calls the server places on request (POST /api/calls), through either SIP backend, with SIPp as
// the called phone behind a trunk (TRUNK_HOST is SIPp's address; no registration): it answers and the bot greets first
// (speech on the wire at SIPp's media port, the record answered and outbound), it is busy (486),
// nobody answers (our CANCEL at the ring timeout, 487), 480, 404, 183 early media then 200, and
// a 401 challenge answered with digest. The API refuses a number outside the allowed prefixes
// (403, nothing sent), bad input (400) and a missing token (401).
import dgram from 'node:dgram'
import path from 'node:path'
import t, { type Test } from 'tap'
import { createCodec } from '../codecs/index.ts'
import { LoopbackCapture } from './helpers/capture.ts'
import { rtpPackets, speechShare } from './helpers/rtp-analysis.ts'
import { renderScenario } from './helpers/scenario-file.ts'
import { SIP_BACKENDS, type SipBackendName } from './helpers/sip-backend.ts'
import { startOutboundEnv, type OutboundEnv } from './helpers/outbound-env.ts'
import { runSipp, type SippResult } from './helpers/sipp.ts'
import { ringingFor } from './helpers/sipp-callee.ts'

// This file's share of ports: RTP 38500-38599, SIPp media 38700 and up.
const RTP_MIN = 38500
const RTP_MAX = 38599
const CALLEE_MP = 38700
const TOKEN = 'outbound-test-token'
const USER = '74951234567'
const PASSWORD = 'Trunk-Pa55'
const NUMBER = '89990001122'
const PCMU = { ANSWER_PT: 0, ANSWER_CODEC: 'PCMU' }

const RINGING = ringingFor(300)

// 183 with SDP: ringback as early media for a second, then the answer
const EARLY_MEDIA = `
  <send>
    <![CDATA[
      SIP/2.0 183 Session Progress
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:callee@[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=callee 1 1 IN IP4 127.0.0.1
      s=-
      c=IN IP4 127.0.0.1
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
      a=sendrecv
    ]]>
  </send>
  <pause milliseconds="1000" />`

// The trunk's 401; the INVITE again must carry a digest SIPp verifies, else the call fails here.
const CHALLENGE = `
  <send>
    <![CDATA[
      SIP/2.0 401 Unauthorized
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag00[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      WWW-Authenticate: Digest realm="carrier.test", nonce="[pid]n[call_number]x", algorithm=MD5
      Content-Length: 0

    ]]>
  </send>
  <recv request="ACK" />
  <recv request="INVITE">
    <action>
      <ereg regexp="Digest" search_in="hdr" header="Authorization:" check_it="true" assign_to="digest" />
      <verifyauth assign_to="authvalid" username="${USER}" password="${PASSWORD}" />
    </action>
  </recv>
  <nop hide="true" test="authvalid" next="authok" />
  <recv request="NOTIFY" timeout="100" />
  <label id="authok" />
  <Reference variables="digest" />`

type Env = OutboundEnv

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

function post(env: Env, body: unknown, token: string | null = TOKEN): Promise<{ status: number; body: any }> {
  return fetch(`http://127.0.0.1:${env.server.httpPort}/api/calls`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  }).then(async (r) => ({ status: r.status, body: await r.json() }))
}

async function get(env: Env, p: string): Promise<any> {
  const r = await fetch(`http://127.0.0.1:${env.server.httpPort}${p}`, { headers: { authorization: `Bearer ${TOKEN}` } })
  return r.json()
}

/** SIPp plays the callee on the trunk's address while the server places one call to NUMBER. */
async function placeCall(
  env: Env,
  scenario: string,
  values: Record<string, string | number>,
  sippArgs: string[] = [],
): Promise<{ id: string; sipp: SippResult; call: any }> {
  const file = renderScenario(scenario, env.dataDir, values)
  const sipp = runSipp(file, `127.0.0.1:${env.server.sipPort}`, ['-p', String(env.calleePort), '-m', '1', ...sippArgs], 60_000)
  await new Promise((r) => setTimeout(r, 500)) // SIPp binds its port
  const placed = await post(env, { to: NUMBER })
  if (placed.status !== 202) throw new Error(`POST /api/calls: ${placed.status} ${JSON.stringify(placed.body)}`)
  const id: string = placed.body.id
  const done = await sipp
  const call = await until('the final record', async () => {
    const c = await get(env, `/api/calls/${id}`)
    return c.live === false && c.result ? c : undefined
  })
  return { id, sipp: done, call }
}

function startEnv(t: Test, backend: SipBackendName): Promise<Env> {
  return startOutboundEnv(t, {
    backend,
    rtp: [RTP_MIN, RTP_MAX],
    apiToken: TOKEN,
    env: { TRUNK_USERNAME: USER, TRUNK_PASSWORD: PASSWORD, TRUNK_CALLER_ID: USER, OUTBOUND_RING_TIMEOUT_S: '3' },
  })
}

for (const backend of SIP_BACKENDS)
  t.test(`outbound calls with SIPp as the callee (${backend})`, async (t) => {
    const env = await startEnv(t, backend)

    await t.test('answered: the bot greets first, its speech reaches the callee; the record is answered and outbound', async (t) => {
      const cap = new LoopbackCapture(path.join(env.dataDir, 'answer.pcap'), `udp and dst port ${CALLEE_MP}`)
      await cap.start()
      const { sipp, call } = await placeCall(env, 'uas-callee.xml', { ...PCMU, CALLER_ID: USER, CHALLENGE: '', PROVISIONAL: RINGING, HANG_UP_AFTER_MS: 6000 }, [
        '-mp',
        String(CALLEE_MP),
      ])
      const packets = await cap.stop()
      t.equal(sipp.code, 0, `SIPp passed (${sipp.stderr.slice(-400)})`)
      t.match(call, {
        direction: 'outbound',
        callerId: NUMBER,
        toUri: `sip:${NUMBER}@127.0.0.1`,
        codec: 'PCMU',
        outbound: { sipResult: 'answered', sipStatus: 200 },
      })
      t.ok(call.answeredAt, 'answered')
      t.equal(call.result, 'caller-hangup', 'the callee hung up after 6 s')
      t.equal(call.turns[0]?.who, 'bot', 'the bot spoke first')
      t.equal(call.turns[0]?.step, 'greeting')
      const rtp = rtpPackets(packets, (port) => port >= RTP_MIN && port <= RTP_MAX)
      t.ok(rtp.length > 100, `RTP from the server reached SIPp's media port: ${rtp.length} packets`)
      const start = rtp.findIndex((p) => p.marker)
      t.ok(start >= 0, 'a packet with the marker bit starts the greeting')
      const greeting = rtp.slice(start, start + 75)
      const share = speechShare(greeting, createCodec('PCMU'))
      t.ok(share > 0.4, `the greeting's first 1.5 s are speech: ${(share * 100).toFixed(0)}% of frames above -40 dBFS`)
    })

    await t.test('183 with early media, then 200: the dialog starts at the 200', async (t) => {
      const { sipp, call } = await placeCall(
        env,
        'uas-callee.xml',
        { ...PCMU, CALLER_ID: USER, CHALLENGE: '', PROVISIONAL: EARLY_MEDIA, HANG_UP_AFTER_MS: 3000 },
        ['-mp', String(CALLEE_MP + 10), '-rtp_echo'],
      )
      t.equal(sipp.code, 0, `SIPp passed (${sipp.stderr.slice(-400)})`)
      t.match(call, { direction: 'outbound', outbound: { sipResult: 'answered', sipStatus: 200 } })
      const ringing = Date.parse(call.answeredAt) - Date.parse(call.startedAt)
      t.ok(ringing >= 900, `answered after the early media, ${ringing} ms after the INVITE`)
      t.equal(call.turns[0]?.step, 'greeting')
    })

    await t.test("the trunk's 401 is answered with digest", async (t) => {
      const { sipp, call } = await placeCall(env, 'uas-callee.xml', { ...PCMU, CALLER_ID: USER, CHALLENGE, PROVISIONAL: RINGING, HANG_UP_AFTER_MS: 2000 }, [
        '-mp',
        String(CALLEE_MP + 20),
        '-rtp_echo',
      ])
      t.equal(sipp.code, 0, `SIPp verified our credentials (${sipp.stderr.slice(-400)})`)
      t.match(call, { outbound: { sipResult: 'answered' } })
    })

    for (const [status, reason, result] of [
      [486, 'Busy Here', 'busy'],
      [480, 'Temporarily Unavailable', 'no-answer'],
      [404, 'Not Found', 'rejected'],
    ] as const) {
      await t.test(`${status} ${reason}: ${result}`, async (t) => {
        const { sipp, call } = await placeCall(env, 'uas-callee-refuses.xml', { RING_MS: 300, STATUS: status, REASON: reason })
        t.equal(sipp.code, 0, `SIPp passed (${sipp.stderr.slice(-400)})`)
        t.match(call, { direction: 'outbound', result, answeredAt: null, endReason: `${status} ${reason}`, outbound: { sipResult: result, sipStatus: status } })
      })
    }

    await t.test('nobody answers: our CANCEL at the ring timeout, 487, no-answer', async (t) => {
      const started = Date.now()
      const { sipp, call } = await placeCall(env, 'uas-callee-no-answer.xml', { CANCEL_WITHIN_MS: 6000 })
      t.equal(sipp.code, 0, `SIPp got the CANCEL (${sipp.stderr.slice(-400)})`)
      t.ok(Date.now() - started >= 3000, 'not before OUTBOUND_RING_TIMEOUT_S')
      t.match(call, { result: 'no-answer', endReason: '487 ring timeout (3 s)', outbound: { sipResult: 'no-answer', sipStatus: 487 } })
    })

    await t.test('the list shows the outbound calls with their results; metrics count them', async (t) => {
      const { calls } = await get(env, '/api/calls')
      const outbound = calls.filter((c: any) => c.direction === 'outbound')
      t.equal(outbound.length, 7)
      t.same(
        outbound.map((c: any) => c.outbound.sipResult),
        ['no-answer', 'rejected', 'no-answer', 'busy', 'answered', 'answered', 'answered'],
      )
      const metrics = await fetch(`http://127.0.0.1:${env.server.httpPort}/metrics`).then((r) => r.text())
      t.match(metrics, /^voice_outbound_calls_total\{result="answered"\} 3$/m)
      t.match(metrics, /^voice_outbound_calls_total\{result="busy"\} 1$/m)
      t.match(metrics, /^voice_outbound_calls_total\{result="no-answer"\} 2$/m)
    })

    await t.test('a 200 whose SDP we cannot use: BYE, failed with 200', async (t) => {
      const { sipp, call } = await placeCall(env, 'uas-callee.xml', {
        ANSWER_PT: 18,
        ANSWER_CODEC: 'G729',
        CALLER_ID: USER,
        CHALLENGE: '',
        PROVISIONAL: RINGING,
        HANG_UP_AFTER_MS: 5000,
      })
      t.equal(sipp.code, 0, `SIPp got our BYE (${sipp.stderr.slice(-400)})`)
      t.match(call, { result: 'failed', answeredAt: null, endReason: /^200 with no usable SDP/, outbound: { sipResult: 'failed', sipStatus: 200 } })
    })
  })

t.test('the API refuses what it must not dial', async (t) => {
  const env = await startEnv(t, 'embedded')
  // a listener where a refused call would go: it must hear nothing
  const trap = dgram.createSocket('udp4')
  await new Promise<void>((r) => trap.bind(0, '127.0.0.1', r))
  t.teardown(() => trap.close())
  let heard = 0
  trap.on('message', () => heard++)
  const trapPort = trap.address().port

  const noToken = await post(env, { to: NUMBER }, null)
  t.equal(noToken.status, 401, 'no token: 401')
  const wrongToken = await post(env, { to: NUMBER }, 'wrong')
  t.equal(wrongToken.status, 401, 'wrong token: 401')

  const premium = await post(env, { to: '+79001234567' })
  t.equal(premium.status, 403, 'a number outside OUTBOUND_ALLOW_PREFIXES: 403')
  t.match(premium.body.error, /matches none of the allowed prefixes 8999/)
  const uri = await post(env, { to: `sip:88095550100@127.0.0.1:${trapPort}` })
  t.equal(uri.status, 403, 'a URI naming no trunk is held to the same prefixes')

  for (const body of [
    'not json',
    { to: 'sip:8999@x?Route=<sip:evil>' },
    { to: '8999 abc' },
    { to: NUMBER, callerId: 'x\r\ny' },
    { to: NUMBER, trunk: 'other' },
  ]) {
    const r = await post(env, body)
    t.equal(r.status, 400, `400 for ${JSON.stringify(body)}: ${r.body.error}`)
  }
  await new Promise((r) => setTimeout(r, 500))
  t.equal(heard, 0, 'nothing was sent to the URI')
  const { calls } = await get(env, '/api/calls')
  t.equal(calls.length, 0, 'no call record for a refused request')
  const metrics = await fetch(`http://127.0.0.1:${env.server.httpPort}/metrics`).then((r) => r.text())
  t.match(metrics, /^voice_outbound_dials_refused_total\{reason="prefix",trunk="trunk"\} 1$/m)
  t.match(metrics, /^voice_outbound_dials_refused_total\{reason="prefix",trunk=""\} 1$/m)
})
