// Child process of the media bench: plays N callers (a steady tone, or BENCH_CALLER=talk: speech
// half the time), each sending one 20 ms packet of the bench codec every 20 ms to its server port, with network impairment (loss, reordering,
// jitter), and counting what comes back. Runs apart from the server process so that its
// CPU does not count as the server's.
import dgram from 'node:dgram'
import { createCodec, type CodecName } from '../../codecs/index.ts'
import { resample } from '../../codecs/resample.ts'
import { writeRtpHeader } from '../../rtp/packet.ts'
import { EspeakTts } from '../../providers/tts/espeak-engine.ts'

const [portsArg, secondsArg, codecName, impairArg, callerMode = 'tone'] = process.argv.slice(2)
const ports = portsArg.split(',').map(Number)
const seconds = Number(secondsArg)
const [lossPct, reorderPct, jitterMs] = impairArg.split(',').map(Number)
const codec = createCodec(codecName as CodecName)
const payloadType = codecName === 'PCMU' ? 0 : codecName === 'PCMA' ? 8 : codecName === 'G722' ? 9 : 111
const tsPerPacket = (codec.clockRate * 20) / 1000

const frameSamples = (codec.sampleRate * 20) / 1000
const encodeFrames = (pcm: Int16Array): Uint8Array[] => {
  const out: Uint8Array[] = []
  const buf = new Uint8Array(1500)
  for (let i = 0; i + frameSamples <= pcm.length; i += frameSamples) out.push(buf.slice(0, codec.encode(pcm.subarray(i, i + frameSamples), buf)))
  return out
}
// 'tone': every packet a 20 ms frame of a 440 Hz tone, so every VAD window is voiced (the worst
// case). 'talk': a caller who talks half the time: 3 s of speech (eSpeak, looped), then 3 s of
// idle line noise at -70 dBFS; each caller starts at its own point of the cycle.
const frames =
  callerMode === 'talk'
    ? await (async () => {
        const tts = new EspeakTts()
        const s = await tts.synthesize('Здравствуйте, меня зовут Иван Петров, компания Ромашка, нам нужна телефония на пятьдесят сотрудников.', 'ru')
        tts.close()
        const speech = resample(s.pcm, s.sampleRate, codec.sampleRate)
        const cycle = new Int16Array(codec.sampleRate * 6)
        for (let i = 0; i < cycle.length / 2; i++) cycle[i] = speech[i % speech.length]
        for (let i = cycle.length / 2; i < cycle.length; i++) cycle[i] = Math.round((Math.random() - 0.5) * 2 * 18)
        return encodeFrames(cycle)
      })()
    : encodeFrames(Int16Array.from({ length: frameSamples }, (_, i) => Math.round(6000 * Math.sin((2 * Math.PI * 440 * i) / codec.sampleRate))))

const socket = dgram.createSocket('udp4')
let received = 0
let sent = 0
socket.on('message', () => received++)
await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r))
const packets = ports.map((_, i) => ({ ssrc: 0x1000 + i, phase: Math.floor((i * frames.length) / ports.length) }))
process.send?.({ ready: true, port: socket.address().port })

// Impairment on a 5 ms grid: each packet waits 0..jitterMs; some are held one packet time
// longer (reordered); some are never sent (lost).
const SLOT_MS = 5
const slots: Array<Array<[Buffer, number]>> = Array.from({ length: Math.ceil((jitterMs + 40) / SLOT_MS) + 1 }, () => [])
let slotIndex = 0
const start = performance.now()
let tick = 0
await new Promise<void>((done) => {
  const step = () => {
    const elapsed = performance.now() - start
    const dueTick = Math.floor(elapsed / 20)
    while (tick <= dueTick) {
      for (let i = 0; i < ports.length; i++) {
        if (Math.random() * 100 < lossPct) continue
        const p = packets[i]
        const payload = frames[(p.phase + tick) % frames.length]
        const b = Buffer.alloc(12 + payload.length)
        b.set(payload, 12)
        writeRtpHeader(b, { marker: tick === 0, payloadType, sequenceNumber: tick & 0xffff, timestamp: (tick * tsPerPacket) >>> 0, ssrc: p.ssrc })
        let delay = Math.random() * jitterMs
        if (Math.random() * 100 < reorderPct) delay += 25
        slots[(slotIndex + Math.round(delay / SLOT_MS)) % slots.length].push([b, ports[i]])
      }
      tick++
    }
    for (const [b, port] of slots[slotIndex]) {
      socket.send(b, port, '127.0.0.1')
      sent++
    }
    slots[slotIndex] = []
    slotIndex = (slotIndex + 1) % slots.length
    if (elapsed >= seconds * 1000) return done()
    setTimeout(step, SLOT_MS)
  }
  step()
})
await new Promise((r) => setTimeout(r, 300))
process.send?.({ sent, received, expected: tick * ports.length })
socket.close()
