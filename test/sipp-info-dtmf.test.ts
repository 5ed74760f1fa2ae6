// DTMF as SIP INFO through SIPp: three INFO requests (application/dtmf-relay) after the
// answer, each answered 200, become the call's DTMF events in order, with source "info".
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { renderScenario } from './helpers/scenario-file.ts'
import { SIP_BACKENDS, startServerWith } from './helpers/sip-backend.ts'
import { runSipp } from './helpers/sipp.ts'

for (const backend of SIP_BACKENDS)
  t.test(`digits typed as SIP INFO are one DTMF event each (${backend})`, async (t) => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'voice-info-'))
    const server = await startServerWith(backend, { DATA_DIR: dataDir, RTP_PORT_MIN: '31200', RTP_PORT_MAX: '31299' })
    t.teardown(() => server.stop())
    const scenario = renderScenario('uac-info-dtmf.xml', dataDir)
    const sipp = await runSipp(scenario, `127.0.0.1:${server.sipPort}`, ['-m', '1', '-l', '1', '-mp', '32200'])
    t.equal(sipp.code, 0, `SIPp passed its scenario (${sipp.stderr.slice(-400)})`)
    t.equal(sipp.successful, 1)

    let call: any
    for (let i = 0; i < 50; i++) {
      const list = await server.api('/api/calls')
      const id = list.body.calls[0]?.id
      if (id) call = (await server.api(`/api/calls/${id}`)).body
      if (call?.endReason) break
      await new Promise((r) => setTimeout(r, 100))
    }
    t.equal(call.endReason, 'remote-bye', 'the caller hung up')
    const events = call.dtmf
    t.same(
      events.map((e: any) => e.digit),
      ['4', '7', '#'],
      'one event per INFO, in order',
    )
    t.ok(
      events.every((e: any) => e.source === 'info'),
      'source is info',
    )
    t.ok(events[1].atMs > events[0].atMs, 'times increase')
  })
