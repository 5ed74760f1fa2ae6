// CANCEL while the bot's phone rings: 200 for the CANCEL, 487 for the INVITE.
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { renderScenario } from './helpers/scenario-file.ts'
import { SIP_BACKENDS, startServerWith } from './helpers/sip-backend.ts'
import { runSipp } from './helpers/sipp.ts'

for (const backend of SIP_BACKENDS)
  t.test(`a caller who cancels while ringing gets 487 and the call is recorded as cancelled (${backend})`, async (t) => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'voice-cancel-'))
    const server = await startServerWith(backend, { DATA_DIR: dataDir, RTP_PORT_MIN: '31200', RTP_PORT_MAX: '31299', ANSWER_DELAY_MS: '3000' })
    t.teardown(() => server.stop())
    const sipp = await runSipp(renderScenario('uac-cancel.xml', dataDir), `127.0.0.1:${server.sipPort}`, ['-m', '1', '-l', '1'], 30_000)
    t.equal(sipp.code, 0, `SIPp passed its scenario (${sipp.stderr.slice(-400)})`)
    t.equal(sipp.successful, 1)

    let call: any
    for (let i = 0; i < 50; i++) {
      const list = await server.api('/api/calls')
      call = list.body.calls[0]
      if (call?.endedAt) break
      await new Promise((r) => setTimeout(r, 100))
    }
    t.equal(call.result, 'cancelled')
    const metrics = await fetch(`http://127.0.0.1:${server.httpPort}/metrics`).then((r) => r.text())
    t.match(metrics, /voice_calls_total\{result="cancelled"\} 1/)
    t.match(metrics, /voice_rtp_ports_free 50/, 'the RTP port pair went back to the pool')
  })
