// SRTP on the legs the server places itself (issue 15): a trunk with `srtp: required` (baresip
// behind it on 127.0.0.2 with mediaenc=srtp-mand, answering by itself) gets an RTP/SAVP offer with
// keys of ours, both for a call placed with POST /api/calls and for the seller's leg of a bridged
// transfer. Checked by what each end decodes: baresip hears the bot (or the caller's tone relayed
// through the bridge), the server hears baresip's tone, and no SRTP packet fails authentication.
import { mkdirSync, mkdtempSync, copyFileSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { readWav } from '../codecs/wav.ts'
import { baresipCall, type BaresipCall } from './helpers/baresip.ts'
import { freeUdpPort } from './helpers/free-port.ts'
import { RawCaller } from './helpers/raw-caller.ts'
import { REPO, startServerProcess, type ServerHandle } from './helpers/server-process.ts'
import { waitFor } from './helpers/storage-call.ts'
import { requireTool } from './helpers/system-tools.ts'
import { channel, loudShare, toneAmplitude } from './helpers/tone.ts'

// This file's share of ports: RTP 38800-38899, baresip's RTP 38900-38999.
const TOKEN = 'srtp-outbound-token'
const NUMBER = '89990001122'
// baresip is the trunk on 127.0.0.1 (its RTP leaves from there whatever address it binds SIP to);
// the caller of the transfer test calls from 127.0.0.3, so that it is not the trunk
const TRUNK_IP = '127.0.0.1'
const CALLER_IP = '127.0.0.3'

async function start(dataDir: string, trunkPort: number, env: Record<string, string> = {}): Promise<ServerHandle> {
  return startServerProcess({
    DATA_DIR: dataDir,
    API_TOKEN: TOKEN,
    LANGUAGE: 'ru',
    MEDIA_WORKERS: '1',
    RTP_PORT_MIN: '38800',
    RTP_PORT_MAX: '38899',
    SIP_TRUSTED_CIDRS: `${CALLER_IP}/32`,
    TRUNK_HOST: `${TRUNK_IP}:${trunkPort}`,
    TRUNK_REGISTER: 'false',
    TRUNK_SRTP: 'required',
    OUTBOUND_ALLOW_PREFIXES: '8999',
    ...env,
  })
}

/** baresip as the phone behind the trunk: it answers the first call and quits after `seconds`. */
function callee(dir: string, sipPort: number, rtpPorts: string, seconds: number): Promise<BaresipCall> {
  return baresipCall(dir, {
    account: `<sip:${NUMBER}@${TRUNK_IP}>;regint=0;mediaenc=srtp-mand;answermode=auto;audio_codecs=PCMU`,
    seconds,
    sipListen: `${TRUNK_IP}:${sipPort}`,
    rtpPorts,
  })
}

async function finalRecord(s: ServerHandle, id: string): Promise<any> {
  return waitFor(
    'the final call record',
    async () => {
      const c = (await s.api(`/api/calls/${id}`)).body
      return c.endedAt && c.rtpStats ? c : undefined
    },
    30_000,
  )
}

t.test('a call placed through a trunk that requires SRTP is RTP/SAVP, with audio both ways', async (t) => {
  requireTool('baresip', 'baresip')
  const dir = mkdtempSync(path.join(os.tmpdir(), 'voice-srtp-out-'))
  const trunkPort = await freeUdpPort()
  const s = await start(dir, trunkPort)
  t.teardown(() => s.stop())
  const phone = callee(path.join(dir, 'callee'), trunkPort, '38900-38919', 10)
  await new Promise((r) => setTimeout(r, 1000)) // baresip listens
  const placed = await fetch(`http://127.0.0.1:${s.httpPort}/api/calls`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ to: NUMBER }),
  })
  t.equal(placed.status, 202, 'the dial is let out (it was refused while our legs were plain RTP)')
  const { id } = (await placed.json()) as { id: string }
  const heard = (await phone).heard
  const call = await finalRecord(s, id)
  t.equal(call.direction, 'outbound')
  t.match(call.rtpStats.srtp, /^AES_CM_128_HMAC_SHA1_/, `the call's media is SRTP (${call.rtpStats.srtp})`)
  // (its first RTCP report leaves before its SRTP starts, and is dropped as srtcp-auth)
  t.equal(call.rtpStats.dropped['srtp-auth'], undefined, 'no RTP packet of baresip failed authentication')
  t.equal(call.rtpStats.dropped['foreign-source'], undefined)
  t.ok(heard && loudShare(heard) > 0.1, `baresip decoded the bot's greeting (${heard ? Math.round(loudShare(heard) * 100) : 0}% of its frames loud)`)
  const rec = readWav(readFileSync(call.recordingPath))
  const theirs = channel(rec, 0).subarray(rec.sampleRate * 2)
  const tone = toneAmplitude(theirs, 440, rec.sampleRate)
  t.ok(tone > 1000, `baresip's 440 Hz tone in the server's recording (amplitude ${Math.round(tone)})`)
})

