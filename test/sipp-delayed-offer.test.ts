// SIPp as an interop caller: an INVITE without SDP that requires 100rel and asks for session
// timers (test/sipp/uac-delayed-offer.xml). The server must send its 180 reliably and wait for
// the PRACK, put its offer in the 200, take SIPp's answer from the ACK (PCMU: the call record
// says so), answer the UPDATE refresh, and end with the caller's BYE.
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { LoopbackCapture } from './helpers/capture.ts'
import { renderScenario } from './helpers/scenario-file.ts'
import type { ServerHandle } from './helpers/server-process.ts'
import { SIP_BACKENDS, startServerWith } from './helpers/sip-backend.ts'
import { runSipp } from './helpers/sipp.ts'

/** The call's record once it is final: behind drachtio-server the BYE's 200 can reach SIPp before the record is written. */
async function finishedCall(server: ServerHandle): Promise<any> {
  let call: any
  for (let i = 0; i < 50 && !call?.endReason; i++) {
    call = (await server.api('/api/calls')).body.calls[0]
    if (!call?.endReason) await new Promise((r) => setTimeout(r, 100))
  }
  return call
}

const RTP_MIN = 31400
const RTP_MAX = 31499

for (const backend of SIP_BACKENDS)
  t.test(`SIPp delayed offer with 100rel, PRACK, session timers and UPDATE (${backend})`, async (t) => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'voice-delayed-offer-'))
    const server = await startServerWith(backend, { DATA_DIR: dataDir, RTP_PORT_MIN: String(RTP_MIN), RTP_PORT_MAX: String(RTP_MAX) })
    t.teardown(() => server.stop())
    const cap = new LoopbackCapture(path.join(dataDir, 'call.pcap'), `udp and (port ${server.sipPort} or portrange ${RTP_MIN}-${RTP_MAX})`)
    await cap.start()
    const scenario = renderScenario('uac-delayed-offer.xml', dataDir, { TALK_MS: 2000 })
    const sipp = await runSipp(scenario, `127.0.0.1:${server.sipPort}`, ['-m', '1', '-l', '1', '-mp', '32400'])
    const packets = await cap.stop()
    t.equal(sipp.code, 0, `SIPp passed its scenario (${sipp.stderr.slice(-600)})`)
    t.equal(sipp.successful, 1)

    const sip = packets.filter((p) => p.srcPort === server.sipPort).map((p) => p.payload.toString('latin1'))
    const r180 = sip.find((m) => m.startsWith('SIP/2.0 180'))
    t.match(r180, /^RSeq: \d+\r$/m, 'the 180 carries RSeq')
    t.match(r180, /^Require: 100rel\r$/m, 'and Require: 100rel')
    const ok = sip.find((m) => m.startsWith('SIP/2.0 200') && /CSeq: 1 INVITE/.test(m))
    t.match(ok, /^Content-Length: [1-9]\d*\r$/m, 'our offer in the 200 (SIPp checked it has m=audio)')
    t.match(ok, /^Allow: .*UPDATE, PRACK/m)
    t.match(ok, /^Supported: 100rel, timer\r$/m)
    // RTP from the server goes to the port of SIPp's answer in the ACK (SIPp's media port)
    const rtp = packets.filter((p) => p.srcPort >= RTP_MIN && p.srcPort <= RTP_MAX && p.dstPort === 32400)
    t.ok(rtp.length > 25, `RTP sent to the answer's port (${rtp.length} packets)`)

    const call = await finishedCall(server)
    t.equal(call.codec, 'PCMU', "the codec of the ACK's answer")
    t.equal(call.result, 'caller-hangup')
    t.equal(call.endReason, 'remote-bye')
  })

// Without 100rel and session timers (which drachtio-server's side does not do for us): the offer/answer alone.
for (const backend of SIP_BACKENDS)
  t.test(`SIPp delayed offer: our offer in the 200, the caller's answer in the ACK (${backend})`, async (t) => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'voice-delayed-offer-'))
    const server = await startServerWith(backend, { DATA_DIR: dataDir, RTP_PORT_MIN: String(RTP_MIN), RTP_PORT_MAX: String(RTP_MAX) })
    t.teardown(() => server.stop())
    const sipp = await runSipp(renderScenario('uac-delayed-offer-plain.xml', dataDir, { TALK_MS: 2000 }), `127.0.0.1:${server.sipPort}`, [
      '-m',
      '1',
      '-l',
      '1',
      '-mp',
      '32400',
    ])
    t.equal(sipp.code, 0, `SIPp passed its scenario: an offer with m=audio in the 200 (${sipp.stderr.slice(-600)})`)
    const call = await finishedCall(server)
    t.equal(call.codec, 'PCMU', "the codec of the ACK's answer")
    t.equal(call.endReason, 'remote-bye')
  })
