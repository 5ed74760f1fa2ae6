// A transfer to a seller at the call level, the REFER refused, with SIPp as both phones: the
// server runs the default YAML sales scenario; the caller (SIPp) presses 0 by SIP INFO during the
// greeting, the scenario's transfer step speaks and the server sends REFER, which the caller's
// phone refuses with 603; the server then calls the seller's phone (a second SIPp, with -rtp_echo).
// Shared by test/sipp-transfer-bridge.test.ts (the media core's relay) and
// test/freeswitch-transfer.test.ts (FreeSWITCH's own bridge).
import { mkdirSync, mkdtempSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import dgram from 'node:dgram'
import os from 'node:os'
import path from 'node:path'
import type { Test } from 'tap'
import { LoopbackCapture } from './capture.ts'
import type { FreeswitchHandle } from './freeswitch.ts'
import { writeMarkedRtp } from './marked-rtp.ts'
import { renderScenario } from './scenario-file.ts'
import { REPO, type ServerHandle } from './server-process.ts'
import { startServerWith, startServerWithFreeswitch, type SipBackendName } from './sip-backend.ts'
import { runSipp } from './sipp.ts'

/** Where a transfer test's calls run: the server's RTP range (the caller's pair first, then the
 *  seller leg's), SIPp's media ports for the two phones, and FreeSWITCH's RTP range. */
export interface TransferPorts {
  rtp: { min: number; max: number }
  callerMp: number
  sellerMp: number
  /** MEDIA_BACKEND=freeswitch only */
  freeswitchRtp?: { start: number; end: number }
}

// Each file its own share, so that the two may run at once (another worktree, tap --jobs).
/** test/sipp-transfer-bridge.test.ts (the media core's relay): RTP 34100-34199, SIPp media 35100 and up */
export const RELAY_PORTS: TransferPorts = { rtp: { min: 34100, max: 34199 }, callerMp: 35100, sellerMp: 35120 }
/** test/freeswitch-transfer.test.ts: RTP 30100-30199, FreeSWITCH's 30200-30299, SIPp media 30400 and up */
export const FREESWITCH_PORTS = {
  rtp: { min: 30100, max: 30199 },
  callerMp: 30400,
  sellerMp: 30420,
  freeswitchRtp: { start: 30200, end: 30299 },
} satisfies TransferPorts
export const CALLER_SSRC = 0x5e11e402
export const PACKETS = 50

/** A key by SIP INFO from the caller, as the n-th request of its dialog. */
export const pressKey = (key: string, cseq: number) => `
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
export const PRESS_ZERO = pressKey('0', 2)

/** The seller's phone takes one INFO carrying key 5 (check_it: anything else fails its SIPp). */
export const SELLER_TAKES_FIVE = `
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
export async function callRecord(server: ServerHandle, done: (call: any) => boolean, withinMs = 10_000): Promise<any> {
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
export const messagesOf = (file: string) => readFileSync(file, 'latin1').split(/-{20,}/)

export interface CallOptions {
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
  /** both phones negotiate telephone-event (101), and the caller's RTP ends with key 5 as an RFC 4733 event */
  telephoneEvent?: boolean
  /** the seller's phone refuses the call with this status instead of answering */
  sellerRefuses?: { status: number; reason: string }
  /** done once the live record satisfied `liveWhen` */
  meanwhile?: (server: ServerHandle & { freeswitch?: FreeswitchHandle }) => Promise<void>
}

/** One call up to the REFER refused with 603 and the seller's phone answering; both SIPps must pass. */
export async function transferCall(t: Test, opts: CallOptions) {
  const { callerMp, sellerMp, rtp } = opts.backend === 'freeswitch' ? FREESWITCH_PORTS : RELAY_PORTS
  const fsRtp = FREESWITCH_PORTS.freeswitchRtp
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
    RTP_PORT_MIN: String(rtp.min),
    RTP_PORT_MAX: String(rtp.max),
    TRANSFER_TARGET: target,
    TRANSFER_RING_TIMEOUT_MS: '10000',
    OUTBOUND_ALLOW_PREFIXES: '8',
  }
  const server = opts.backend === 'freeswitch' ? await startServerWithFreeswitch(env, fsRtp) : await startServerWith(opts.backend, env)
  t.teardown(() => server.stop())

  const pcap = path.join(dataDir, 'caller.pcap')
  const sent = writeMarkedRtp(pcap, { count: PACKETS, ssrc: CALLER_SSRC, srcPort: callerMp, ...(opts.telephoneEvent && { digit: { key: 5, pt: 101 } }) })
  // SIPp puts each line of a message on its own line: the telephone-event rtpmap follows the codec's
  const te = opts.telephoneEvent ? { pt: ' 101', map: '\n      a=rtpmap:101 telephone-event/8000' } : { pt: '', map: '' }
  const fsPorts = opts.backend === 'freeswitch' ? ` or portrange ${fsRtp.start}-${fsRtp.end}` : ''
  const cap = new LoopbackCapture(
    path.join(dataDir, 'bridge.pcap'),
    `udp and (portrange ${rtp.min}-${rtp.max}${fsPorts} or portrange ${callerMp}-${sellerMp + 19})`,
  )
  await cap.start()

  const sellerMessages = path.join(dataDir, 'seller-messages.log')
  const callerMessages = path.join(dataDir, 'caller-messages.log')
  const sellerXml = opts.sellerRefuses
    ? renderScenario('uas-callee-refuses.xml', dataDir, { RING_MS: 500, STATUS: opts.sellerRefuses.status, REASON: opts.sellerRefuses.reason })
    : renderScenario('uas-seller.xml', dataDir, {
        // with FreeSWITCH the offer is a FreeSWITCH endpoint's, on a port of its own range
        OFFER_PORT: opts.backend === 'freeswitch' ? '[0-9]+' : rtp.min + 2,
        CALLER_ID: '79161234567',
        HANG_UP_AFTER_MS: opts.sellerHangsUpAfterMs,
        ANSWER_PT: opts.sellerCodec?.pt ?? 0,
        ANSWER_CODEC: opts.sellerCodec?.name ?? 'PCMU',
        ON_ANSWER: opts.keyWhileBridged ? SELLER_TAKES_FIVE : '',
        ANSWER_TE_PT: te.pt,
        ANSWER_TE_MAP: te.map,
      })
  const seller = runSipp(
    sellerXml,
    `127.0.0.1:${server.sipPort}`,
    ['-p', String(sellerSipPort), '-m', '1', '-mp', String(sellerMp), '-rtp_echo', '-trace_msg', '-message_file', sellerMessages],
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
    OFFER_TE_PT: te.pt,
    OFFER_TE_MAP: te.map,
  })
  const caller = runSipp(
    callerXml,
    `127.0.0.1:${server.sipPort}`,
    ['-m', '1', '-l', '1', '-mp', String(callerMp), '-trace_msg', '-message_file', callerMessages],
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
  t.match(metrics, new RegExp(`^voice_rtp_ports_free ${(rtp.max - rtp.min + 1) / 2}$`, 'm'), 'every port pair back in the pool')
  return { server, target, live, call, sent, packets, metrics, sellerMessages: messagesOf(sellerMessages), callerMessages: messagesOf(callerMessages) }
}

export const byes = (messages: string[]) => messages.filter((m) => /^BYE /m.test(m))
