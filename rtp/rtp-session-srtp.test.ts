// RtpSession with SDES keys over real loopback UDP: what leaves is SRTP the peer can decrypt,
// what arrives is authenticated first; forged, replayed and plain packets are counted and dropped.
import dgram from 'node:dgram'
import { once } from 'node:events'
import pino from 'pino'
import t from 'tap'
import { PcmuCodec } from '../codecs/pcmu.ts'
import { writeRtpHeader } from './packet.ts'
import { RtpPortPool } from './port-pool.ts'
import { RtpCounters } from './rtp-metrics.ts'
import { RtpSession } from './rtp-session.ts'
import { newMasterKey } from './srtp/sdes.ts'
import { SrtcpSender } from './srtp/srtcp-transform.ts'
import { SrtpReceiver, SrtpSender } from './srtp/srtp-transform.ts'

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms))

t.test('an SRTP session', async (t) => {
  const suite = 'AES_CM_128_HMAC_SHA1_80' as const
  const keying = { suite, local: newMasterKey(suite), remote: newMasterKey(suite) }
  const pool = new RtpPortPool(35020, 35029, '127.0.0.1')
  const ports = (await pool.allocate())!
  const caller = dgram.createSocket('udp4')
  await new Promise<void>((r) => caller.bind(0, '127.0.0.1', r))
  const metrics = new RtpCounters()
  const session = new RtpSession({
    ports,
    codec: new PcmuCodec(),
    payloadType: 0,
    remote: { address: '127.0.0.1', port: caller.address().port, rtcpPort: caller.address().port + 1 },
    rtcpMux: false,
    signallingAddress: '127.0.0.1',
    ptimeMs: 20,
    clockPeriodMs: 20,
    jitter: { initialDelayMs: 40, maxDelayMs: 200 },
    cname: 'srtp@127.0.0.1',
    srtp: keying,
    metrics,
    logger: pino({ level: 'silent' }),
  })
  t.teardown(() => {
    session.close()
    caller.close()
    pool.release(ports)
  })

  await t.test('outgoing packets are SRTP under our key, with the 80-bit tag', async (t) => {
    session.play(new Int16Array(16000 / 50).fill(8000)) // one packet of audio
    const got = once(caller, 'message')
    session.onTick(0)
    const [srtp] = (await got) as [Buffer]
    t.equal(srtp.length, 12 + 160 + 10)
    const plain = new SrtpReceiver(suite, Buffer.from(keying.local, 'base64')).unprotect(Buffer.from(srtp))
    if (typeof plain === 'string') throw new Error(plain)
    t.equal(plain[1] & 0x7f, 0, 'PCMU')
    t.ok(
      plain.subarray(12).some((b) => b !== 0xff),
      'the audio, not mu-law silence',
    )
    t.not(srtp.subarray(12, 172).toString('hex'), plain.subarray(12).toString('hex'), 'encrypted on the wire')
  })

  await t.test('incoming: authenticated packets counted in, the rest dropped by reason', async (t) => {
    const sender = new SrtpSender(suite, Buffer.from(keying.remote, 'base64'))
    const packet = (seq: number) => {
      const b = Buffer.alloc(12 + 160 + 10)
      writeRtpHeader(b, { marker: false, payloadType: 0, sequenceNumber: seq, timestamp: seq * 160, ssrc: 0xabc })
      b.fill(0x55, 12, 172)
      return b.subarray(0, sender.protect(b, 172))
    }
    const send = (b: Buffer) => caller.send(b, ports.port, '127.0.0.1')
    const first = packet(100)
    send(first)
    send(packet(101))
    const forged = Buffer.from(packet(102))
    forged[20] ^= 1
    send(forged)
    send(first) // a replay
    const plain = Buffer.alloc(172)
    writeRtpHeader(plain, { marker: false, payloadType: 0, sequenceNumber: 103, timestamp: 0, ssrc: 0xabc })
    send(plain)
    await wait(100)
    t.equal(session.stats.packetsIn, 2)
    t.same(metrics.dropped, { 'srtp-auth': 2, 'srtp-replay': 1 })
  })

  await t.test('SRTCP in: authenticated reports read, a plain one dropped', async (t) => {
    const rr = Buffer.from('81c90007' + '00000abc' + '00000001' + '00000000' + '00000000' + '00000000' + '00000000' + '00000000', 'hex')
    const srtcp = new SrtcpSender(suite, Buffer.from(keying.remote, 'base64'))
    caller.send(srtcp.protect(rr), ports.port + 1, '127.0.0.1')
    const plain = Buffer.from(rr)
    plain.writeUInt32BE(0x1234, 16) // where SRTCP would have its index: not index 0 again, so not a replay
    caller.send(plain, ports.port + 1, '127.0.0.1')
    await wait(100)
    t.equal(session.stats.rtcpIn, 1)
    t.equal(metrics.dropped['srtcp-auth'], 1)
  })
})
