// The server with a trunk from the TRUNK_* variables, Kamailio playing the carrier
// (test/fixtures/kamailio/kamailio.cfg): it registers at start (GET /api/trunks, metrics), and
// the bridged fallback of a transfer dials the seller's number through the trunk: Kamailio
// challenges the INVITE with 407, then routes it to the seller's phone (SIPp), which sees the
// trunk's caller id in From. With the number outside OUTBOUND_ALLOW_PREFIXES nothing is dialled:
// the refusal is logged and counted, the trunk never sees an INVITE, and the caller stays with the bot.
import { mkdirSync, mkdtempSync, copyFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { startKamailio } from './helpers/kamailio.ts'
import { freeUdpPort } from './helpers/free-port.ts'
import { writeMarkedRtp } from './helpers/marked-rtp.ts'
import { renderScenario } from './helpers/scenario-file.ts'
import { REPO, startServerProcess } from './helpers/server-process.ts'
import { runSipp } from './helpers/sipp.ts'

// This file's share of ports: RTP 37100-37199, SIPp media 37300 and up.
const RTP_MIN = 37100
const RTP_MAX = 37199
const SELLER_LEG_PORT = RTP_MIN + 2
const CALLER_MP = 37300
const USER = '74951234567'
const PASSWORD = 'Trunk-Pa55'
const REALM = 'carrier.test'
const NUMBER = '89990001122'

const PRESS_ZERO = `
  <send retrans="500">
    <![CDATA[
      INFO sip:sales@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "SIPp caller" <sip:79161234567@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:sales@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 INFO
      Max-Forwards: 70
      Content-Type: application/dtmf-relay
      Content-Length: [len]

      Signal=0
      Duration=160
    ]]>
  </send>
  <recv response="200" />`

async function json(url: string): Promise<any> {
  return (await fetch(url)).json()
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

async function trunkCall(t: Test, allowPrefixes: string, sellerAnswers: boolean) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'voice-trunk-'))
  const scenarioDir = path.join(dataDir, 'scenarios')
  mkdirSync(scenarioDir)
  copyFileSync(path.join(REPO, 'dialog/scenarios/sales.yaml'), path.join(scenarioDir, 'sales.yaml'))
  const [kamPort, sellerPort] = [await freeUdpPort(), await freeUdpPort()]
  const kam = await startKamailio(path.join(dataDir, 'kamailio'), kamPort, {
    ALGORITHM: 'MD5',
    NONCE_EXPIRE: 300,
    MAX_EXPIRES: 300,
    USERNAME: USER,
    PASSWORD,
    REALM,
    CALLER_ID: USER,
    SELLER: `127.0.0.1:${sellerPort}`,
  })
  t.teardown(() => kam.stop())
  const server = await startServerProcess({
    DATA_DIR: dataDir,
    SCENARIO_DIR: scenarioDir,
    LANGUAGE: 'ru',
    RTP_PORT_MIN: String(RTP_MIN),
    RTP_PORT_MAX: String(RTP_MAX),
    TRUNK_HOST: `127.0.0.1:${kamPort}`,
    TRUNK_DOMAIN: REALM,
    TRUNK_USERNAME: USER,
    TRUNK_PASSWORD: PASSWORD,
    TRUNK_CALLER_ID: USER,
    OUTBOUND_ALLOW_PREFIXES: allowPrefixes,
    // a bare number: dialled at the trunk's domain (TRANSFER_DOMAIN defaults to it)
    TRANSFER_TARGET: NUMBER,
    TRANSFER_RING_TIMEOUT_MS: '10000',
  })
  t.teardown(() => server.stop())
  const api = `http://127.0.0.1:${server.httpPort}`

  const trunk = await until('the registration', async () => {
    const { trunks } = await json(`${api}/api/trunks`)
    return trunks[0]?.registration?.state === 'registered' ? trunks[0] : undefined
  })
  t.match(trunk, {
    name: 'trunk',
    host: `127.0.0.1:${kamPort}`,
    transport: 'udp',
    domain: REALM,
    callerId: USER,
    register: true,
    registration: { state: 'registered', aor: `sip:${USER}@${REALM}`, failures: 0 },
  })
  t.notOk(JSON.stringify(trunk).includes(PASSWORD), 'no password in the API')

  const pcap = path.join(dataDir, 'caller.pcap')
  writeMarkedRtp(pcap, { count: 25, ssrc: 0x7e11e402, srcPort: CALLER_MP })
  const seller = sellerAnswers
    ? runSipp(
        renderScenario('uas-seller.xml', dataDir, {
          OFFER_PORT: SELLER_LEG_PORT,
          CALLER_ID: USER,
          HANG_UP_AFTER_MS: 3000,
          ANSWER_PT: 0,
          ANSWER_CODEC: 'PCMU',
          ON_ANSWER: '',
        }),
        `127.0.0.1:${kamPort}`,
        [
          '-p',
          String(sellerPort),
          '-m',
          '1',
          '-mp',
          String(CALLER_MP + 20),
          '-rtp_echo',
          '-trace_err',
          '-error_file',
          path.join(dataDir, 'seller-errors.log'),
          '-trace_msg',
          '-message_file',
          path.join(dataDir, 'seller-messages.log'),
        ],
        90_000,
      )
    : undefined
  const caller = runSipp(
    renderScenario('uac-transfer-refuse.xml', dataDir, {
      ASK: PRESS_ZERO,
      TARGET_RE: `sip:${NUMBER}@${REALM.replaceAll('.', '\\.')}`,
      REFUSE_STATUS: 603,
      REFUSE_REASON: 'Decline',
      PCAP: pcap,
      HOLD_MS: sellerAnswers ? 20_000 : 3000,
      AFTER_MEDIA: '',
    }),
    `127.0.0.1:${server.sipPort}`,
    ['-m', '1', '-l', '1', '-mp', String(CALLER_MP)],
    90_000,
  )
  const [callerDone, sellerDone] = await Promise.all([caller, seller])
  t.equal(callerDone.code, 0, `the caller's SIPp passed (${callerDone.stderr.slice(-400)})`)
  const metrics = await fetch(`${api}/metrics`).then((r) => r.text())
  t.match(metrics, /^voice_trunk_registration_state\{trunk="trunk",state="registered"\} 1$/m)
  t.match(metrics, /^voice_trunk_registrations_total\{trunk="trunk",result="ok"\} [1-9]/m)
  return { sellerDone, metrics, log: kam.log(), api }
}

