// Issue 13, storage: a database outage loses no call. The server's DATABASE_URL goes through a TCP
// proxy the test cuts (real Postgres behind it); a SIPp caller answers the three-questions scenario
// while the database is unreachable for the whole call, or for its start only. The caller must not
// notice, and once the database is back the call, its turns and its lead are in it, once.
import t, { type Test } from 'tap'
import { testSchema } from './helpers/pg-schema.ts'
import { startServerProcess } from './helpers/server-process.ts'
import { callAndListen, callerScript, waitFor } from './helpers/storage-call.ts'
import { TcpProxy } from './helpers/tcp-proxy.ts'
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const RTP: [number, number] = [33000, 33099]

async function setup(t: Test) {
  const db = await testSchema(t)
  if (!db) return null
  const proxy = await new TcpProxy(db.target).start()
  t.teardown(() => proxy.close())
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'voice-db-outage-'))
  const script = await callerScript(dataDir)
  const server = await startServerProcess({
    DATA_DIR: dataDir,
    DATABASE_URL: db.url({ host: '127.0.0.1', port: proxy.port }),
    SCENARIO_DIR: (await import('./helpers/caller-audio.ts')).THREE_QUESTIONS_DIR,
    RTP_PORT_MIN: String(RTP[0]),
    RTP_PORT_MAX: String(RTP[1]),
    LANGUAGE: 'ru',
    MIN_FREE_DISK_MB: '1',
    JOURNAL_RETRY_MAX_MS: '2000',
  })
  t.teardown(() => server.stop())
  return { db, proxy, server, script }
}

/** What every outage case must end with: the call stored whole, once, and nothing left live. */
async function assertStored(t: Test, s: NonNullable<Awaited<ReturnType<typeof setup>>>, minReplayed: number) {
  const health = await waitFor('/health ok after the outage', async () => {
    const h = await s.server.api('/health')
    return h.body.status === 'ok' && h
  })
  t.equal(health.status, 200)
  const calls = await s.db.query('SELECT id, result, ended_at, recording_path, recording_error, instance_id FROM calls')
  t.equal(calls.length, 1, 'one call row, not zero, not two')
  const [c] = calls
  t.equal(c.result, 'completed')
  t.ok(c.ended_at, 'ended')
  t.ok(c.instance_id, 'owned by the instance')
  t.equal(c.recording_error, null)
  const turns = await s.db.query('SELECT seq, who, step FROM turns WHERE call_id = $1 ORDER BY seq', [c.id])
  t.same(
    turns.filter((x) => x.who === 'caller').map((x) => x.step),
    ['name', 'need', 'phone'],
    'the caller turns, each once',
  )
  t.same(
    turns.map((x) => x.seq),
    turns.map((_, i) => i + 1),
    'turn numbers without gaps or repeats',
  )
  const leads = await s.db.query('SELECT outcome, clips FROM leads WHERE call_id = $1', [c.id])
  t.equal(leads.length, 1, 'the lead')
  t.equal(leads[0]?.outcome, 'qualified_lead')
  const list = await s.server.api('/api/calls')
  t.same(
    list.body.calls.map((x: any) => x.live),
    [false],
    'nothing left live',
  )
  const metrics = await fetch(`http://127.0.0.1:${s.server.httpPort}/metrics`).then((r) => r.text())
  t.match(metrics, /voice_journal_pending 0/)
  const replayed = Number(/voice_journal_replayed_total (\d+)/.exec(metrics)?.[1])
  t.ok(replayed >= minReplayed, `${replayed} journal entries replayed`)
}

t.test('the database is down for the whole call', async (t) => {
  const s = await setup(t)
  if (!s) return
  s.proxy.down()
  const heard = await callAndListen(s.server, s.script, { rtp: RTP })
  t.equal(heard.sipp.successful, 1, `the caller's call went through (${heard.sipp.stderr.slice(-300)})`)
  t.ok(heard.answered, 'answered 200')
  t.ok(heard.rtpFromServer > 200 && heard.speech > 0.2, `the caller heard the bot: ${heard.rtpFromServer} packets, ${(heard.speech * 100).toFixed(0)}% speech`)

  const down = await s.server.api('/health')
  t.equal(down.status, 200, 'degraded answers 200 by default: the server still takes calls')
  t.equal(down.body.status, 'degraded')
  t.match(down.body.checks.database, /^down: /)
  t.match(down.body.checks.journal, /^\d+ record writes journalled/)
  t.equal(down.body.checks.recordings, 'ok')
  t.equal((await s.db.query('SELECT id FROM calls')).length, 0, 'nothing reached the database yet')
  t.equal((await s.server.api('/api/calls')).status, 503, 'the call list says storage is unavailable')

  s.proxy.restore()
  await assertStored(t, s, 4) // createCall, appendTurns, saveLead, the final updateCall (no digits: no appendDtmf)
})

t.test('the database is down when the call comes in and back during it', async (t) => {
  const s = await setup(t)
  if (!s) return
  s.proxy.down()
  const heard = await callAndListen(s.server, s.script, {
    rtp: RTP,
    during: async () => {
      // The INVITE's record goes to the journal; then the database comes back mid-call.
      await waitFor('the call record journalled', async () =>
        /voice_journal_writes_total\{op="createCall"\} 1/.test(await fetch(`http://127.0.0.1:${s.server.httpPort}/metrics`).then((r) => r.text())),
      )
      await new Promise((r) => setTimeout(r, 3000))
      s.proxy.restore()
    },
  })
  t.equal(heard.sipp.successful, 1, `the caller's call went through (${heard.sipp.stderr.slice(-300)})`)
  t.ok(heard.answered, 'answered 200')
  t.ok(heard.rtpFromServer > 200 && heard.speech > 0.2, `the caller heard the bot: ${heard.rtpFromServer} packets, ${(heard.speech * 100).toFixed(0)}% speech`)
  await assertStored(t, s, 1) // at least the INVITE's record; what came after may have gone straight in
})
