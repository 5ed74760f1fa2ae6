import { goertzelCoef, goertzelPower } from '../../codecs/goertzel.ts'
import type { WavData } from '../../codecs/wav.ts'

/** Goertzel amplitude estimate of `freq` in `x` (same scale as a sine's peak amplitude). */
export function toneAmplitude(x: Int16Array, freq: number, rate: number): number {
  const power = goertzelPower(x, goertzelCoef(freq, rate))
  return (2 * Math.sqrt(Math.max(power, 0))) / x.length
}

/** Share of 20 ms frames (of channel `ch`) louder than -40 dBFS: prompts, not silence or noise. */
export function loudShare(w: WavData, ch = 0): number {
  const frame = (w.sampleRate / 50) * w.channels
  let loud = 0
  let frames = 0
  for (let i = 0; i + frame <= w.samples.length; i += frame, frames++) {
    let sum = 0
    for (let j = i + ch; j < i + frame; j += w.channels) sum += w.samples[j] ** 2
    if (Math.sqrt(sum / (frame / w.channels)) > 328) loud++
  }
  return frames ? loud / frames : 0
}

export function channel(w: WavData, ch: number): Int16Array {
  return w.samples.filter((_, i) => i % w.channels === ch)
}
