// Child process of the media bench: plays N callers, each sending one 20 ms PCMU packet
// every 20 ms to its server port and counting what comes back. Runs apart from the server
// process so that its CPU does not count as the server's.
import dgram from 'node:dgram'
import { writeRtpHeader } from '../../media-server/rtp/packet.ts'

const [portsArg, secondsArg] = process.argv.slice(2)
const ports = portsArg.split(',').map(Number)
const seconds = Number(secondsArg)
const socket = dgram.createSocket('udp4')
let received = 0
let sent = 0
socket.on('message', () => received++)
await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r))
const packets = ports.map((_, i) => {
  const b = Buffer.alloc(172, 0xff)
  writeRtpHeader(b, { marker: false, payloadType: 0, sequenceNumber: 0, timestamp: 0, ssrc: 0x1000 + i })
  return b
})
process.send?.({ ready: true, port: socket.address().port })
const start = performance.now()
let tick = 0
await new Promise<void>((done) => {
  const step = () => {
    tick++
    for (let i = 0; i < ports.length; i++) {
      const b = packets[i]
      b.writeUInt16BE(tick & 0xffff, 2)
      b.writeUInt32BE((tick * 160) >>> 0, 4)
      socket.send(b, ports[i], '127.0.0.1')
      sent++
    }
    if (performance.now() - start >= seconds * 1000) return done()
    setTimeout(step, Math.max(0, start + (tick + 1) * 20 - performance.now()))
  }
  step()
})
await new Promise((r) => setTimeout(r, 300))
process.send?.({ sent, received })
socket.close()
