// Transfer to a seller at the UA level: the UA in-process (embedded, or drachtio-srf with a drachtio-server), SIPp as the caller and as
// the seller's phone. (a) The caller's phone carries out the REFER (202, NOTIFY 100/200
// sipfrag): transfer() reports a REFER transfer and we hang up our leg. (b) The caller's phone
// refuses the REFER: the UA dials the seller (second SIPp, with -rtp_echo) and an RtpRelay
// carries the caller's RTP to the seller and the echo back, checked on the wire.
import dgram from 'node:dgram'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { once } from 'node:events'
import os from 'node:os'
import path from 'node:path'
import pino from 'pino'
import t from 'tap'
import { RtpRelay } from '../rtp/rtp-relay.ts'
import type { CallControl, InboundCall, SipEndReason, TransferResult } from '../sip/ua/call-control.ts'
import { LoopbackCapture } from './helpers/capture.ts'
import { seqsOnWire, writeMarkedRtp } from './helpers/marked-rtp.ts'
import { buildPcap } from './helpers/pcap-writer.ts'
import { renderScenario } from './helpers/scenario-file.ts'
import { SIP_BACKENDS, startCallControl } from './helpers/sip-backend.ts'
import { runSipp } from './helpers/sipp.ts'

// The transfer tests' share of ports: RTP 34100-34299, SIPp media 35100 and up.
const RELAY_CALLER_PORT = 34200 // the RTP port in our answer to the caller
const RELAY_SELLER_PORT = 34202 // the RTP port in our offer to the seller
const CALLER_MP = 35140
const SELLER_MP = 35160
const CALLER_SSRC = 0x5e11e401
const PACKETS = 50

const sdp = (port: number) =>
  `v=0\r\no=agent 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n`
const mediaOf = (body: string) => ({
  address: /^c=IN IP4 (\S+)/m.exec(body)?.[1] ?? '',
  port: Number(/^m=audio (\d+)/m.exec(body)?.[1]),
})

async function udp(port: number): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4')
  await new Promise<void>((resolve) => s.bind(port, '127.0.0.1', resolve))
  return s
}

async function freePort(): Promise<number> {
  const s = await udp(0)
  const port = s.address().port
  s.close()
  return port
}

/** SIPp's message log split into messages. */
const messagesOf = (file: string) => readFileSync(file, 'latin1').split(/-{20,}/)

/** Answers the next call and transfers it once the ACK is in. */
function answerAndTransfer(ua: CallControl, transfer: (call: InboundCall) => Promise<TransferResult>) {
  return new Promise<{ call: InboundCall; result: TransferResult; ended: Promise<SipEndReason> }>((resolve, reject) => {
    ua.once('call', (call) => {
      const ended = once(call, 'ended').then(([reason]) => reason as SipEndReason)
      call.progress(180)
      call
        .answer(sdp(RELAY_CALLER_PORT))
        .then(() => transfer(call))
        .then((result) => resolve({ call, result, ended }), reject)
    })
  })
}

