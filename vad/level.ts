/** RMS level in dBFS of samples whose full scale is `fullScale` (1 for float, 32768 for 16-bit). */
export function levelDb(samples: ArrayLike<number>, fullScale = 1): number {
  let sum = 0
  for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i]
  return energyDb(sum, samples.length, fullScale)
}

/** The same level from a running sum of squares over `count` samples (-120 for silence). */
export function energyDb(sumSq: number, count: number, fullScale = 1): number {
  const rms = Math.sqrt(sumSq / Math.max(1, count))
  return rms > 0 ? 20 * Math.log10(rms / fullScale) : -120
}