t.test("a bridged transfer to a seller behind that trunk: the seller's leg is SRTP with keys of its own", async (t) => {
  requireTool('baresip', 'baresip')
  const dir = mkdtempSync(path.join(os.tmpdir(), 'voice-srtp-bridge-'))
  const scenarioDir = path.join(dir, 'scenarios')
  mkdirSync(scenarioDir)
  copyFileSync(path.join(REPO, 'dialog/scenarios/sales.yaml'), path.join(scenarioDir, 'sales.yaml'))
  const trunkPort = await freeUdpPort()
  const s = await start(dir, trunkPort, {
    SCENARIO_DIR: scenarioDir,
    TRANSFER_TARGET: `sip:${NUMBER}@${TRUNK_IP}:${trunkPort}`,
    TRANSFER_RING_TIMEOUT_MS: '10000',
  })
  t.teardown(() => s.stop())
  const seller = callee(path.join(dir, 'seller'), trunkPort, '38920-38939', 25)
  // the caller: plain RTP, silent until it is put through, and its phone refuses the REFER
  const caller = await RawCaller.open({ sipPort: s.sipPort, host: CALLER_IP, referAnswer: { status: 603, reason: 'Decline' } })
  t.teardown(() => caller.close())
  caller.invite()
  await caller.next(/^SIP\/2\.0 200/, 10_000)
  caller.ack()
  caller.startRtp()
  await waitFor('the greeting', async () => caller.rtpIn > 25)
  caller.info('0') // "a person, please": the scenario transfers
  await caller.next(/^REFER /, 20_000)
  caller.toneHz = 1000 // for the seller to hear
  const bridged = caller.rtpIn
  await new Promise((r) => setTimeout(r, 6000))
  t.ok(caller.rtpIn > bridged + 100, `the seller's RTP reaches the caller through the relay (${caller.rtpIn - bridged} packets)`)
  caller.bye()
  await caller.next(/^SIP\/2\.0 200[\s\S]*CSeq: \d+ BYE/)
  const heard = (await seller).heard
  const list = (await s.api('/api/calls?limit=1')).body
  const call = await finalRecord(s, list.calls[0].id)
  t.match(call.lead?.slots?.transfer, { method: 'bridge', referStatus: 603 }, 'bridged after the 603')
  const relay = call.rtpStats.relay.rtp
  t.ok(relay.callerToSeller > 100 && relay.sellerToCaller > 100, `relayed both ways: ${JSON.stringify(relay)}`)
  t.equal(relay.unauthenticated, 0, "every SRTP packet of the seller's leg authenticated with the keys its answer gave")
  const tone = heard ? toneAmplitude(channel(heard, 0), 1000, heard.sampleRate) : 0
  t.ok(tone > 1000, `the caller's 1 kHz tone, protected for the seller's leg, decoded by baresip (amplitude ${Math.round(tone)})`)
})