for (const backend of SIP_BACKENDS)
  t.test(`transfer to a seller (${backend})`, async (t) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'voice-transfer-'))
    const { ua, stop } = await startCallControl(backend, pino({ level: 'silent' }))
    t.teardown(stop)
    const uaTarget = `127.0.0.1:${ua.address.port}`

    await t.test('the caller accepts the REFER: 202, NOTIFY 100 and 200 sipfrag, then our BYE', async (t) => {
      const messages = path.join(dir, 'accept-messages.log')
      const scenario = renderScenario('uac-transfer-accept.xml', dir, {
        TARGET_RE: 'sip:89990001122@pbx\\.example\\.com',
        MEDIA_PORT: '[media_port]',
        MEDIA: '',
      })
      const [{ result, ended }, sipp] = await Promise.all([
        answerAndTransfer(ua, async (call) => {
          t.match(await call.transfer('not a number'), { ok: false, reason: /neither a sip: URI nor a phone number/ })
          t.match(await call.transfer('+7 999 000 11 22'), { ok: false, reason: /needs a trunk domain/ }, 'a number needs the trunk domain')
          return call.transfer('8 (999) 000-11-22', { domain: 'pbx.example.com', notifyTimeoutMs: 10_000 })
        }),
        runSipp(scenario, uaTarget, ['-m', '1', '-l', '1', '-mp', String(CALLER_MP), '-trace_msg', '-message_file', messages], 30_000),
      ])
      t.equal(sipp.code, 0, `SIPp (transferee) passed its scenario (${sipp.stderr.slice(-400)})`)
      t.same(result, { ok: true, method: 'refer' })
      t.equal(await ended, 'transferred', 'our leg ended as transferred')
      const log = messagesOf(messages)
      const refer = log.find((m) => /^REFER /m.test(m)) ?? ''
      t.match(refer, /^Refer-To: <sip:89990001122@pbx\.example\.com>\r?$/m, 'Refer-To names the number at the trunk')
      t.match(refer, /^Referred-By: <sip:sales@127\.0\.0\.1:\d+>\r?$/m, 'Referred-By is the number the caller dialled')
      // Each message's start line (and the CSeq method of a response), in wire order.
      const order = log
        .map((m) => /^(REFER|BYE|NOTIFY) |^SIP\/2\.0 (\d+)[^\r\n]*[\s\S]*?^CSeq:\s*\d+ (\w+)/m.exec(m))
        .filter(Boolean)
        .map((m) => m![1] ?? `${m![2]} ${m![3]}`)
      t.equal(order.filter((x) => x === '200 NOTIFY').length, 2, 'each NOTIFY answered 200')
      t.ok(order.lastIndexOf('BYE') > order.lastIndexOf('200 NOTIFY'), `our BYE follows the final NOTIFY (${order.join(', ')})`)
    })

    await t.test('the caller refuses the REFER with 501 and no fallback is configured: the call stays up', async (t) => {
      const pcap = path.join(dir, 'empty.pcap')
      writeFileSync(pcap, buildPcap([]))
      const scenario = renderScenario('uac-transfer-refuse.xml', dir, {
        ASK: '',
        AFTER_MEDIA: '',
        TARGET_RE: 'sip:seller@127\\.0\\.0\\.1',
        REFUSE_STATUS: 501,
        REFUSE_REASON: 'Not Implemented',
        PCAP: pcap,
        HOLD_MS: 200,
      })
      const [{ result, ended }, sipp] = await Promise.all([
        answerAndTransfer(ua, (call) => call.transfer('sip:seller@127.0.0.1')),
        runSipp(scenario, uaTarget, ['-m', '1', '-l', '1', '-mp', String(CALLER_MP)], 30_000),
      ])
      t.equal(sipp.code, 0, `SIPp (caller) passed its scenario (${sipp.stderr.slice(-400)})`)
      t.same(result, { ok: false, reason: 'REFER refused: 501 Not Implemented', status: 501 })
      t.equal(await ended, 'remote-bye', 'the call went on until the caller hung up')
    })

    await t.test('the caller refuses the REFER with 603: the seller is dialled and RTP relayed both ways', async (t) => {
      const pcap = path.join(dir, 'caller.pcap')
      const sent = writeMarkedRtp(pcap, { count: PACKETS, ssrc: CALLER_SSRC, srcPort: CALLER_MP })
      const [callerSide, sellerSide] = await Promise.all([udp(RELAY_CALLER_PORT), udp(RELAY_SELLER_PORT)])
      t.teardown(() => [callerSide, sellerSide].forEach((s) => s.close()))
      const sellerPort = await freePort()
      const cap = new LoopbackCapture(path.join(dir, 'bridge.pcap'), 'udp and (portrange 34200-34203 or portrange 35140-35179)')
      await cap.start()

      const sellerMessages = path.join(dir, 'seller-messages.log')
      const seller = runSipp(
        renderScenario('uas-seller.xml', dir, {
          OFFER_PORT: RELAY_SELLER_PORT,
          CALLER_ID: '79161234567',
          HANG_UP_AFTER_MS: 30_000,
          ANSWER_PT: 0,
          ANSWER_CODEC: 'PCMU',
          ON_ANSWER: '',
        }),
        uaTarget,
        ['-p', String(sellerPort), '-m', '1', '-mp', String(SELLER_MP), '-rtp_echo', '-trace_msg', '-message_file', sellerMessages],
        30_000,
      )
      let relay: RtpRelay | undefined
      const caller = renderScenario('uac-transfer-refuse.xml', dir, {
        ASK: '',
        AFTER_MEDIA: '',
        TARGET_RE: `sip:seller@127\\.0\\.0\\.1:${sellerPort}`,
        REFUSE_STATUS: 603,
        REFUSE_REASON: 'Decline',
        PCAP: pcap,
        HOLD_MS: 1500,
      })
      const [{ call, result, ended }, callerSipp] = await Promise.all([
        answerAndTransfer(ua, async (call) => {
          const result = await call.transfer(`sip:seller@127.0.0.1:${sellerPort}`, {
            bridge: { offer: async () => sdp(RELAY_SELLER_PORT), ringTimeoutMs: 10_000 },
          })
          // What the media owner does with a bridged result: relay the caller's endpoint to the seller's answer.
          if (result.ok && result.method === 'bridge') {
            relay = new RtpRelay({ socket: callerSide, remote: mediaOf(call.offer ?? '') }, { socket: sellerSide, remote: mediaOf(result.leg.answer) })
            relay.start()
            result.leg.once('ended', () => relay?.stop())
          }
          return result
        }),
        runSipp(caller, uaTarget, ['-m', '1', '-l', '1', '-mp', String(CALLER_MP)], 30_000),
      ])
      const sellerSipp = await seller
      const packets = await cap.stop()
      t.equal(callerSipp.code, 0, `SIPp (caller) passed its scenario (${callerSipp.stderr.slice(-400)})`)
      t.equal(sellerSipp.code, 0, `SIPp (seller) passed its scenario (${sellerSipp.stderr.slice(-400)})`)
      t.match(result, { ok: true, method: 'bridge', referStatus: 603 })
      t.equal(await ended, 'remote-bye', 'the caller hung up')
      t.ok(call.sipCallId)
      const byes = messagesOf(sellerMessages).filter((m) => /^BYE /m.test(m))
      t.equal(byes.length, 1, "the caller's BYE ended the seller's leg with our BYE")

      const seqs = (from: number, to: number) => seqsOnWire(packets, CALLER_SSRC, from, to)
      const expected = sent.map((p) => p.payload.readUInt16BE(2))
      t.same(seqs(CALLER_MP, RELAY_CALLER_PORT), expected, 'the caller sent its RTP to our answer port')
      t.same(seqs(RELAY_SELLER_PORT, SELLER_MP), expected, 'every packet left the relay for the seller, sequence numbers untouched')
      t.same(seqs(SELLER_MP, RELAY_SELLER_PORT), expected, "the seller's echo came back to the relay")
      t.same(seqs(RELAY_CALLER_PORT, CALLER_MP), expected, "and reached the caller's media port")
      const back = packets.filter((p) => p.srcPort === RELAY_CALLER_PORT && p.dstPort === CALLER_MP)
      t.same(
        back.map((p) => p.payload.toString('hex')),
        sent.map((p) => p.payload.toString('hex')),
        'payloads and headers byte for byte',
      )
      t.same(relay?.counts, { aToB: PACKETS, bToA: PACKETS, dropped: 0, filtered: 0, unauthenticated: 0 })
    })
  })
