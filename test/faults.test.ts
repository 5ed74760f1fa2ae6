// Fault injection against the real server process (issue 13): hostile SDP, lost ACK, BYE before
// the ACK, a CANCEL that races the 200, a BYE of ours that is never answered, a stuck call, SIGTERM
// (the throws at each point of a call's path are in failpoints-*.test.ts). Each case asserts what the caller got on the wire, what
// was stored, and that nothing is left live: no call, no RTP port, no open record.
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { openStore } from '../crm/open-store.ts'
import { caller, metric, nothingLive, record, SCENARIO_DIR, server, stillServes, T1, wait } from './helpers/fault-server.ts'
import { REPO, TEST_PROMPT_CACHE } from './helpers/server-process.ts'

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
    env: {
      ...process.env,
      SIP_HOST: '127.0.0.1',
      SIP_PORT: '0',
      HTTP_PORT: '0',
      HTTP_HOST: '127.0.0.1',
      PUBLIC_IP: '127.0.0.1',
      DATA_DIR: dataDir,
      PROMPT_CACHE_DIR: TEST_PROMPT_CACHE,
      SCENARIO_DIR,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  npm.stdout.on('data', (d) => (out += d))
  npm.stderr.on('data', (d) => (out += d))
  const deadline = Date.now() + 90_000
  while (!out.includes('ready to take calls') && Date.now() < deadline) await wait(100)
  t.match(out, /ready to take calls/)
  const pid = Number(
    execFileSync('ps', ['-o', 'pid=', '--ppid', String(npm.pid)])
      .toString()
      .trim()
      .split('\n')[0],
  )
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
