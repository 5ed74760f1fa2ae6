// Transfer to a seller at the call level, the REFER refused: the server runs the default YAML
// sales scenario (SCENARIO_DIR); the caller (SIPp) presses 0 by SIP INFO during the greeting
// ("a person, please"), the scenario's transfer step speaks and the server sends REFER, which the
// caller's phone refuses with 603. The server then calls the seller's phone (a second SIPp, with
// -rtp_echo) offering only the caller's codec, leaves the line, and relays: the caller's RTP must
// reach the seller and the seller's RTP the caller through the server's two port pairs, byte for
// byte, and the bot must send nothing more. A BYE from either phone ends the other's leg too, and
// the call record tells how the caller got to the seller. A seller's phone that answers another
// codec than the one offered is hung up, and the call goes on with the bot.
// With MEDIA_BACKEND=freeswitch the same call is bridged in FreeSWITCH: the seller is offered a
// FreeSWITCH endpoint, both phones' RTP comes from FreeSWITCH's ports and none from the media core's
// after the hand-over, the recording (FreeSWITCH's of the bridge joined onto the call's) has both
// parties; a BYE from either side, a seller that refuses, and FreeSWITCH killed during the bridge.
import { mkdirSync, mkdtempSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import dgram from 'node:dgram'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { ulawToLinear } from '../codecs/g711.ts'
import { readWav } from '../codecs/wav.ts'
import { LoopbackCapture } from './helpers/capture.ts'
import { seqsOnWire, writeMarkedRtp } from './helpers/marked-rtp.ts'
import { rtpPackets } from './helpers/rtp-analysis.ts'
import { renderScenario } from './helpers/scenario-file.ts'
import { REPO, type ServerHandle } from './helpers/server-process.ts'
import { SIP_BACKENDS, startServerWith, startServerWithFreeswitch, type SipBackendName } from './helpers/sip-backend.ts'
import type { FreeswitchHandle } from './helpers/freeswitch.ts'
import { runSipp } from './helpers/sipp.ts'

// The transfer tests' share of ports: RTP 34100-34299, SIPp media 35100 and up.
const RTP_MIN = 34100
const RTP_MAX = 34199
const CALLER_PORT = RTP_MIN // the server's answer to the caller: the pool's first pair
const SELLER_LEG_PORT = RTP_MIN + 2 // the seller's leg: the next one
const CALLER_MP = 35100
const SELLER_MP = 35120
const CALLER_SSRC = 0x5e11e402
/** MEDIA_BACKEND=freeswitch: FreeSWITCH's RTP ports, the rest of the share */
const FS_RTP = { start: 34200, end: 34299 }
const fromFreeswitch = (port: number) => port >= FS_RTP.start && port <= FS_RTP.end
const fromMediaCore = (port: number) => port >= RTP_MIN && port <= RTP_MAX
const PACKETS = 50

/** A key by SIP INFO from the caller, as the n-th request of its dialog. */
const pressKey = (key: string, cseq: number) => `
  <send retrans="500">
    <![CDATA[
      INFO sip:sales@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "SIPp caller" <sip:79161234567@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:sales@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: ${cseq} INFO
      Max-Forwards: 70
      Content-Type: application/dtmf-relay
      Content-Length: [len]

      Signal=${key}
      Duration=160
    ]]>
  </send>
  <recv response="200" />`

/** The caller asks for a person: key 0, which the sales scenario's greeting maps to a transfer. */
const PRESS_ZERO = pressKey('0', 2)

/** The seller's phone takes one INFO carrying key 5 (check_it: anything else fails its SIPp). */
const SELLER_TAKES_FIVE = `
  <recv request="INFO">
    <action>
      <ereg regexp="Signal=5" search_in="body" check_it="true" assign_to="five" />
    </action>
  </recv>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <Reference variables="five" />`

async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4')
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r))
  const port = s.address().port
  s.close()
  return port
}

/** The call's record from the API once `done` holds for it (polled every 100 ms), or the last one seen. */
async function callRecord(server: ServerHandle, done: (call: any) => boolean, withinMs = 10_000): Promise<any> {
  let call: any
  for (let i = 0; i < withinMs / 100; i++) {
    const id = (await server.api('/api/calls')).body.calls[0]?.id
    if (id) call = (await server.api(`/api/calls/${id}`)).body
    if (call && done(call)) return call
    await new Promise((r) => setTimeout(r, 100))
  }
  return call
}