t.test('the bridged transfer dials the seller through the trunk: 407 answered, caller id of the trunk', async (t) => {
  const { sellerDone, metrics, log } = await trunkCall(t, '+7,8', true)
  t.equal(
    sellerDone?.code,
    0,
    `the seller's SIPp passed: From carried the trunk's caller id ${USER} (${sellerDone?.stderr.slice(-600)} ${sellerDone?.stdout.slice(-300)})`,
  )
  t.match(log, /kamailio: INVITE not authenticated/, 'the trunk challenged our INVITE')
  t.match(log, new RegExp(`kamailio: INVITE sip:${NUMBER}@carrier\\.test`))
  t.match(metrics, /^voice_transfers_total\{outcome="bridge"\} 1$/m)
  t.notMatch(metrics, /^voice_outbound_dials_refused_total\{/m, 'nothing refused')
})

t.test('a transfer target outside the allowed prefixes is never dialled', async (t) => {
  const { metrics, log } = await trunkCall(t, '+7', false)
  t.match(metrics, /^voice_outbound_dials_refused_total\{reason="prefix",trunk="trunk"\} 1$/m, 'the refusal is counted')
  t.match(metrics, /^voice_transfers_total\{outcome="failed"\} 1$/m, 'the transfer failed, the caller stayed with the bot')
  t.notMatch(log, /kamailio: INVITE/, 'the trunk never saw an INVITE')
})
