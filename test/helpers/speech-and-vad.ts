import type { Test } from 'tap'
import { resample } from '../../codecs/resample.ts'
import { EspeakTts, type Voice } from '../../providers/tts/espeak-engine.ts'
import { SileroVad } from '../../vad/silero-vad.ts'

/** eSpeak NG speech at a given rate, and a Silero model ticked by the test (not a timer); both
 *  closed when the test ends. */
export async function speechAndVad(t: Test): Promise<{ vad: SileroVad; speak: (text: string, voice: Voice, rate?: number) => Promise<Int16Array> }> {
  const tts = new EspeakTts()
  const vad = await SileroVad.load({ tickMs: 1000 })
  t.teardown(async () => {
    tts.close()
    await vad.close()
  })
  const speak = async (text: string, voice: Voice, rate = 16000) => {
    const s = await tts.synthesize(text, voice)
    return resample(s.pcm, s.sampleRate, rate)
  }
  return { vad, speak }
}