/** Messages of a SIPp -message_file. */
const messagesOf = (file: string) => readFileSync(file, 'latin1').split(/-{20,}/)

interface CallOptions {
  /** who speaks SIP for the server; 'freeswitch': drachtio-server, and FreeSWITCH in the media path */
  backend: SipBackendName | 'freeswitch'
  /** after its RTP the caller waits this long for a BYE, then hangs up */
  callerHoldMs: number
  /** the seller hangs up this long after answering unless our BYE comes first */
  sellerHangsUpAfterMs: number
  /** what the seller's phone answers (default PCMU, as offered) */
  sellerCodec?: { pt: number; name: string }
  /** a state of the live record to wait for while the call runs */
  liveWhen?: (call: any) => boolean
  /** the caller presses 5 by INFO while bridged, and the seller's phone must receive it */
  keyWhileBridged?: boolean
  /** the seller's phone refuses the call with this status instead of answering */
  sellerRefuses?: { status: number; reason: string }
  /** done once the live record satisfied `liveWhen` */
  meanwhile?: (server: ServerHandle & { freeswitch?: FreeswitchHandle }) => Promise<void>
}

/** One call up to the REFER refused with 603 and the seller's phone answering; both SIPps must pass. */
async function transferCall(t: Test, opts: CallOptions) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'voice-bridge-'))
  const scenarioDir = path.join(dataDir, 'scenarios')
  mkdirSync(scenarioDir)
  copyFileSync(path.join(REPO, 'dialog/scenarios/sales.yaml'), path.join(scenarioDir, 'sales.yaml'))
  const sellerSipPort = await freePort()
  // a number the toll-fraud guard lets out (OUTBOUND_ALLOW_PREFIXES below): nothing else may be dialled
  const target = `sip:89990001122@127.0.0.1:${sellerSipPort}`
  const env = {
    DATA_DIR: dataDir,
    SCENARIO_DIR: scenarioDir,
    LANGUAGE: 'ru',
    RTP_PORT_MIN: String(RTP_MIN),
    RTP_PORT_MAX: String(RTP_MAX),
    TRANSFER_TARGET: target,
    TRANSFER_RING_TIMEOUT_MS: '10000',
    OUTBOUND_ALLOW_PREFIXES: '8',
  }
  const server = opts.backend === 'freeswitch' ? await startServerWithFreeswitch(env, FS_RTP) : await startServerWith(opts.backend, env)
  t.teardown(() => server.stop())

  const pcap = path.join(dataDir, 'caller.pcap')
  const sent = writeMarkedRtp(pcap, { count: PACKETS, ssrc: CALLER_SSRC, srcPort: CALLER_MP })
  const cap = new LoopbackCapture(path.join(dataDir, 'bridge.pcap'), `udp and (portrange ${RTP_MIN}-${FS_RTP.end} or portrange ${CALLER_MP}-${SELLER_MP + 19})`)
  await cap.start()

  const sellerMessages = path.join(dataDir, 'seller-messages.log')
  const callerMessages = path.join(dataDir, 'caller-messages.log')
  const sellerXml = opts.sellerRefuses
    ? renderScenario('uas-callee-refuses.xml', dataDir, { RING_MS: 500, STATUS: opts.sellerRefuses.status, REASON: opts.sellerRefuses.reason })
    : renderScenario('uas-seller.xml', dataDir, {
        // with FreeSWITCH the offer is a FreeSWITCH endpoint's, on a port of its own range
        OFFER_PORT: opts.backend === 'freeswitch' ? '34[0-9]+' : SELLER_LEG_PORT,
        CALLER_ID: '79161234567',
        HANG_UP_AFTER_MS: opts.sellerHangsUpAfterMs,
        ANSWER_PT: opts.sellerCodec?.pt ?? 0,
        ANSWER_CODEC: opts.sellerCodec?.name ?? 'PCMU',
        ON_ANSWER: opts.keyWhileBridged ? SELLER_TAKES_FIVE : '',
      })
  const seller = runSipp(
    sellerXml,
    `127.0.0.1:${server.sipPort}`,
    ['-p', String(sellerSipPort), '-m', '1', '-mp', String(SELLER_MP), '-rtp_echo', '-trace_msg', '-message_file', sellerMessages],
    90_000,
  )
  const callerXml = renderScenario('uac-transfer-refuse.xml', dataDir, {
    ASK: PRESS_ZERO,
    TARGET_RE: target.replaceAll('.', '\\.'),
    REFUSE_STATUS: 603,
    REFUSE_REASON: 'Decline',
    PCAP: pcap,
    HOLD_MS: opts.callerHoldMs,
    AFTER_MEDIA: opts.keyWhileBridged ? pressKey('5', 3) : '',
  })
  const caller = runSipp(
    callerXml,
    `127.0.0.1:${server.sipPort}`,
    ['-m', '1', '-l', '1', '-mp', String(CALLER_MP), '-trace_msg', '-message_file', callerMessages],
    90_000,
  )
  const live = opts.liveWhen && (await callRecord(server, opts.liveWhen, 80_000))
  if (opts.meanwhile) await opts.meanwhile(server)
  const [callerSipp, sellerSipp] = await Promise.all([caller, seller])
  const packets = await cap.stop()
  t.equal(callerSipp.code, 0, `SIPp (caller) passed: Refer-To named the seller, 603 sent, the call ended by BYE (${callerSipp.stderr.slice(-400)})`)
  t.equal(
    sellerSipp.code,
    0,
    `SIPp (seller) passed: called from the caller's number on the offered port, the call ended by BYE (${sellerSipp.stderr.slice(-400)})`,
  )
  const call = await callRecord(server, (c) => !c.live && c.endedAt)
  writeFileSync(path.join(dataDir, 'server.log'), server.logs.join('\n')) // for a failure's post-mortem
  const metrics = await fetch(`http://127.0.0.1:${server.httpPort}/metrics`).then((r) => r.text())
  t.match(metrics, new RegExp(`^voice_rtp_ports_free ${(RTP_MAX - RTP_MIN + 1) / 2}$`, 'm'), 'every port pair back in the pool')
  return { server, target, live, call, sent, packets, metrics, sellerMessages: messagesOf(sellerMessages), callerMessages: messagesOf(callerMessages) }
}

