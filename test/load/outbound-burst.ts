// Calls per second the server places: a burst of POST /api/calls (OUTBOUND_BURST_CALLS, default
// 50, all at once) to SIPp playing the callees behind a trunk; each callee rings 100 ms, answers,
// hears the greeting for 3 s and hangs up. The rate is read from SIPp's own message log: the
// arrival times of the INVITEs. Run: node --import tsx test/load/outbound-burst.ts
import { mkdtempSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { freeUdpPort } from '../helpers/free-port.ts'
import { renderScenario } from '../helpers/scenario-file.ts'
import { startServerProcess } from '../helpers/server-process.ts'
import { runSipp } from '../helpers/sipp.ts'
import { ringingFor } from '../helpers/sipp-callee.ts'

const CALLS = Number(process.env.OUTBOUND_BURST_CALLS ?? 50)
const TOKEN = 'burst-token'
const RINGING = ringingFor(100)

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'voice-outbound-burst-'))
const calleePort = await freeUdpPort()
const server = await startServerProcess({
  DATA_DIR: dataDir,
  LANGUAGE: 'ru',
  RTP_PORT_MIN: '39000',
  RTP_PORT_MAX: String(39000 + 4 * CALLS),
  API_TOKEN: TOKEN,
  TRUNK_HOST: `127.0.0.1:${calleePort}`,
  TRUNK_CALLER_ID: '74950000000',
  TRUNK_REGISTER: 'false',
  OUTBOUND_ALLOW_PREFIXES: '8999',
  OUTBOUND_MAX_CALLS_PER_HOUR: '100000',
})
try {
  const messages = path.join(dataDir, 'callee-messages.log')
  const scenario = renderScenario('uas-callee.xml', dataDir, {
    ANSWER_PT: 0,
    ANSWER_CODEC: 'PCMU',
    CALLER_ID: '74950000000',
    CHALLENGE: '',
    PROVISIONAL: RINGING,
    HANG_UP_AFTER_MS: 3000,
  })
  const sipp = runSipp(
    scenario,
    `127.0.0.1:${server.sipPort}`,
    ['-p', String(calleePort), '-m', String(CALLS), '-mp', '39900', '-trace_msg', '-message_file', messages],
    120_000,
  )
  await new Promise((r) => setTimeout(r, 500))
  const t0 = performance.now()
  const answers = await Promise.all(
    Array.from({ length: CALLS }, (_, i) =>
      fetch(`http://127.0.0.1:${server.httpPort}/api/calls`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ to: `89990${String(i).padStart(6, '0')}` }),
      }).then((r) => r.status),
    ),
  )
  const apiMs = performance.now() - t0
  const done = await sipp
  const invites = [...readFileSync(messages, 'latin1').matchAll(/^-+ (\d{4}-\d\d-\d\d\s+[\d:.]+)[^\n]*\nUDP message received[^\n]*\n\s*\nINVITE /gm)].map((m) =>
    Date.parse(m[1].replace(/\s+/, 'T') + 'Z'),
  )
  const spanS = (Math.max(...invites) - Math.min(...invites)) / 1000
  const accepted = answers.filter((s) => s === 202).length
  console.log(
    JSON.stringify(
      {
        calls: CALLS,
        accepted,
        refused: answers.filter((s) => s !== 202),
        apiMs: Math.round(apiMs),
        invitesAtSipp: invites.length,
        inviteSpanS: Number(spanS.toFixed(3)),
        cps: Number(((invites.length - 1) / spanS).toFixed(1)),
        sippSuccessful: done.successful,
        sippFailed: done.failed,
        cores: os.cpus().length,
      },
      null,
      2,
    ),
  )
} finally {
  await server.stop()
}
