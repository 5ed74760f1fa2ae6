// End to end: the real server with CRM_WEBHOOK_URL takes a SIPp call (the three-questions caller);
// the finished call's lead reaches a local CRM receiver over HTTP, signed, once, and the outbox row
// shows delivered through the API.
import { createHmac } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { buildCallerScript, THREE_QUESTIONS_DIR } from './helpers/caller-audio.ts'
import { renderScenario } from './helpers/scenario-file.ts'
import { startServerProcess } from './helpers/server-process.ts'
import { runSipp } from './helpers/sipp.ts'
import { waitFor } from './helpers/storage-call.ts'

// ports away from the other SIPp tests (which may run at the same time)
const RTP_MIN = 36000 + 200 * Math.floor(Math.random() * 20)
const RTP_MAX = RTP_MIN + 99
const SIPP_MEDIA_PORT = 46000 + 2 * Math.floor(Math.random() * 2000)
const SECRET = 'e2e-secret'

t.test('a finished call is POSTed to CRM_WEBHOOK_URL, signed, once', async (t) => {
  const received: Array<{ headers: http.IncomingHttpHeaders; raw: string }> = []
  const receiver = http.createServer((req, res) => {
    let raw = ''
    req.on('data', (c) => (raw += c))
    req.on('end', () => {
      received.push({ headers: req.headers, raw })
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise((r) => receiver.close(r)))
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/crm`

  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'voice-crm-'))
  const script = await buildCallerScript(dataDir, 'ru', 700, 'PCMU')
  const server = await startServerProcess({
    SCENARIO_DIR: THREE_QUESTIONS_DIR,
    DATA_DIR: dataDir,
    RTP_PORT_MIN: String(RTP_MIN),
    RTP_PORT_MAX: String(RTP_MAX),
    LANGUAGE: 'ru',
    CRM_WEBHOOK_URL: url,
    CRM_WEBHOOK_SECRET: SECRET,
  })
  t.teardown(() => server.stop())
  const scenario = renderScenario('uac-answers.xml', dataDir, {
    WAV: script.wav,
    PT: 0,
    CODEC: 'PCMU',
    BYE_TIMEOUT_MS: Math.round((script.totalSeconds + 30) * 1000),
  })
  const sipp = await runSipp(scenario, `127.0.0.1:${server.sipPort}`, ['-m', '1', '-l', '1', '-mp', String(SIPP_MEDIA_PORT)])
  t.equal(sipp.successful, 1, `SIPp call passed (${sipp.stderr.slice(-300)})`)

  const delivered = await waitFor('the outbox row delivered', async () => {
    const { body } = await server.api<{ rows: Array<{ state: string; callId: string; idempotencyKey: string }> }>('/api/crm/outbox?state=delivered')
    return body.rows[0]
  })
  t.equal(received.length, 1, 'one POST')
  const { headers, raw } = received[0]
  const ts = String(headers['x-voice-timestamp'])
  t.equal(headers['x-voice-signature'], 'sha256=' + createHmac('sha256', SECRET).update(`${ts}.${raw}`).digest('hex'), 'signature checks out')
  t.equal(headers['idempotency-key'], `${delivered.callId}:webhook.lead`)
  const body = JSON.parse(raw)
  t.match(body, { schema: 'voice.lead.v1', event: 'call.finished', callId: delivered.callId, result: 'completed', lead: { outcome: String } })
  t.ok(body.transcript.length > 0, 'transcript sent')
  t.match(body.recording, { path: /call\.wav$/ })
  const metrics = await fetch(`http://127.0.0.1:${server.httpPort}/metrics`).then((r) => r.text())
  t.match(metrics, /voice_crm_delivered_total\{step="webhook.lead"\} 1/)
  t.match(metrics, /voice_crm_outbox_rows\{state="delivered"\} 1/)
})