/** A call that ends up bridged: what every such call's record must show. */
async function bridgedCall(t: Test, opts: Omit<CallOptions, 'liveWhen' | 'sellerCodec'>) {
  // While the two talk, the record already says how they were put through, and the relay counts.
  const res = await transferCall(t, { ...opts, liveWhen: (c) => c.live && c.rtpStats?.relay?.rtp?.callerToSeller > 0 })
  const { live, call, target } = res

  t.equal(live?.live, true, 'the record during the bridge')
  t.match(
    live?.lead,
    { outcome: 'transferred', slots: { transfer: { target, method: 'bridge', referStatus: 603 } } },
    'the lead, filed at the hand-over, says transferred by bridge after a 603',
  )
  t.ok(live?.rtpStats?.relay?.rtp?.callerToSeller > 0, `live relay counts: ${JSON.stringify(live?.rtpStats?.relay)}`)

  t.equal(call.result, 'completed')
  t.equal(call.leadOutcome, 'transferred')
  // the seller's leg is named by the Call-ID its phone saw (each backend makes its own kind of id)
  const sellerCallId = /^Call-ID:\s*(\S+)/im.exec(res.sellerMessages.find((m) => /^INVITE /m.test(m)) ?? '')?.[1]
  t.ok(sellerCallId, "the seller's phone got an INVITE with a Call-ID")
  t.match(call.lead.slots.transfer, { target, method: 'bridge', referStatus: 603, sellerCallId })
  t.same(
    call.rtpStats.relay.rtp,
    { callerToSeller: PACKETS, sellerToCaller: PACKETS, dropped: 0, filtered: 0, unauthenticated: 0 },
    'the final relay counts are stored',
  )
  t.ok(call.rtpStats.relay.rtcp, 'RTCP had its own relay (neither phone muxes)')
  t.match(res.metrics, /^voice_transfers_total\{outcome="bridge"\} 1$/m, 'counted as a bridged transfer')
  return res
}

