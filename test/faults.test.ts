// Fault injection against the real server process (issue 13): hostile SDP, lost ACK, BYE before
// the ACK, a CANCEL that races the 200, a BYE of ours that is never answered, and a throw at each
// point of a call's path (failpoints). Each case asserts what the caller got on the wire, what
// was stored, and that nothing is left live: no call, no RTP port, no open record.
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { openStore } from '../crm/open-store.ts'
import { RawCaller } from './helpers/raw-caller.ts'
import { REPO, startServerProcess, TEST_PROMPT_CACHE, type ServerHandle } from './helpers/server-process.ts'

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms))
const T1 = 50 // SIP_T1_MS: a lost ACK is given up after 64*T1 = 3.2 s
const SCENARIO_DIR = `${REPO}/test/fixtures/scenarios/three-questions`

async function server(t: Test, env: Record<string, string> = {}): Promise<ServerHandle> {
  const s = await startServerProcess({ SIP_T1_MS: String(T1), SCENARIO_DIR, RTP_PORT_MIN: '31000', RTP_PORT_MAX: '31999', ...env })
  t.teardown(() => s.stop())
  return s
}

async function caller(t: Test, s: ServerHandle, sdp?: (port: number) => string): Promise<RawCaller> {
  const c = await RawCaller.open({ sipPort: s.sipPort, sdp })
  t.teardown(() => c.close())
  return c
}

/** The stored record of the call with this SIP Call-ID, once `until` holds for it. */
async function record(s: ServerHandle, sipCallId: string, until: (c: any) => boolean = (c) => !c.live && !!c.endedAt, timeoutMs = 10_000): Promise<any> {
  const deadline = Date.now() + timeoutMs
  let last: any
  for (;;) {
    const list = await s.api('/api/calls?limit=100')
    const summary = list.body.calls.find((c: any) => c.sipCallId === sipCallId)
    if (summary) {
      last = (await s.api(`/api/calls/${summary.id}`)).body
      if (until(last)) return last
    }
    if (Date.now() > deadline) throw new Error(`call ${sipCallId} never reached the expected state: ${JSON.stringify(last)}`)
    await wait(100)
  }
}

async function metric(s: ServerHandle, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text()
  return text.split('\n').filter((l) => l.startsWith(name)).reduce((sum, l) => sum + Number(l.split(' ').pop()), 0)
}

/** Nothing live: no call in the API or the gauge, no port pair held, no invariant broken. */
async function nothingLive(t: Test, s: ServerHandle): Promise<void> {
  const list = await s.api('/api/calls?limit=100')
  t.same(list.body.calls.filter((c: any) => c.live || !c.endedAt).map((c: any) => c.sipCallId), [], 'no call live or open in the API')
  t.equal(await metric(s, 'voice_active_calls'), 0, 'voice_active_calls is 0')
  t.equal(await metric(s, 'voice_rtp_ports_free'), 500, 'every RTP port pair back in the pool')
}

async function stillServes(t: Test, s: ServerHandle): Promise<void> {
  const c = await caller(t, s)
  c.invite()
  await c.next(/^SIP\/2\.0 200/)
  c.ack()
  c.bye()
  await c.next(/^SIP\/2\.0 200[\s\S]*CSeq: \d+ BYE/)
  t.equal((await record(s, c.callId)).result, 'caller-hangup', 'the server still answers a call and files it')
}

const sdpWith = (media: string) => () => `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n${media}\r\na=rtpmap:0 PCMU/8000\r\n`

