// What one Opus encode costs, by encoder complexity and input rate, and what the complexity
// does to the decoded audio (spectral SNR against the input, test/helpers/spectral-snr.ts):
//
//   node --import tsx test/bench/opus-encode.ts
//
// Settings are the media server's (codecs/opus.ts defaults: VoIP, 32 kbit/s, wideband at most,
// in-band FEC at 5% expected loss); only complexity and the PCM rate change. The RTP clock is
// 48 kHz either way, so the input rate is a local choice the far end never sees.

import { OpusCodec, type OpusSampleRate } from '../../codecs/opus.ts'
import { resample } from '../../codecs/resample.ts'
import { EspeakTts } from '../../providers/tts/espeak-engine.ts'
import { speechLike } from '../helpers/speech-like.ts'
import { spectralSnrDb } from '../helpers/spectral-snr.ts'

const SECONDS = Number(process.env.OPUS_BENCH_SECONDS ?? 20)
const ROUNDS = 3 // best of, so that another process's burst on a shared machine does not count

function measure(rate: OpusSampleRate, complexity: number, signal: Int16Array) {
  const frame = rate / 50
  const frames = Math.floor(signal.length / frame)
  const packet = new Uint8Array(1500)
  let best = Infinity
  let bytes = 0
  let decoded = new Int16Array(0)
  for (let round = 0; round < ROUNDS; round++) {
    const enc = new OpusCodec({ sampleRate: rate, complexity })
    const dec = new OpusCodec({ sampleRate: rate })
    const out = new Int16Array(signal.length)
    let encodeNs = 0n
    bytes = 0
    for (let k = 0; k < frames; k++) {
      const t0 = process.hrtime.bigint()
      const n = enc.encode(signal.subarray(k * frame, (k + 1) * frame), packet)
      encodeNs += process.hrtime.bigint() - t0
      bytes += n
      dec.decode(packet.subarray(0, n), out.subarray(k * frame, (k + 1) * frame))
    }
    best = Math.min(best, Number(encodeNs) / 1000 / frames)
    decoded = out
  }
  // 6.5 ms: the encoder's look-ahead (codecs/opus.test.ts measures it).
  const snr = spectralSnrDb(signal, decoded, rate, Math.round(rate * 0.0065), rate / 4)
  return { us: best, kbps: (bytes * 8) / (frames * 20), snr }
}

const tts = new EspeakTts()
const spoken = await tts.synthesize(
  'Здравствуйте! Меня зовут Анна, я помощник отдела продаж. Скажите, пожалуйста, как называется ваша компания и сколько у вас сотрудников?',
  'ru',
)
tts.close()

console.log(`Opus encode, 20 ms mono frames, ${SECONDS} s of the vowel per measurement, best of ${ROUNDS}:`)
console.log('rate   complexity  encode us/frame  % of a core per call  kbit/s  spectral SNR dB (vowel, eSpeak)')
for (const rate of [16000, 48000] as OpusSampleRate[]) {
  const vowel = speechLike(rate, SECONDS)
  const speech = resample(spoken.pcm, spoken.sampleRate, rate)
  for (let complexity = 0; complexity <= 10; complexity++) {
    const m = measure(rate, complexity, vowel)
    const s = measure(rate, complexity, speech)
    console.log(
      `${String(rate / 1000).padStart(2)} kHz ${String(complexity).padStart(6)} ${m.us.toFixed(1).padStart(16)} ${((m.us / 20000) * 100).toFixed(2).padStart(20)} ${m.kbps.toFixed(1).padStart(9)} ${m.snr.toFixed(1).padStart(7)} ${s.snr.toFixed(1).padStart(7)}`,
    )
  }
}
