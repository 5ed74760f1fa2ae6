// 20 concurrent SIPp calls, each answering the scenario: zero failed calls, and the
// pacing of the server's RTP measured on the wire (tcpdump on loopback).
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { buildCallerScript, THREE_QUESTIONS_DIR } from './helpers/caller-audio.ts'
import { LoopbackCapture } from './helpers/capture.ts'
import { pacingErrors, percentile, rtpPackets } from './helpers/rtp-analysis.ts'
import { renderScenario } from './helpers/scenario-file.ts'
import { startServerProcess } from './helpers/server-process.ts'
import { runSipp } from './helpers/sipp.ts'

const CALLS = 20
const RTP_MIN = 33000
const RTP_MAX = 33199

t.test(`${CALLS} concurrent calls complete with zero failures`, async (t) => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'voice-load-'))
  const script = await buildCallerScript(dataDir, 'ru', 700)
  const server = await startServerProcess({
    SCENARIO_DIR: THREE_QUESTIONS_DIR,
    DATA_DIR: dataDir,
    RTP_PORT_MIN: String(RTP_MIN),
    RTP_PORT_MAX: String(RTP_MAX),
  })
  t.teardown(() => server.stop())
  const cap = new LoopbackCapture(path.join(dataDir, 'load.pcap'), `udp and portrange ${RTP_MIN}-${RTP_MAX}`)
  await cap.start()
  const scenario = renderScenario('uac-answers.xml', dataDir, {
    WAV: script.wav,
    PT: 0,
    CODEC: 'PCMU',
    BYE_TIMEOUT_MS: Math.round((script.totalSeconds + 40) * 1000),
  })
  const sipp = await runSipp(scenario, `127.0.0.1:${server.sipPort}`, [
    '-m',
    String(CALLS),
    '-l',
    String(CALLS),
    '-r',
    String(CALLS),
    '-rp',
    '1000',
    '-mp',
    '34000',
  ])
  const packets = await cap.stop()
  t.equal(sipp.code, 0, `SIPp passed its scenario (${sipp.stderr.slice(-400)})`)
  t.equal(sipp.successful, CALLS)
  t.equal(sipp.failed, 0)

  const list = await server.api(`/api/calls?limit=${CALLS}`)
  t.equal(list.body.calls.filter((c: any) => c.result === 'completed').length, CALLS, 'every call completed')
  t.equal(list.body.calls.filter((c: any) => c.leadOutcome === 'qualified_lead').length, CALLS, 'every call filed a lead')

  // The media server's own share of each answered turn (no providers here: all of it is ours).
  const shares: number[] = []
  for (const c of list.body.calls) {
    const call = (await server.api(`/api/calls/${c.id}`)).body
    for (const turn of call.turns) if (turn.who === 'bot' && turn.timing?.ownShareMs !== undefined) shares.push(turn.timing.ownShareMs)
  }
  t.equal(shares.length, CALLS * 3, 'every answered prompt has its own share timed')
  t.comment(
    `own share per turn, ${CALLS} concurrent calls: median ${percentile(shares, 50)} ms, p95 ${percentile(shares, 95)} ms, worst ${Math.max(...shares)} ms over ${shares.length} turns`,
  )

  const rtp = rtpPackets(packets, (p) => p >= RTP_MIN && p <= RTP_MAX)
  const errors = pacingErrors(rtp)
  t.ok(errors.length > CALLS * 500, `pacing measured over ${errors.length} intervals`)
  t.comment(
    `pacing error on the wire, ${CALLS} calls: p50 ${percentile(errors, 50).toFixed(2)} ms, p99 ${percentile(errors, 99).toFixed(2)} ms, max ${Math.max(...errors).toFixed(2)} ms`,
  )
  const metrics = await fetch(`http://127.0.0.1:${server.httpPort}/metrics`).then((r) => r.text())
  const buckets = [...metrics.matchAll(/voice_pacing_clock_lateness_seconds_bucket\{le="([^"]+)"\} (\d+)/g)].map((m) => `<=${m[1]}s: ${m[2]}`)
  t.comment(`clock lateness (cumulative ticks): ${buckets.join(', ')}`)
})
