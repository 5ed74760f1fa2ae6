import { writeFileSync } from 'node:fs'
import path from 'node:path'
import pino from 'pino'
import { G722Codec } from '../../codecs/g722.ts'
import { PcmuCodec } from '../../codecs/pcmu.ts'
import { resample } from '../../codecs/resample.ts'
import { encodeWavCoded } from '../../codecs/wav.ts'
import { PromptLibrary } from '../../media-server/call/prompt-library.ts'
import { EspeakTts } from '../../media-server/tts/espeak.ts'
import { PromptCache } from '../../media-server/tts/prompt-cache.ts'
import type { Language } from '../../media-server/config.ts'

export interface CallerScript {
  /** Path of the 8 kHz mu-law WAV for SIPp's rtp_stream. */
  wav: string
  /** When each answer starts, in seconds from the ACK. */
  answersAt: number[]
  /** Length of the greeting in seconds. */
  greetingSeconds: number
  totalSeconds: number
}

const ANSWERS: Record<Language, string[]> = {
  ru: ['Иван Петров', 'Нам нужна система для отдела продаж', 'восемь девять один шесть один два три четыре пять шесть семь'],
  en: ['John Smith', 'We need a system for our sales team', 'five five five one two three four'],
}

/**
 * Builds the caller's side of a call as one WAV: silence while each prompt plays, then
 * the spoken answer. Prompt lengths come from the same prompt cache the server uses
 * (DATA_DIR/prompts), so the test also warms the server's cache.
 */
export async function buildCallerScript(dataDir: string, language: Language, endSilenceMs: number, codec: 'PCMU' | 'G722' = 'PCMU'): Promise<CallerScript> {
  const tts = new EspeakTts()
  try {
    const prompts = new PromptLibrary(new PromptCache(tts, path.join(dataDir, 'prompts')), language, 8000)
    await prompts.warm(pino({ level: 'silent' }))
    const answers: Int16Array[] = []
    for (const text of ANSWERS[language]) {
      const s = await tts.synthesize(text, language)
      answers.push(resample(s.pcm, s.sampleRate, 8000))
    }
    const rate = 8000
    const margin = 0.8
    const questions = [prompts.get('greeting'), prompts.get('askNeed'), prompts.get('askPhone')]
    const answersAt: number[] = []
    let cursor = 0.04 // the first clock tick after the ACK
    for (let i = 0; i < questions.length; i++) {
      cursor += questions[i].length / rate + margin
      answersAt.push(cursor)
      cursor += answers[i].length / rate + endSilenceMs / 1000 + 0.05
    }
    const totalSeconds = cursor + 1
    const pcm = new Int16Array(Math.ceil(totalSeconds * rate))
    answersAt.forEach((at, i) => pcm.set(answers[i], Math.round(at * rate)))
    const wav = path.join(dataDir, `caller-${language}-${codec}.wav`)
    if (codec === 'PCMU') {
      const ulaw = new Uint8Array(pcm.length)
      new PcmuCodec().encode(pcm, ulaw)
      writeFileSync(wav, encodeWavCoded(ulaw, 'ulaw'))
    } else {
      // The same answers, wideband: 16 kHz audio in G.722's 4 bits a sample.
      const wide = resample(pcm, 8000, 16000)
      const g722 = new Uint8Array(wide.length / 2 + 1)
      const n = new G722Codec().encode(wide.subarray(0, wide.length & ~1), g722)
      writeFileSync(wav, encodeWavCoded(g722.subarray(0, n), 'g722'))
    }
    return { wav, answersAt, greetingSeconds: questions[0].length / rate, totalSeconds }
  } finally {
    await tts.close()
  }
}