const byes = (messages: string[]) => messages.filter((m) => /^BYE /m.test(m))

for (const backend of SIP_BACKENDS)
  t.test(`REFER refused with 603: the seller is called and bridged, RTP and keys relayed; the caller hangs up (${backend})`, async (t) => {
    const { server, call, sent, packets, sellerMessages, callerMessages } = await bridgedCall(t, {
      backend,
      callerHoldMs: 2000,
      sellerHangsUpAfterMs: 60_000,
      keyWhileBridged: true,
    })
    t.equal(call.endReason, 'remote-bye', 'the caller hung up')
    t.equal(byes(callerMessages).length, 1, "the one BYE on the caller's side is its own")
    t.equal(byes(sellerMessages).length, 1, "the caller's BYE ended the seller's leg with ours")

    // The seller's leg was offered the caller's codec and nothing else.
    const invite = sellerMessages.find((m) => /^INVITE /m.test(m)) ?? ''
    t.match(invite, new RegExp(`^m=audio ${SELLER_LEG_PORT} RTP/AVP 0\\r?$`, 'm'), 'the offer carries PCMU only, as negotiated with the caller')
    t.same(
      invite.match(/^a=rtpmap:.*$/gm)?.map((l) => l.trim()),
      ['a=rtpmap:0 PCMU/8000'],
    )

    const expected = sent.map((p) => p.payload.readUInt16BE(2))
    const seqs = (from: number, to: number) => seqsOnWire(packets, CALLER_SSRC, from, to)
    t.same(seqs(CALLER_MP, CALLER_PORT), expected, 'the caller sent its RTP to the port in our answer')
    t.same(seqs(SELLER_LEG_PORT, SELLER_MP), expected, "every packet left the seller's leg port for the seller, unchanged in order")
    t.same(seqs(SELLER_MP, SELLER_LEG_PORT), expected, "the seller's phone sent it back")
    t.same(seqs(CALLER_PORT, CALLER_MP), expected, 'and it reached the caller from the port it talks to')
    const back = packets.filter(
      (p) => p.srcPort === CALLER_PORT && p.dstPort === CALLER_MP && p.payload.length >= 12 && p.payload.readUInt32BE(8) === CALLER_SSRC,
    )
    t.same(
      back.map((p) => p.payload.toString('hex')),
      sent.map((p) => p.payload.toString('hex')),
      'headers and payloads byte for byte',
    )

    // The bot spoke (greeting, transfer prompt) and then left the line.
    const bot = rtpPackets(
      packets.filter((p) => p.dstPort === CALLER_MP),
      (p) => p === CALLER_PORT,
    ).filter((p) => p.ssrc !== CALLER_SSRC)
    t.ok(bot.length > 100, `the bot's own RTP went out before the transfer (${bot.length} packets)`)
    t.ok(
      bot.every((p) => p.t < back[0].t),
      'and none after the first relayed packet',
    )
    t.same(
      call.turns.filter((x: any) => x.who === 'bot').map((x: any) => x.step),
      ['greeting', 'transfer'],
      'greeting, then the transfer step',
    )

    const logged = (msg: string) => server.logs.map((l) => JSON.parse(l)).find((l) => l.msg === msg)
    t.match(
      logged('transfer: REFER refused, the seller is bridged'),
      { callId: call.id, sipCallId: call.sipCallId, method: 'bridge', referStatus: 603 },
      'logged with the call ids',
    )
    t.match(logged('bridge ended'), { callId: call.id, relay: { rtp: { callerToSeller: PACKETS } } })

    // A key the caller pressed by SIP INFO while bridged went on to the seller's leg as it came.
    const info = sellerMessages.find((m) => /^INFO /m.test(m)) ?? ''
    t.match(info, /^Content-Type: application\/dtmf-relay\r?$/m, "the seller's phone got the caller's INFO")
    t.match(info, /^Signal=5\r?$/m)
    t.match(logged('INFO passed on to the seller'), { callId: call.id, digit: '5', status: 200 })
    t.match(call.dtmf.at(-1), { digit: '5', source: 'info' }, 'and the record keeps the digit')

    // The recording runs on through the bridge: as long as the call, within a second.
    const wav = readWav(readFileSync(call.recordingPath))
    const recordedS = wav.samples.length / wav.channels / wav.sampleRate
    const callS = (Date.parse(call.endedAt) - Date.parse(call.answeredAt)) / 1000
    t.ok(Math.abs(recordedS - callS) < 1, `recording ${recordedS.toFixed(1)} s for a call of ${callS.toFixed(1)} s`)
  })