t.test('signalling faults', async (t) => {
  const s = await server(t)

  await t.test('hostile SDP ports are refused with 488 and the process lives', async (t) => {
    for (const media of ['m=audio 65535 RTP/AVP 0', 'm=audio 70000 RTP/AVP 0', 'm=audio 6000 RTP/AVP 0\r\na=rtcp:70000']) {
      const c = await caller(t, s, sdpWith(media))
      c.invite()
      const res = await c.next(/^SIP\/2\.0 [2-6]\d\d/)
      t.match(res, /^SIP\/2\.0 488/, `${media.replace('\r\n', ' ')}: 488`)
      const rec = await record(s, c.callId)
      t.equal(rec.result, 'failed')
      t.match(rec.endReason, /^488 invalid (RTCP )?port/)
    }
    await wait(4000) // past the first RTCP report, which is what used to throw
    await stillServes(t, s)
  })

  await t.test('BYE before the ACK: the call ends, nothing was streamed before it', async (t) => {
    const c = await caller(t, s)
    c.invite()
    await c.next(/^SIP\/2\.0 200/)
    await wait(300)
    t.equal(c.rtpIn, 0, 'no RTP before the ACK or our own RTP (no amplification towards the SDP address)')
    c.bye()
    await c.next(/^SIP\/2\.0 200[\s\S]*CSeq: \d+ BYE/)
    const rec = await record(s, c.callId)
    t.equal(rec.result, 'caller-hangup')
    t.equal(rec.endReason, 'remote-bye')
    const oks = c.count(/^SIP\/2\.0 200[\s\S]*CSeq: 1 INVITE/)
    await wait(10 * T1)
    t.equal(c.count(/^SIP\/2\.0 200[\s\S]*CSeq: 1 INVITE/), oks, 'the 200 OK is no longer retransmitted')
    t.equal(c.rtpIn, 0, 'and no RTP after the BYE either')
  })

  await t.test('lost ACK, and our BYE never answered: the call ends by the ACK timeout', async (t) => {
    const c = await caller(t, s)
    c.answerBye = false
    c.invite()
    await c.next(/^SIP\/2\.0 200/)
    const bye = await c.next(/^BYE /, 64 * T1 + 3000)
    t.ok(bye, 'BYE after 64*T1 without an ACK')
    t.equal(c.rtpIn, 0, 'no RTP was ever sent to the unconfirmed address')
    const rec = await record(s, c.callId)
    t.equal(rec.result, 'failed')
    t.equal(rec.endReason, 'ack-timeout')
    await wait(64 * T1 + 500) // the unanswered BYE's own transaction times out
    t.ok(c.count(/^BYE /) > 1, 'our BYE was retransmitted (Timer E) and then given up')
  })

  await t.test('CANCEL racing the 200: the CANCEL changes nothing, the call goes on and ends normally', async (t) => {
    const c = await caller(t, s)
    c.invite()
    await c.next(/^SIP\/2\.0 200[\s\S]*CSeq: 1 INVITE/)
    c.cancel()
    const cancelRes = await c.next(/CSeq: 1 CANCEL/)
    t.match(cancelRes, /^SIP\/2\.0 (200|481)/, 'CANCEL after the final response: 200 or 481, never 487')
    t.equal(c.count(/^SIP\/2\.0 487/), 0)
    c.ack()
    c.startRtp()
    await wait(1500)
    t.ok(c.rtpIn > 20, `the call is up: the greeting streams (${c.rtpIn} packets)`)
    c.bye()
    await c.next(/^SIP\/2\.0 200[\s\S]*CSeq: \d+ BYE/)
    const rec = await record(s, c.callId)
    t.equal(rec.result, 'caller-hangup')
    t.equal(rec.lead?.outcome ?? 'caller-hangup', 'caller-hangup')
  })

  await t.test('call ids that are not ids: 404, and no database text', async (t) => {
    for (const id of ['%00', '%E0', "x'%20OR%201=1--", '..%2F..%2Fetc']) {
      const res = await fetch(`http://127.0.0.1:${s.httpPort}/api/calls/${id}`)
      const body = await res.text()
      t.equal(res.status, 404, `/api/calls/${id}`)
      t.notMatch(body, /syntax|invalid input|postgres|pglite|uuid/i)
    }
  })

  await t.test('after all of it', async (t) => {
    await nothingLive(t, s)
    t.equal(await metric(s, 'voice_call_invariant_violations'), 0, 'the invariant checker found nothing')
  })
})

// A throw at each point of a call's path ends that call alone: BYE to its caller, a record that
// says where, while a second call at the same time carries on, and the process serves the next.
const POINTS = (process.env.FAULT_POINTS ?? 'sip.event,rtp.packet,rtcp.packet,rtcp.timer,clock.tick,clock.after,recording,dialog').split(',')

