import { createHash } from 'node:crypto'
import t from 'tap'
import { G722Codec } from './g722.ts'
import { createCodec } from './index.ts'

const RATE = 16000

/** Encodes and decodes `signal` in 20 ms frames through one encoder and one decoder. */
function roundTrip(signal: Int16Array): { out: Int16Array; bytesPerFrame: number[] } {
  const enc = new G722Codec()
  const dec = new G722Codec()
  const out = new Int16Array(signal.length)
  const payload = new Uint8Array(160)
  const frame = new Int16Array(320)
  const bytesPerFrame: number[] = []
  for (let f = 0; f + 320 <= signal.length; f += 320) {
    const n = enc.encode(signal.subarray(f, f + 320), payload)
    bytesPerFrame.push(n)
    const m = dec.decode(payload.subarray(0, n), frame)
    out.set(frame.subarray(0, m), f)
  }
  return { out, bytesPerFrame }
}

/** Lag (0..maxLag) of `out` behind `ref` with the largest cross-correlation. */
function delayOf(ref: Int16Array, out: Int16Array, maxLag: number): number {
  let best = -Infinity
  let lag = 0
  for (let d = 0; d <= maxLag; d++) {
    let s = 0
    for (let i = 0; i + d < out.length; i++) s += ref[i] * out[i + d]
    if (s > best) {
      best = s
      lag = d
    }
  }
  return lag
}

function snrDb(ref: Int16Array, out: Int16Array, delay: number, skip: number): number {
  let sig = 0
  let err = 0
  for (let i = skip; i + delay < out.length; i++) {
    sig += ref[i] ** 2
    err += (ref[i] - out[i + delay]) ** 2
  }
  return 10 * Math.log10(sig / err)
}

function tone(freq: number, amplitude: number, samples: number): Int16Array {
  const s = new Int16Array(samples)
  for (let i = 0; i < samples; i++) s[i] = Math.round(amplitude * Math.sin((2 * Math.PI * freq * i) / RATE))
  return s
}

/** Vowel-like: 12 harmonics of a 140 Hz voice falling off as 1/h, under a 3 Hz syllable envelope. */
function speechLike(samples: number): Int16Array {
  const s = new Int16Array(samples)
  for (let i = 0; i < samples; i++) {
    const t = i / RATE
    const env = 0.55 + 0.45 * Math.sin(2 * Math.PI * 3 * t)
    let v = 0
    for (let h = 1; h <= 12; h++) v += Math.sin(2 * Math.PI * 140 * h * t + h) / h
    s[i] = Math.round(7000 * env * v)
  }
  return s
}

// The codec delay: the two 24-tap QMFs (analysis and synthesis); the ADPCM adds none.
// Found on the speech-like signal, whose envelope makes the correlation peak unambiguous;
// pure tones correlate equally well one period later.
const speech = speechLike(RATE)
const speechOut = roundTrip(speech).out
const DELAY = delayOf(speech, speechOut, 64)

t.test('codec delay is the QMF pair delay', async (t) => {
  t.equal(DELAY, 22)
})

t.test('speech-like signal survives with SNR above 20 dB', async (t) => {
  const snr = snrDb(speech, speechOut, DELAY, 800)
  t.ok(snr > 20, `SNR ${snr.toFixed(1)} dB`)
})

t.test('1 kHz tone: SNR above 20 dB', async (t) => {
  const s = tone(1000, 10000, RATE)
  const snr = snrDb(s, roundTrip(s).out, DELAY, 800)
  t.ok(snr > 20, `SNR ${snr.toFixed(1)} dB`)
})

t.test('6 kHz tone survives: the upper band carries it (wideband)', async (t) => {
  const s = tone(6000, 8000, RATE)
  const snr = snrDb(s, roundTrip(s).out, DELAY, 800)
  t.ok(snr > 15, `SNR ${snr.toFixed(1)} dB`)
})

t.test('silence stays near silence', async (t) => {
  const { out } = roundTrip(new Int16Array(RATE))
  let peak = 0
  for (const v of out) peak = Math.max(peak, Math.abs(v))
  t.ok(peak <= 16, `peak ${peak}`)
})

t.test('320 samples (20 ms) make 160 bytes; 160 bytes decode to 320 samples', async (t) => {
  const { bytesPerFrame } = roundTrip(tone(440, 5000, 3200))
  t.same(bytesPerFrame, new Array(10).fill(160))
  const c = new G722Codec()
  t.equal(c.decode(new Uint8Array(160), new Int16Array(320)), 320)
  t.equal(c.name, 'G722')
  t.equal(c.clockRate, 8000)
  t.equal(c.sampleRate, 16000)
})

t.test('rejects odd sample counts and short output buffers', async (t) => {
  const c = new G722Codec()
  t.throws(() => c.encode(new Int16Array(321), new Uint8Array(200)), RangeError)
  t.throws(() => c.encode(new Int16Array(320), new Uint8Array(159)), RangeError)
  t.throws(() => c.decode(new Uint8Array(160), new Int16Array(319)), RangeError)
})