for (const backend of SIP_BACKENDS)
  t.test(`the seller hangs up first: our BYE ends the caller's leg (${backend})`, async (t) => {
    // The caller's RTP is over about 1.5 s after the seller answers; the seller hangs up at 3 s and
    // the caller would wait 20 s before hanging up itself.
    const { call, sellerMessages, callerMessages } = await bridgedCall(t, { backend, callerHoldMs: 20_000, sellerHangsUpAfterMs: 3000 })
    t.equal(call.endReason, 'local-bye', "the server ended the caller's dialog")
    t.equal(byes(sellerMessages).length, 1, "the seller's own BYE")
    t.match(byes(callerMessages)[0] ?? '', /^BYE sip:79161234567@/m, 'and the caller received ours')
  })

t.test('the seller answers another codec: its leg is hung up, the bot carries on and files the lead', async (t) => {
  const { server, call, packets, metrics, sellerMessages, callerMessages } = await transferCall(t, {
    backend: 'embedded',
    callerHoldMs: 30_000,
    sellerHangsUpAfterMs: 30_000,
    sellerCodec: { pt: 8, name: 'PCMA' },
  })
  t.match(metrics, /^voice_transfers_total\{outcome="failed"\} 1$/m, 'counted as a failed transfer')
  t.equal(byes(sellerMessages).length, 1, "the seller's leg got our BYE at once")
  t.equal(seqsOnWire(packets, CALLER_SSRC, SELLER_LEG_PORT, SELLER_MP).length, 0, 'nothing of the caller was relayed to it')
  t.match(
    call.lead.slots.transfer,
    { failed: /cannot be relayed: the answer has PCMA\/8 where PCMU\/0 was offered/, status: 603 },
    'the lead says why the transfer failed',
  )
  t.equal(call.leadOutcome, 'qualified_lead', 'the scenario files the lead for a callback')
  t.notOk(call.rtpStats.relay, 'no relay ran')
  t.same(
    call.turns.filter((x: any) => x.who === 'bot').map((x: any) => x.step),
    ['greeting', 'transfer', 'thanks'],
    'the bot said thanks after the failed transfer',
  )
  t.equal(call.endReason, 'local-bye', 'and hung up itself')
  t.match(byes(callerMessages)[0] ?? '', /^BYE sip:79161234567@/m)
  const warned = server.logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'bridged call answered with media we cannot relay: hung up')
  t.match(warned, { sipCallId: call.sipCallId, reason: /PCMA\/8/ }, 'logged why')
})

/** The audio level of a stereo recording's tail in 20 ms frames: how many are loud on each side. */
function loudFrames(file: string, tailSeconds: number): { left: number; right: number; frames: number } {
  const wav = readWav(readFileSync(file))
  const frame = (wav.sampleRate / 50) * 2
  const tail = wav.samples.subarray(Math.max(0, wav.samples.length - Math.round(tailSeconds * wav.sampleRate) * 2))
  let left = 0
  let right = 0
  for (let at = 0; at + frame <= tail.length; at += frame) {
    let l = 0
    let r = 0
    for (let i = at; i < at + frame; i += 2) {
      l += tail[i] * tail[i]
      r += tail[i + 1] * tail[i + 1]
    }
    // -40 dBFS, the speech floor of the other checks
    const floor = (32768 * 0.01) ** 2 * (frame / 2)
    if (l > floor) left++
    if (r > floor) right++
  }
  return { left, right, frames: Math.floor(tail.length / frame) }
}