for (const point of POINTS) {
  t.test(`a throw at ${point} ends one call cleanly`, async (t) => {
    const s = await server(t, { VOICE_FAILPOINTS: point })
    const a = await caller(t, s)
    const b = await caller(t, s)
    for (const c of [a, b]) {
      c.invite()
      await c.next(/^SIP\/2\.0 200/)
      c.ack()
      c.startRtp()
    }
    a.info('5') // the first SIP event after the answer is call a's
    const deadline = Date.now() + 12_000
    const faulted = () => [a, b].find((c) => c.count(/^BYE /) > 0)
    while (!faulted() && Date.now() < deadline) await wait(100)
    const victim = faulted()
    t.ok(victim, 'one call got a BYE from the server')
    if (!victim) return
    const other = victim === a ? b : a
    const rec = await record(s, victim.callId)
    t.equal(rec.result, 'failed')
    t.equal(rec.endReason, `fault: ${point}`)
    t.equal(await metric(s, `voice_call_faults_total{where="${point}"}`), 1)
    // the other call is untouched: still live, still streaming
    const before = other.rtpIn
    await wait(500)
    t.ok(other.rtpIn > before + 15, 'the other call still gets its RTP')
    t.equal(other.count(/^BYE /), 0, 'and no BYE')
    t.equal((await record(s, other.callId, (c) => c.live)).live, true)
    other.bye()
    await other.next(/^SIP\/2\.0 200[\s\S]*CSeq: \d+ BYE/)
    t.equal((await record(s, other.callId)).result, 'caller-hangup')
    await stillServes(t, s)
    await nothingLive(t, s)
  })
}

t.test('a call stuck after its dialog ended is ended by the watchdog', async (t) => {
  const s = await server(t, { VOICE_FAILPOINTS: 'dialog.stall' })
  const c = await caller(t, s)
  c.invite()
  await c.next(/^SIP\/2\.0 200/)
  c.ack()
  c.startRtp()
  await wait(1000)
  c.bye()
  await c.next(/^SIP\/2\.0 200[\s\S]*CSeq: \d+ BYE/)
  // the dialog is deaf to the hang-up: the call stays live...
  t.equal((await record(s, c.callId, (r) => r.live)).live, true, 'live just after the BYE')
  // ...until the watchdog, 64*T1 after the dialog ended, gives up on it
  const rec = await record(s, c.callId, undefined, 64 * T1 + 10_000)
  t.equal(rec.endReason, 'fault: watchdog')
  t.equal(rec.result, 'failed')
  t.equal(await metric(s, 'voice_call_faults_total{where="watchdog"}'), 1)
  await nothingLive(t, s)
})

t.test('SIGTERM with a call in progress: BYE to the caller, the record closed as shutdown', async (t) => {
  const s = await server(t)
  const c = await caller(t, s)
  c.invite()
  await c.next(/^SIP\/2\.0 200/)
  c.ack()
  c.startRtp()
  await wait(1500)
  await s.stop()
  t.equal(c.count(/^BYE /) >= 1, true, 'the caller got our BYE before the process exited')
  // the record, read from the embedded database the server left behind
  const store = await openStore({ dataDir: s.dataDir })
  t.teardown(() => store.close())
  const summary = (await store.listCalls({ limit: 10 })).find((r) => r.sipCallId === c.callId)
  t.ok(summary?.endedAt, 'the record is closed')
  t.equal(summary?.result, 'shutdown')
  t.equal(summary?.endReason, 'shutdown')
  t.equal(summary?.leadOutcome, 'shutdown', 'the lead does not say the caller hung up')
})

// Issue 13: `npm start` ran node under `sh -c`; SIGTERM to npm left node running as an orphan,
// still serving calls.
t.test('SIGTERM to `npm start` stops the server too', async (t) => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'voice-npm-start-'))
  const npm = spawn('npm', ['start'], {
    cwd: REPO,
    env: { ...process.env, SIP_HOST: '127.0.0.1', SIP_PORT: '0', HTTP_PORT: '0', HTTP_HOST: '127.0.0.1', PUBLIC_IP: '127.0.0.1', DATA_DIR: dataDir, PROMPT_CACHE_DIR: TEST_PROMPT_CACHE, SCENARIO_DIR },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  npm.stdout.on('data', (d) => (out += d))
  npm.stderr.on('data', (d) => (out += d))
  const deadline = Date.now() + 90_000
  while (!out.includes('ready to take calls') && Date.now() < deadline) await wait(100)
  t.match(out, /ready to take calls/)
  const pid = Number(execFileSync('ps', ['-o', 'pid=', '--ppid', String(npm.pid)]).toString().trim().split('\n')[0])
  t.match(execFileSync('ps', ['-o', 'args=', '-p', String(pid)]).toString(), /media-server\/main\.ts/, 'node runs directly under npm')
  npm.kill('SIGTERM')
  await once(npm, 'exit')
  const alive = () => {
    try {
      process.kill(pid, 0)
      return true
    } catch {
      return false
    }
  }
  for (let i = 0; i < 100 && alive(); i++) await wait(100)
  t.equal(alive(), false, 'no node process left behind')
  if (alive()) process.kill(pid, 'SIGKILL')
})
