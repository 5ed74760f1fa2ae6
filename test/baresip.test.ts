// baresip 1.0.0 against the server (issue 15, real peers), with SRTP=required: over TLS with SRTP
// (mediaenc=srtp-mand), G.722 and Opus (SRTP over UDP), each with audio checked both ways (baresip's
// tone in the server's recording, the server's greeting in baresip's decoded audio); a plain offer
// refused with 488; all from an untrusted address that authenticates with digest.
import { mkdtempSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { readWav, type WavData } from '../codecs/wav.ts'
import { baresipCall, type BaresipCallOptions } from './helpers/baresip.ts'
import { startServerProcess } from './helpers/server-process.ts'
import { waitFor } from './helpers/storage-call.ts'
import { requireTool } from './helpers/system-tools.ts'
import { channel, loudShare, toneAmplitude } from './helpers/tone.ts'
import { freeTcpPort } from './helpers/free-port.ts'
import { makeCert } from './helpers/tls-cert.ts'

t.test('baresip calls the server', async (t) => {
  requireTool('openssl', 'openssl')
  const dir = mkdtempSync(path.join(os.tmpdir(), 'voice-baresip-'))
  const { cert, key } = makeCert(dir, 'sip', '127.0.0.1')
  const tlsPort = await freeTcpPort()
  const s = await startServerProcess({
    SIP_TLS_PORT: String(tlsPort),
    SIP_TLS_CERT: cert,
    SIP_TLS_KEY: key,
    // 127.0.0.1, where baresip calls from, is untrusted: every call authenticates
    SIP_TRUSTED_CIDRS: '127.0.0.2/32',
    SIP_AUTH_USERS: 'alice:s3cret',
    // baresip 1.0.0 (libre 1.1.0) knows MD5 only, and a SHA-256 challenge anywhere in the 401,
    // first or second, makes it give up (ENOSYS, "Function not implemented") rather than answer the MD5 one
    SIP_AUTH_ALGORITHMS: 'MD5',
    LANGUAGE: 'en',
    SRTP: 'required',
    MEDIA_WORKERS: '1',
    RTP_PORT_MIN: '33000',
    RTP_PORT_MAX: '33099',
  })
  t.teardown(() => s.stop())
  let n = 0
  const call = (o: Pick<BaresipCallOptions, 'account' | 'target' | 'control'>) =>
    baresipCall(path.join(dir, `baresip-${++n}`), { ...o, seconds: 8, sipListen: `127.0.0.1:${33200 + n}`, rtpPorts: `${33300 + n * 20}-${33319 + n * 20}` })

  /** The server's record of the call baresip just made (the newest), once it has ended. */
  const lastCall = async () => {
    const { body } = await s.api('/api/calls?limit=1')
    const id = body.calls[0]?.id as string
    return waitFor('the call record', async () => {
      const c = (await s.api(`/api/calls/${id}`)).body
      return c.endedAt && c.rtpStats ? c : undefined
    })
  }

  /** Audio both ways: the greeting in what baresip decoded, baresip's tone in the server's recording. */
  const checkAudio = (t: Test, heard: WavData | undefined, record: any, toneHz: number) => {
    t.ok(heard, 'baresip decoded our RTP')
    if (heard) t.ok(loudShare(heard) > 0.1, `the greeting reached baresip (${Math.round(loudShare(heard) * 100)}% of its frames loud)`)
    const rec = readWav(readFileSync(record.recordingPath))
    const caller = channel(rec, 0).subarray(rec.sampleRate * 2) // past the first packets and the jitter buffer's start
    const tone = toneAmplitude(caller, toneHz, rec.sampleRate)
    const off = toneAmplitude(caller, toneHz * 2.5, rec.sampleRate)
    t.ok(tone > 1000 && tone > off * 10, `baresip's ${toneHz} Hz tone in the server's recording (amplitude ${Math.round(tone)}, ${Math.round(off)} off-tone)`)
  }

  await t.test('TLS and SRTP (mediaenc=srtp-mand): answered, decrypted both ways', async (t) => {
    const r = await call({
      account: '<sip:alice@127.0.0.1;transport=tls>;regint=0;mediaenc=srtp-mand;audio_codecs=PCMU;auth_pass=s3cret',
      target: `sip:sales@127.0.0.1:${tlsPort};transport=tls`,
    })
    t.match(r.log, /SRTP is Enabled \(cryptosuite=AES_CM_128_HMAC_SHA1_(80|32)\)/, 'baresip: SRTP on')
    t.match(r.log, /Call established/, 'baresip: call established')
    const c = await lastCall()
    t.match(c.rtpStats.srtp, /^AES_CM_128_HMAC_SHA1_/, `server: SRTP ${c.rtpStats.srtp}`)
    t.equal(c.codec, 'PCMU')
    t.ok(c.rtpStats.packetsIn > 200, `server: ${c.rtpStats.packetsIn} SRTP packets authenticated and decrypted`)
    t.equal(c.rtpStats.dropped['srtp-auth'], undefined, 'no SRTP packet failed authentication')
    t.ok(c.rtpStats.rtcp.in >= 1, 'SRTCP reports from baresip read')
    t.ok(c.rtpStats.rtcp.remote?.rttMs !== undefined, 'baresip read our SRTCP sender report (its report gives the round trip)')
    checkAudio(t, r.heard, c, r.toneHz)
    // baresip sends one RTCP APP in the clear before its SRTP starts: refused, and counted in the
    // worker's report to the main registry
    const metrics = await waitFor('the SRTCP drop in /metrics', async () => {
      const text = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text()
      return /voice_rtp_packets_dropped_total\{reason="srtcp-malformed"\} [1-9]/.test(text) && text
    })
    t.notMatch(metrics, /reason="srtp-(auth|replay)"/, 'no RTP packet refused')
  })

  for (const codec of ['G722', 'opus'] as const) {
    await t.test(`${codec} with SRTP over UDP: audio both ways`, async (t) => {
      const r = await call({
        account: `<sip:alice@127.0.0.1>;regint=0;mediaenc=srtp-mand;audio_codecs=${codec === 'opus' ? 'opus/48000/2' : 'G722/16000/1'};auth_pass=s3cret`,
        target: `sip:sales@127.0.0.1:${s.sipPort}`,
      })
      t.match(r.log, /Call established/)
      const c = await lastCall()
      t.equal(c.codec, codec)
      t.match(c.rtpStats.srtp, /^AES_CM_128_HMAC_SHA1_/)
      t.ok(c.rtpStats.packetsIn > 200, `server: ${c.rtpStats.packetsIn} packets in`)
      t.equal(c.rtpStats.dropped['srtp-auth'], undefined)
      checkAudio(t, r.heard, c, r.toneHz)
    })
  }

  await t.test('hold and resume (re-INVITEs) in an SRTP call keep the keys: both accepted, the call goes on', async (t) => {
    const r = await call({
      account: '<sip:alice@127.0.0.1>;regint=0;mediaenc=srtp-mand;audio_codecs=PCMU;auth_pass=s3cret',
      target: `sip:sales@127.0.0.1:${s.sipPort}`,
      control: { port: await freeTcpPort(), commands: ['hold', 'resume'] },
    })
    t.match(r.log, /call: hold /, 'baresip held the call')
    t.match(r.log, /call: resume /, 'and resumed it')
    const c = await lastCall()
    const changes = s.logs.filter((l) => l.includes(c.id) && l.includes('session change'))
    t.equal(changes.filter((l) => l.includes('session change accepted')).length, 2, 'both re-INVITEs accepted')
    t.equal(changes.filter((l) => l.includes('refused')).length, 0)
    t.equal(c.result, 'caller-hangup', 'the call went on to its end')
    t.equal(c.rtpStats.dropped['srtp-auth'], undefined)
  })

  await t.test('SRTP=required: a plain RTP/AVP offer gets 488', async (t) => {
    const r = await call({ account: '<sip:alice@127.0.0.1>;regint=0;audio_codecs=PCMU;auth_pass=s3cret', target: `sip:sales@127.0.0.1:${s.sipPort}` })
    t.match(r.log, /488 Not Acceptable Here/, 'baresip: 488')
    t.notMatch(r.log, /Call established/)
    const { body } = await s.api('/api/calls?limit=1')
    t.match(body.calls[0].endReason, /^488 unsupported audio transport: offer has RTP\/AVP; we support RTP\/SAVP/, 'the record says why')
  })

  await t.test('digest: an untrusted baresip without the password is refused, with it answered', async (t) => {
    const before = (await s.api('/api/calls?limit=1')).body.calls[0]?.id
    const r = await call({ account: '<sip:mallory@127.0.0.1>;regint=0;mediaenc=srtp-mand;audio_codecs=PCMU', target: `sip:sales@127.0.0.1:${s.sipPort}` })
    t.notMatch(r.log, /Call established/, 'no call without credentials')
    t.equal((await s.api('/api/calls?limit=1')).body.calls[0]?.id, before, 'no call record, no RTP port: refused before any call')
    const ok = await call({
      account: '<sip:alice@127.0.0.1>;regint=0;mediaenc=srtp-mand;audio_codecs=PCMU;auth_pass=s3cret',
      target: `sip:sales@127.0.0.1:${s.sipPort}`,
    })
    t.match(ok.log, /Call established/, 'with alice:s3cret the call is answered')
    const c = await lastCall()
    t.equal(c.fromUri, 'sip:alice@127.0.0.1')
  })
})
