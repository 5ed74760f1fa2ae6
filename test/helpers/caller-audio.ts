import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pino from 'pino'
import { Registry } from 'prom-client'
import { G722Codec } from '../../codecs/g722.ts'
import { PcmuCodec } from '../../codecs/pcmu.ts'
import { resample } from '../../codecs/resample.ts'
import { encodeWavCoded } from '../../codecs/wav.ts'
import { loadScenarioFile } from '../../dialog/scenario/loader.ts'
import { ScenarioPrompts } from '../../media-server/call/scenario-prompts.ts'
import { loadConfig } from '../../media-server/config.ts'
import type { Lang } from '../../dialog/lang.ts'
import { createProviders } from '../../media-server/provider-factories.ts'
import { EspeakTts } from '../../providers/tts/espeak-engine.ts'
import { TEST_PROMPT_CACHE } from './server-process.ts'

/** The scenario the scripted callers answer: three questions with short prompts (SCENARIO_DIR). */
export const THREE_QUESTIONS_DIR = fileURLToPath(new URL('../fixtures/scenarios/three-questions/', import.meta.url))

export interface CallerScript {
  /** Path of the 8 kHz mu-law WAV for SIPp's rtp_stream. */
  wav: string
  /** When each answer starts, in seconds from the ACK. */
  answersAt: number[]
  /** Length of the greeting in seconds. */
  greetingSeconds: number
  totalSeconds: number
}

const ANSWERS: Record<Lang, string[]> = {
  ru: ['Иван Петров', 'Нам нужна система для отдела продаж', 'восемь девять один шесть один два три четыре пять шесть семь'],
  en: ['John Smith', 'We need a system for our sales team', 'five five five one two three four'],
}

/**
 * Builds the caller's side of a call to the three-questions scenario as one WAV: silence while
 * each question plays, then the spoken answer. The questions are synthesised the way the server
 * does it (the default TTS chain, into the test servers' shared prompt cache), so their lengths
 * are the server's and the server finds them ready.
 */
export async function buildCallerScript(dataDir: string, language: Lang, endSilenceMs: number, codec: 'PCMU' | 'G722' = 'PCMU'): Promise<CallerScript> {
  const espeak = new EspeakTts()
  const config = loadConfig({ DATA_DIR: dataDir, LANGUAGE: language })
  const logger = pino({ level: 'silent' })
  const providers = createProviders(config, { registry: new Registry(), logger, espeak })
  try {
    const scenario = await loadScenarioFile(path.join(THREE_QUESTIONS_DIR, 'three-questions.yaml'))
    const prompts = new ScenarioPrompts(providers.tts, TEST_PROMPT_CACHE, language, ScenarioPrompts.voiceOf(config.providers.tts, language), logger)
    await prompts.warm([scenario])
    const question = (step: string) => {
      const s = scenario.steps[step]
      const pcm = 'prompt' in s ? prompts.get(s.prompt[language] ?? '') : undefined
      if (!pcm) throw new Error(`no audio for step ${step}`)
      return resample(pcm, 16000, 8000)
    }
    const answers: Int16Array[] = []
    for (const text of ANSWERS[language]) {
      const s = await espeak.synthesize(text, language)
      answers.push(resample(s.pcm, s.sampleRate, 8000))
    }
    const rate = 8000
    const margin = 0.8
    const questions = ['greeting', 'askNeed', 'askPhone'].map(question)
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
    await Promise.allSettled([providers.tts.close(), providers.asr?.close(), providers.llm?.close()])
    await espeak.close()
  }
}
