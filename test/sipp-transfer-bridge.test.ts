// Transfer to a seller at the call level, the REFER refused: the server runs the default YAML
// sales scenario (SCENARIO_DIR); the caller (SIPp) presses 0 by SIP INFO during the greeting
// ("a person, please"), the scenario's transfer step speaks and the server sends REFER, which the
// caller's phone refuses with 603. The server then calls the seller's phone (a second SIPp, with
// -rtp_echo) offering only the caller's codec, leaves the line, and relays: the caller's RTP must
// reach the seller and the seller's RTP the caller through the server's two port pairs, byte for
// byte, and the bot must send nothing more. A BYE from either phone ends the other's leg too, and
// the call record tells how the caller got to the seller. A seller's phone that answers another
// codec than the one offered is hung up, and the call goes on with the bot.
import { readFileSync } from 'node:fs'
import t, { type Test } from 'tap'
import { readWav } from '../codecs/wav.ts'
import { seqsOnWire } from './helpers/marked-rtp.ts'
import { rtpPackets } from './helpers/rtp-analysis.ts'
import { SIP_BACKENDS } from './helpers/sip-backend.ts'
import { byes, CALLER_SSRC, PACKETS, RELAY_PORTS, transferCall, type CallOptions } from './helpers/transfer-call.ts'

const { callerMp: CALLER_MP, sellerMp: SELLER_MP } = RELAY_PORTS
const CALLER_PORT = RELAY_PORTS.rtp.min // the server's answer to the caller: the pool's first pair
const SELLER_LEG_PORT = CALLER_PORT + 2 // the seller's leg: the next one

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