/** A call bridged in FreeSWITCH: what every such call must show, on the wire and in its record. */
async function freeswitchBridgedCall(t: Test, opts: Omit<CallOptions, 'backend' | 'liveWhen' | 'sellerCodec'>) {
  const res = await transferCall(t, { ...opts, backend: 'freeswitch', liveWhen: (c) => c.live && c.lead?.slots?.transfer?.method === 'bridge' })
  const { live, target, packets, sent, sellerMessages } = res
  t.match(
    live?.lead,
    { outcome: 'transferred', slots: { transfer: { target, method: 'bridge', referStatus: 603, bridgedIn: 'freeswitch' } } },
    'the lead, filed at the hand-over, says bridged in FreeSWITCH after a 603',
  )
  const invite = sellerMessages.find((m) => /^INVITE /m.test(m)) ?? ''
  const offered = Number(/^m=audio (\d+) RTP\/AVP/m.exec(invite)?.[1])
  t.ok(fromFreeswitch(offered), `the seller was offered a FreeSWITCH endpoint (port ${offered})`)
  t.match(invite, /^a=rtpmap:0 PCMU\/8000/m, "with the caller's codec among FreeSWITCH's")

  const marks = new Set(sent.map((p) => p.payload.subarray(12).toString('hex')))
  const toSellerPort = packets.filter((p) => p.dstPort === SELLER_MP)
  const toSeller = rtpPackets(toSellerPort, () => true)
  t.ok(toSeller.length > 0, `the seller's phone got RTP (${toSeller.length} packets)`)
  t.same([...new Set(toSellerPort.map((p) => p.srcPort))], [offered], "all of it from FreeSWITCH's port in the offer, none from the media core's")
  const callerFrames = toSeller.filter((p) => marks.has(p.payload.toString('hex')))
  t.ok(callerFrames.length >= PACKETS * 0.9, `the caller's frames reached the seller through FreeSWITCH (${callerFrames.length} of ${PACKETS})`)
  const echoed = rtpPackets(
    packets.filter((p) => p.dstPort === CALLER_MP),
    fromFreeswitch,
  ).filter((p) => p.t > callerFrames[0]?.t && marks.has(p.payload.toString('hex')))
  t.ok(echoed.length >= PACKETS * 0.9, `and the seller's (its echo of them) reached the caller from FreeSWITCH (${echoed.length} of ${PACKETS})`)
  t.equal(
    rtpPackets(
      packets.filter((p) => p.dstPort === CALLER_MP),
      fromMediaCore,
    ).length,
    0,
    'the caller never got RTP from the media core',
  )
  const handOver = toSeller[0]?.t ?? Infinity
  const coreAfter = rtpPackets(
    packets.filter((p) => p.t > handOver + 200),
    fromMediaCore,
  )
  t.equal(coreAfter.length, 0, 'the media core sent nothing after the hand-over: it is out of the audio path')
  return res
}

t.test('MEDIA_BACKEND=freeswitch: FreeSWITCH bridges the seller to the caller itself; keys relayed, recording whole; the caller hangs up', async (t) => {
  const { server, call, sent, metrics, sellerMessages, callerMessages } = await freeswitchBridgedCall(t, {
    callerHoldMs: 2000,
    sellerHangsUpAfterMs: 60_000,
    keyWhileBridged: true,
  })
  t.equal(call.result, 'completed')
  t.equal(call.endReason, 'remote-bye', 'the caller hung up')
  t.equal(call.leadOutcome, 'transferred')
  t.match(call.lead.slots.transfer, { method: 'bridge', referStatus: 603, bridgedIn: 'freeswitch' }, 'the stored lead says so too')
  t.equal(byes(callerMessages).length, 1, "the one BYE on the caller's side is its own")
  t.equal(byes(sellerMessages).length, 1, "the caller's BYE ended the seller's leg with ours")
  t.match(metrics, /^voice_transfers_total\{outcome="bridge"\} 1$/m, 'counted as a bridged transfer')

  const info = sellerMessages.find((m) => /^INFO /m.test(m)) ?? ''
  t.match(info, /^Signal=5\r?$/m, "the caller's INFO reached the seller's phone")
  t.match(call.dtmf.at(-1), { digit: '5', source: 'info' }, 'and the record keeps the digit')

  const logs = server.logs.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)) // drachtio-fsmrf writes to the console too
  t.match(
    logs.find((l) => l.msg === 'caller bridged to the seller in FreeSWITCH: the media core left the audio path'),
    { callId: call.sipCallId },
    'logged with the call id (the SIP one, as every FreeSWITCH line)',
  )
  const joined = logs.find((l) => l.msg === "FreeSWITCH's recording of the bridged call joined to the call's")
  t.match(joined, { callId: call.id }, "FreeSWITCH's recording of the bridge was joined to the call's")
  t.notOk(call.recordingError, 'nothing is missing from the recording')
  const wav = readWav(readFileSync(call.recordingPath))
  const recordedS = wav.samples.length / wav.channels / wav.sampleRate
  const callS = (Date.parse(call.endedAt) - Date.parse(call.answeredAt)) / 1000
  t.ok(Math.abs(recordedS - callS) < 1, `recording ${recordedS.toFixed(1)} s for a call of ${callS.toFixed(1)} s`)
  // the marked frames are each one μ-law code over and over: the codes near zero are quiet
  const loudSent = sent.filter((p) => Math.abs(ulawToLinear(p.payload[12])) > 32768 * 0.01).length
  const bridged = loudFrames(call.recordingPath, joined?.seconds ?? 0)
  t.ok(bridged.left >= loudSent - 5, `the bridged part has the caller on the left (${bridged.left} loud frames of ${bridged.frames}, ${loudSent} sent)`)
  t.ok(bridged.right >= loudSent - 5, `and the seller on the right (${bridged.right} loud frames)`)
})

