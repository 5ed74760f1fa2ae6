/** Goertzel amplitude estimate of `freq` in `x` (same scale as a sine's peak amplitude). */
export function toneAmplitude(x: Int16Array, freq: number, rate: number): number {
  const c = 2 * Math.cos((2 * Math.PI * freq) / rate)
  let s1 = 0
  let s2 = 0
  for (let i = 0; i < x.length; i++) {
    const s0 = x[i] + c * s1 - s2
    s2 = s1
    s1 = s0
  }
  const power = s1 * s1 + s2 * s2 - c * s1 * s2
  return (2 * Math.sqrt(Math.max(power, 0))) / x.length
}
