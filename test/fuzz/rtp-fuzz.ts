// The RTP/RTCP fuzzer: places one real call over UDP (INVITE with SDP, ACK), streams valid
// PCMU from its own RTP socket so the server latches onto it, then sends fuzz packets to the
// call's RTP and RTCP ports: from the caller's own address (also with stray SSRCs) and from a
// stranger's. The call must still be alive afterwards (the server's RTP keeps coming and a
// BYE gets 200).
//
//   node --import tsx test/fuzz/rtp-fuzz.ts --sip 127.0.0.1:5060 --count 10000 --seed 1
import dgram from 'node:dgram'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { Prng } from './prng.ts'
import { rtpCase, validRtp, type RtpContext } from './rtp-mutator.ts'

export interface RtpFuzzResult {
  sent: number
  kinds: Record<string, number>
  /** RTP packets the server sent us during the fuzzing, and in the second after it. */
  receivedDuring: number
  receivedAfter: number
  /** Status of the answer to our closing BYE ('timeout' when none). */
  byeStatus: number | 'timeout'
}

async function bindPair(): Promise<[dgram.Socket, dgram.Socket]> {
  for (let k = 0; k < 50; k++) {
    const port = 2 * Math.floor((46000 + Math.random() * 3000) / 2)
    const rtp = dgram.createSocket('udp4')
    const rtcp = dgram.createSocket('udp4')
    try {
      await new Promise<void>((ok, fail) => {
        rtp.once('error', fail)
        rtp.bind(port, '127.0.0.1', ok)
      })
      await new Promise<void>((ok, fail) => {
        rtcp.once('error', fail)
        rtcp.bind(port + 1, '127.0.0.1', ok)
      })
      return [rtp, rtcp]
    } catch {
      rtp.close()
      try {
        rtcp.close()
      } catch {}
    }
  }
  throw new Error('no free even/odd port pair')
}

/** A minimal UDP UAC: one call, answered, ACKed; `bye()` ends it. */
async function placeCall(host: string, port: number, rtpPort: number) {
  const sip = dgram.createSocket('udp4')
  await new Promise<void>((r) => sip.bind(0, '127.0.0.1', r))
  const me = sip.address().port
  const callId = `rtp-fuzz-${Date.now()}`
  const messages: string[] = []
  sip.on('message', (m) => {
    const text = m.toString('latin1')
    messages.push(text)
    // answer the server's own BYE (the scenario may end the call) so it is not retransmitted
    if (text.startsWith('BYE '))
      sip.send(
        Buffer.from(
          text
            .replace(/^BYE [^\r]*/, 'SIP/2.0 200 OK')
            .replace(/\r\n\r\n[^]*$/, '\r\n\r\n')
            .replace(/Content-Length:\s*\d+/i, 'Content-Length: 0'),
        ),
        port,
        host,
      )
  })
  const waitFor = async (re: RegExp, ms: number) => {
    const deadline = Date.now() + ms
    while (Date.now() < deadline) {
      const m = messages.find((x) => re.test(x))
      if (m) return m
      await new Promise((r) => setTimeout(r, 10))
    }
    return undefined
  }
  const sdp = `v=0\r\no=fuzz 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${rtpPort} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n`
  const req = (method: string, cseq: number, toTag = '', body = '') =>
    `${method} sip:sales@${host}:${port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${me};branch=z9hG4bK${method}${Date.now()};rport\r\nFrom: <sip:79990001122@127.0.0.1>;tag=rtpfuzz\r\nTo: <sip:sales@${host}>${toTag ? ';tag=' + toTag : ''}\r\nCall-ID: ${callId}\r\nCSeq: ${cseq} ${method}\r\nContact: <sip:fuzz@127.0.0.1:${me}>\r\nMax-Forwards: 70\r\n${body ? 'Content-Type: application/sdp\r\n' : ''}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  sip.send(req('INVITE', 1, '', sdp), port, host)
  const ok = await waitFor(/^SIP\/2\.0 200[^]*CSeq: 1 INVITE/, 15_000)
  if (!ok) throw new Error(`no 200 OK for the INVITE: ${messages.map((m) => m.split('\r\n')[0]).join(', ')}`)
  const toTag = /^(?:To|t):.*;tag=([^;\s]+)/im.exec(ok)![1]
  const remoteRtp = Number(/^m=audio (\d+)/m.exec(ok)![1])
  sip.send(req('ACK', 1, toTag), port, host)
  return {
    remoteRtp,
    async bye(): Promise<number | 'timeout'> {
      messages.length = 0
      sip.send(req('BYE', 2, toTag), port, host)
      const res = await waitFor(/^SIP\/2\.0 \d+[^]*CSeq: 2 BYE/, 5000)
      sip.close()
      return res ? Number(res.slice(8, 11)) : 'timeout'
    },
  }
}

export async function runRtpFuzz(o: { host: string; sipPort: number; seed: number; count: number; rate: number }): Promise<RtpFuzzResult> {
  const [rtp, rtcp] = await bindPair()
  const stranger = dgram.createSocket('udp4')
  await new Promise<void>((r) => stranger.bind(0, '127.0.0.1', r))
  let received = 0
  rtp.on('message', () => received++)
  rtcp.on('message', () => {})
  const call = await placeCall(o.host, o.sipPort, rtp.address().port)
  const ctx: RtpContext = { payloadType: 0, ssrc: 0x1234abcd, seq: 1000, ts: 0 }
  const send = (s: dgram.Socket, b: Buffer, port: number) => new Promise<void>((r) => s.send(b, port, o.host, () => r()))
  // latch: half a second of the caller's own valid stream first
  for (let k = 0; k < 25; k++) {
    await send(rtp, validRtp(ctx), call.remoteRtp)
    await new Promise((r) => setTimeout(r, 20))
  }
  const result: RtpFuzzResult = { sent: 0, kinds: {}, receivedDuring: 0, receivedAfter: 0, byeStatus: 'timeout' }
  const t0 = Date.now()
  const before = received
  for (let i = 0; i < o.count; i++) {
    const rng = Prng.forCase(o.seed, i)
    const p = rtpCase(ctx, rng)
    const from = rng.chance(0.8) ? (p.to === 'rtp' ? rtp : rtcp) : stranger
    await send(from, p.bytes, p.to === 'rtp' ? call.remoteRtp : call.remoteRtp + 1)
    result.kinds[p.kind] = (result.kinds[p.kind] ?? 0) + 1
    result.sent++
    // the caller's real stream goes on every 20 ms in between
    if (i % 20 === 0) await send(rtp, validRtp(ctx), call.remoteRtp)
    const due = t0 + ((i + 1) * 1000) / o.rate
    if (Date.now() < due) await new Promise((r) => setTimeout(r, due - Date.now()))
  }
  result.receivedDuring = received - before
  const mark = received
  await new Promise((r) => setTimeout(r, 1000))
  result.receivedAfter = received - mark
  result.byeStatus = await call.bye()
  rtp.close()
  rtcp.close()
  stranger.close()
  return result
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sip: { type: 'string', default: '127.0.0.1:5060' },
      seed: { type: 'string', default: '1' },
      count: { type: 'string', default: '10000' },
      rate: { type: 'string', default: '1000' },
    },
  })
  const [host, port] = values.sip.split(':')
  const r = await runRtpFuzz({ host, sipPort: Number(port), seed: Number(values.seed), count: Number(values.count), rate: Number(values.rate) })
  console.log(JSON.stringify(r))
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err) => {
    console.error(err)
    process.exit(1)
  })
}
