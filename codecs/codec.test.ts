import t from 'tap'
import { speechLike } from '../test/helpers/speech-like.ts'
import { createCodec, type CodecName } from './index.ts'
import { PcmaCodec } from './pcma.ts'
import { PcmuCodec } from './pcmu.ts'

// Static assignments from RFC 3551 section 6 (Table 4): PCMU and PCMA are 8000 Hz audio.
t.test('createCodec returns the G.711 codecs by SDP name', async (t) => {
  const u = createCodec('PCMU')
  const a = createCodec('PCMA')
  t.ok(u instanceof PcmuCodec)
  t.ok(a instanceof PcmaCodec)
  t.same([u.name, u.clockRate, u.sampleRate], ['PCMU', 8000, 8000])
  t.same([a.name, a.clockRate, a.sampleRate], ['PCMA', 8000, 8000])
  t.throws(() => createCodec('G729' as 'PCMU'), /unsupported codec: G729/)
})

t.test('PCMU and PCMA encode/decode whole frames into caller buffers', async (t) => {
  // Reference codes (Sun/CCITT g711.c, see g711.test.ts): 0 -> 0xff/0xd5, 1000 -> 0xce/0xfa,
  // -1000 -> 0x4e/0x7a, 32767 -> 0x80/0xaa.
  const pcm = Int16Array.from([0, 1000, -1000, 32767])
  const bytes = new Uint8Array(160)
  const back = new Int16Array(160)

  const u = new PcmuCodec()
  t.equal(u.encode(pcm, bytes), 4)
  t.same([...bytes.subarray(0, 4)], [0xff, 0xce, 0x4e, 0x80])
  t.equal(u.decode(bytes.subarray(0, 4), back), 4)
  t.same([...back.subarray(0, 4)], [0, 988, -988, 32124])

  const a = new PcmaCodec()
  t.equal(a.encode(pcm, bytes), 4)
  t.same([...bytes.subarray(0, 4)], [0xd5, 0xfa, 0x7a, 0xaa])
  t.equal(a.decode(bytes.subarray(0, 4), back), 4)
  t.same([...back.subarray(0, 4)], [8, 1008, -1008, 32256])
})

t.test('a 20 ms frame round-trips within G.711 precision', async (t) => {
  const pcm = new Int16Array(160)
  for (let i = 0; i < 160; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * 1000 * i) / 8000))
  for (const codec of [new PcmuCodec(), new PcmaCodec()]) {
    const bytes = new Uint8Array(160)
    const back = new Int16Array(160)
    codec.decode(bytes.subarray(0, codec.encode(pcm, bytes)), back)
    let worst = 0
    for (let i = 0; i < 160; i++) worst = Math.max(worst, Math.abs(back[i] - pcm[i]))
    // Quantization steps below |8000| are at most 256 for both laws (segment 5, 16-bit units).
    t.ok(worst <= 256, `${codec.name} worst error ${worst}`)
  }
})

t.test('undersized output buffers are rejected, not truncated', async (t) => {
  t.throws(() => new PcmuCodec().decode(new Uint8Array(160), new Int16Array(80)), RangeError)
  t.throws(() => new PcmaCodec().encode(new Int16Array(160), new Uint8Array(159)), RangeError)
})

// The RTP session encodes a packet ahead of its send and drops it on barge-in: the stream the
// far end decodes must then be the one an encoder that never saw the dropped audio would send.
for (const name of ['PCMU', 'PCMA', 'G722', 'opus'] as CodecName[]) {
  t.test(`${name}: restoreEncoder() takes a packet back bit-exactly`, async (t) => {
    const frames = (codec: ReturnType<typeof createCodec>, signal: Int16Array, n: number) =>
      Array.from({ length: n }, (_, k) => signal.subarray((k * codec.sampleRate) / 50, ((k + 1) * codec.sampleRate) / 50))
    const make = () => createCodec(name)
    const probe = make()
    const speech = frames(probe, speechLike(probe.sampleRate, 1), 50)
    const dropped = speech[20]
    const kept = [...speech.slice(0, 20), ...speech.slice(21)]
    const encodeAll = (codec: ReturnType<typeof createCodec>, input: Int16Array[], dropAt: number) => {
      const out: string[] = []
      const buf = new Uint8Array(1500)
      input.forEach((f, k) => {
        if (k === dropAt) {
          codec.saveEncoder()
          codec.encode(dropped, buf)
          codec.restoreEncoder()
        }
        codec.saveEncoder() // as the session does before every packet
        out.push(Buffer.from(buf.subarray(0, codec.encode(f, buf))).toString('hex'))
      })
      return out
    }
    const reference = encodeAll(make(), kept, -1)
    const rewound = encodeAll(make(), kept, 20)
    t.equal(rewound.filter((p, k) => p !== reference[k]).length, 0, 'every packet identical to a stream that never had the dropped frame')
  })
}