t.test("MEDIA_BACKEND=freeswitch: the seller hangs up first: our BYE ends the caller's leg", async (t) => {
  const { call, sellerMessages, callerMessages } = await freeswitchBridgedCall(t, { callerHoldMs: 20_000, sellerHangsUpAfterMs: 3000 })
  t.equal(call.result, 'completed')
  t.equal(call.endReason, 'local-bye', "the server ended the caller's dialog")
  t.equal(byes(sellerMessages).length, 1, "the seller's own BYE")
  t.match(byes(callerMessages)[0] ?? '', /^BYE sip:79161234567@/m, 'and the caller received ours')
})

t.test('MEDIA_BACKEND=freeswitch: FreeSWITCH dies during the bridge: both phones get BYE, the call is failed, media-lost', async (t) => {
  let killedAt = 0
  const { call, sellerMessages, callerMessages } = await freeswitchBridgedCall(t, {
    callerHoldMs: 30_000,
    sellerHangsUpAfterMs: 30_000,
    meanwhile: async (server) => {
      await new Promise((r) => setTimeout(r, 2500)) // the caller's RTP is through the bridge
      killedAt = Date.now()
      await server.freeswitch!.kill()
    },
  })
  t.ok(killedAt > 0)
  t.equal(call.result, 'failed', 'the call reached a final state: failed')
  t.equal(call.endReason, 'media-lost', 'and says why')
  t.match(call.lead.slots.transfer, { method: 'bridge', bridgedIn: 'freeswitch' }, 'with the transfer noted')
  t.match(byes(callerMessages)[0] ?? '', /^BYE sip:79161234567@/m, 'the caller got our BYE')
  t.equal(byes(sellerMessages).length, 1, 'and the seller too')
  t.ok(call.recordingPath, 'the recording is kept')
})

t.test('MEDIA_BACKEND=freeswitch: the seller refuses (486): the bot carries on and files the lead', async (t) => {
  const { call, metrics, callerMessages } = await transferCall(t, {
    backend: 'freeswitch',
    callerHoldMs: 30_000,
    sellerHangsUpAfterMs: 30_000,
    sellerRefuses: { status: 486, reason: 'Busy Here' },
  })
  t.match(metrics, /^voice_transfers_total\{outcome="failed"\} 1$/m, 'counted as a failed transfer')
  t.match(call.lead.slots.transfer, { failed: /486/, status: 486 }, 'the lead says why the transfer failed')
  t.equal(call.leadOutcome, 'qualified_lead', 'the scenario files the lead for a callback')
  t.same(
    call.turns.filter((x: any) => x.who === 'bot').map((x: any) => x.step),
    ['greeting', 'transfer', 'thanks'],
    'the bot, still on the line through FreeSWITCH, said thanks after the failed transfer',
  )
  t.equal(call.endReason, 'local-bye', 'and hung up itself')
  t.match(byes(callerMessages)[0] ?? '', /^BYE sip:79161234567@/m)
})
