/** Vowel-like test audio: harmonics of a gliding 140 Hz voice under a 3 Hz syllable envelope,
 *  band-limited to the rate. Deterministic, so codec figures compare from run to run. */
export function speechLike(rate: number, seconds: number): Int16Array {
  const s = new Int16Array(Math.round(rate * seconds))
  let phase = 0
  for (let i = 0; i < s.length; i++) {
    const time = i / rate
    phase += (2 * Math.PI * (140 + 30 * Math.sin(2 * Math.PI * 0.8 * time))) / rate
    const env = 0.55 + 0.45 * Math.sin(2 * Math.PI * 3 * time)
    let v = 0
    for (let h = 1; h <= 20 && 170 * h < rate / 2; h++) v += Math.sin(h * phase) / h
    s[i] = Math.round(6000 * env * v)
  }
  return s
}
