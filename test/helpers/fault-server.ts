// The server under fault: started with short SIP timers and the short test scenario, raw callers,
// and the checks every fault test ends with (nothing live, the server still serves).
import type { Test } from 'tap'
import { seqDiff } from '../../rtp/seq.ts'
import { RawCaller } from './raw-caller.ts'
import { REPO, startServerProcess, type ServerHandle } from './server-process.ts'

export const wait = (ms: number) => new Promise((r) => setTimeout(r, ms))
export const T1 = 50 // SIP_T1_MS: a lost ACK is given up after 64*T1 = 3.2 s
export const SCENARIO_DIR = `${REPO}/test/fixtures/scenarios/three-questions`

export async function server(t: Test, env: Record<string, string> = {}): Promise<ServerHandle> {
  const s = await startServerProcess({ SIP_T1_MS: String(T1), SCENARIO_DIR, RTP_PORT_MIN: '31000', RTP_PORT_MAX: '31999', ...env })
  t.teardown(() => s.stop())
  return s
}

export async function caller(t: Test, s: ServerHandle, sdp?: (port: number) => string): Promise<RawCaller> {
  const c = await RawCaller.open({ sipPort: s.sipPort, sdp })
  t.teardown(() => c.close())
  return c
}

/** The stored record of the call with this SIP Call-ID, once `until` holds for it. */
export async function record(s: ServerHandle, sipCallId: string, until: (c: any) => boolean = (c) => !c.live && !!c.endedAt, timeoutMs = 10_000): Promise<any> {
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

export async function metric(s: ServerHandle, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text()
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0)
}

/** Nothing live: no call in the API or the gauge, no port pair held, no invariant broken. */
export async function nothingLive(t: Test, s: ServerHandle): Promise<void> {
  const list = await s.api('/api/calls?limit=100')
  t.same(
    list.body.calls.filter((c: any) => c.live || !c.endedAt).map((c: any) => c.sipCallId),
    [],
    'no call live or open in the API',
  )
  t.equal(await metric(s, 'voice_active_calls'), 0, 'voice_active_calls is 0')
  t.equal(await metric(s, 'voice_rtp_ports_free'), 500, 'every RTP port pair back in the pool')
}

export async function stillServes(t: Test, s: ServerHandle): Promise<void> {
  const c = await caller(t, s)
  c.invite()
  await c.next(/^SIP\/2\.0 200/)
  c.ack()
  c.bye()
  await c.next(/^SIP\/2\.0 200[\s\S]*CSeq: \d+ BYE/)
  t.equal((await record(s, c.callId)).result, 'caller-hangup', 'the server still answers a call and files it')
}

/** A throw at `point` ends one call alone: BYE to its caller, a record that says where, while a
 *  second call at the same time carries on, and the process serves the next. */
export function failpointCase(tap: Test, point: string, where = point): void {
  tap.test(`a throw at ${point} ends one call cleanly`, async (t) => {
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
    t.equal(rec.endReason, `fault: ${where}`)
    t.equal(await metric(s, `voice_call_faults_total{where="${where}"}`), 1)
    // the other call is untouched: still live, still streaming
    // counted by sequence number, so that this process's own lateness in reading does not count
    const before = other.rtpSeq
    await wait(500)
    await new Promise((r) => setImmediate(r)) // one poll phase: datagrams queued during the wait are read
    const sent = seqDiff(other.rtpSeq, before)
    t.ok(sent > 15, `the other call still gets its RTP (${sent} packets in 500 ms)`)
    t.equal(other.count(/^BYE /), 0, 'and no BYE')
    t.equal((await record(s, other.callId, (c) => c.live)).live, true)
    other.bye()
    await other.next(/^SIP\/2\.0 200[\s\S]*CSeq: \d+ BYE/)
    t.equal((await record(s, other.callId)).result, 'caller-hangup')
    await stillServes(t, s)
    await nothingLive(t, s)
  })
}