t.test('full-scale input does not wrap around', async (t) => {
  const s = tone(500, 32767, 3200)
  const snr = snrDb(s, roundTrip(s).out, DELAY, 800)
  t.ok(snr > 20, `SNR ${snr.toFixed(1)} dB`)
})

// No ITU-T G.722 test vectors are available here (none in a registry package or in
// shared/testdata). As a cross-check, the bytes below were produced by FFmpeg 5.1's G.722
// encoder (libavcodec, Debian 12) from the integer-only signal of fixtureSignal(), and the
// hash is of FFmpeg's decoding of those bytes: this codec matches both bit for bit.
function fixtureSignal(): Int16Array {
  const s = new Int16Array(1600)
  let seed = 12345
  let phase = 0
  for (let i = 0; i < s.length; i++) {
    phase = (phase + 200 + i * 3) & 0xffff // a rising triangle sweep
    const tri = phase < 32768 ? phase - 16384 : 49151 - phase
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0 // plus LCG noise
    s[i] = tri + ((seed >>> 16) & 0x1fff) - 4096
  }
  return s
}
const FFMPEG_BYTES =
  '2c842084208404868888898a8b8f8e131b93985a0d959b15ba9d9b7f5a1c7a581dbe755d30b1ae32766f33f7ec2aae723272ed33ee7333df5971ee70bef87dfd1f75d4ef1a96fd995e59cff95791d9d6988c5078d83ad958b111387ffeb67779de7328bb756b2c7eabb4fa1af0dc3c7875de1a58975dd1905bd2144e6f537713fe37bcbd6cd7ed3ff5f66a5eef1c75734eb8fab515ff4ff351969c915ebe56f87b3adbb3777bfc66bffde513b17adc567bd9bf90eed1135d5ffc1e76f5d4f8b5b173ed3359bef1999833d958cdff3e8e59f1de1aef7f3d2dfc7c63553d7c53add9d97cda968f386dde7d583039b13a6e6c53fe7ed8399afdc978d49c9e6dfbf75f6b9f322e17de5f5dd41ffac95dbeb25f343b356ef1ecce3455769598d37e575f2adf79b0b6bc69fcd75af65355794d58b86abd7c316ebbfdef8d5a7a591613566b7b38bd73b1b472dd5652de569a9cd46f5869f719279e5d4e7b587e5311adbc735dac70347c50d8d97b564a2ef83234fdb2abd55a5cd2bdd916b7f6fbb3736b5b5e185ad26fcd1c6f3fb4b72fdd3f517dda584d2f7efb77ea3bbed5de167248fa33ddeb9d77765e3c91d3db76fb9f73af6916f81cd359d4d86a1c336eb41cd699fc0d7efcb35b2c2d7454d11e7d907bdd322ef1da76135a7f557d9e70716af28b72984e7a75ba3969f85b5a790ebf96b96ebce9db5bbedb8f55689a73f5b656b3d2d0522cf4f433f153fa99501bb05fee3477985a3e0d5c71b9f66ebf5a54d19edf797170b2907c57923a7a76f4aa537bd9121674fe6f7595f1d8174c6b54ec6c551f3f145e7e39b9a6fd525e7b5437389f24de18da55f6efdf72739cb2d1d55b6a5cb1df96bb94ce6fd86a7210bd5ad2b2f59f67d61ffecf6e9b6f74f8fb5d8e5eb5b1f3fc1ed3b64c7b73affc781154187537f970507b980eee1929bcd73fd07875fa6d78d5bb4db9b9f86ad8d2d896319bf6ed52dad21f7977759ed77d8db9bce8df5170493d3537b457dfdbceec1a2c5b5b1798769b6aef55569a6d7879eb9d9bd2f9ef38fa5cf68bb53d736cd59dde1d7d2e72545d9236bc36f0de50d2f5395cab553f4bebd931fbdd5c4aeb71f514309c57ba6af194de95f2777cec'
const FFMPEG_DECODED_SHA256 = '3d1a4621fc3a7d1de158d36df3cf0b188ec12c9e90b9fefc7abe681f74c5de8e'

t.test('bit-exact with FFmpeg G.722 encoder and decoder', async (t) => {
  const enc = new Uint8Array(800)
  new G722Codec().encode(fixtureSignal(), enc)
  t.equal(Buffer.from(enc).toString('hex'), FFMPEG_BYTES)
  const pcm = new Int16Array(1600)
  new G722Codec().decode(Buffer.from(FFMPEG_BYTES, 'hex'), pcm)
  t.equal(createHash('sha256').update(new Uint8Array(pcm.buffer)).digest('hex'), FFMPEG_DECODED_SHA256)
})

t.test('createCodec builds it by SDP name', async (t) => {
  t.ok(createCodec('G722') instanceof G722Codec)
})
