// Issue 13, storage: after a crash nothing stays half-written. Before: rows kept endedAt = null for
// ever and the WAVs a 0-frame header over their audio. The server is killed with SIGKILL while two
// SIPp calls are in flight; while it is dead the recordings must already be readable (the header is
// kept at most 2 s behind), and the restarted server closes both rows as failed/'crash' and sets
// the WAV headers from the audio on disk, leaving another instance's open row alone.
import { mkdtempSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { readWav } from '../codecs/wav.ts'
import { THREE_QUESTIONS_DIR } from './helpers/caller-audio.ts'
import { testSchema } from './helpers/pg-schema.ts'
import { startServerProcess } from './helpers/server-process.ts'
import { callAndListen, callerScript, waitFor } from './helpers/storage-call.ts'

const RTP: [number, number] = [33200, 33299]
const SECONDS_IN_FLIGHT = 7

const seconds = (file: string) => {
  const w = readWav(readFileSync(file))
  return w.samples.length / w.channels / w.sampleRate
}

t.test('SIGKILL with two calls in flight, then a restart', async (t) => {
  const db = await testSchema(t)
  if (!db) return
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'voice-crash-'))
  const script = await callerScript(dataDir)
  const env = {
    DATA_DIR: dataDir,
    DATABASE_URL: db.url(),
    SCENARIO_DIR: THREE_QUESTIONS_DIR,
    RTP_PORT_MIN: String(RTP[0]),
    RTP_PORT_MAX: String(RTP[1]),
    LANGUAGE: 'ru',
    MIN_FREE_DISK_MB: '1',
  }
  const first = await startServerProcess(env)
  t.teardown(() => first.stop())
  let liveAt = 0
  let killedAt = 0
  const heard = await callAndListen(first, script, {
    rtp: RTP,
    calls: 2,
    byeTimeoutMs: 12_000,
    during: async () => {
      await waitFor('two live calls', async () => (await first.api('/api/calls')).body.calls.filter((c: any) => c.live).length === 2)
      liveAt = Date.now()
      await new Promise((r) => setTimeout(r, SECONDS_IN_FLIGHT * 1000))
      await first.kill('SIGKILL')
      killedAt = Date.now()
    },
  })
  t.ok(heard.answered, 'the calls were answered 200')
  t.ok(heard.rtpFromServer > 2 * 50 * (SECONDS_IN_FLIGHT - 1) && heard.speech > 0.2, `the callers heard the bot until the kill: ${heard.rtpFromServer} packets`)
  const inFlight = (killedAt - liveAt) / 1000

  // Dead: the rows are open, and the recordings are already readable up to the last header update.
  const open = await db.query('SELECT id FROM calls WHERE ended_at IS NULL ORDER BY id')
  t.equal(open.length, 2, 'the crash left both rows open (what the restart must fix)')
  for (const { id } of open) {
    const s = seconds(path.join(dataDir, 'calls', id, 'call.wav'))
    t.ok(s >= inFlight - 3 && s <= inFlight + 1, `before any repair, ${id.slice(0, 8)}'s WAV reads as ${s.toFixed(1)} s of ${inFlight.toFixed(1)} s in flight`)
  }
  // Another instance's call on the same server, still live there: not ours to close.
  await db.query(`INSERT INTO calls (id, sip_call_id, direction, from_uri, to_uri, caller_id, started_at, instance_id)
    VALUES ('other', 'x@y', 'inbound', 'sip:a@b', 'sip:c@d', '1', now(), 'another-instance')`)

  const second = await startServerProcess(env)
  t.teardown(() => second.stop())
  const rows = await db.query('SELECT id, result, end_reason, ended_at, recording_path, recording_error, instance_id FROM calls ORDER BY id')
  const ours = rows.filter((r) => r.id !== 'other')
  t.same(
    ours.map((r) => [r.result, r.end_reason]),
    [
      ['failed', 'crash'],
      ['failed', 'crash'],
    ],
    'both calls closed as a crash',
  )
  for (const r of ours) {
    t.ok(r.ended_at && r.ended_at.getTime() <= killedAt + 1000, `ended when its recording stopped (${r.ended_at?.toISOString()})`)
    t.equal(r.recording_path, path.join(dataDir, 'calls', r.id, 'call.wav'))
    t.match(r.recording_error, /^crash: /)
    const file = readFileSync(r.recording_path)
    t.equal(file.readUInt32LE(40), file.length - 44 - ((file.length - 44) % 4), 'the header declares every whole frame on disk')
    const s = seconds(r.recording_path)
    t.ok(Math.abs(s - inFlight) < 1.5, `recording ${s.toFixed(1)} s, ${inFlight.toFixed(1)} s in flight`)
  }
  t.equal(rows.find((r) => r.id === 'other')?.ended_at, null, "another instance's open call is left alone")
  const list = await second.api('/api/calls')
  t.equal(list.body.calls.filter((c: any) => c.live).length, 0, 'nothing live after the restart')
  t.ok(
    second.logs.some((l) => l.includes('call left open by a crash closed')),
    'logged per call',
  )
})
