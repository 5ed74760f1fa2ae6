/**
 * How closely `out` follows `ref` in its short-time magnitude spectrum, in dB: signal energy
 * over the energy of the magnitude difference, per Hann-windowed 20 ms frame, bins up to
 * `maxHz`, summed over the frames. Phase-blind on purpose: SILK codes speech perceptually and
 * does not keep the waveform, so a waveform SNR says little about how it sounds.
 * `lag` is the codec delay in samples (out[i + lag] matches ref[i]); `skip` leaves out the start.
 */
export function spectralSnrDb(ref: Int16Array, out: Int16Array, rate: number, lag: number, skip: number, maxHz = 8000): number {
  const n = rate / 50
  const bins = Math.floor((maxHz * n) / rate)
  const win = Float64Array.from({ length: n }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n))
  const cos = Float64Array.from({ length: n }, (_, i) => Math.cos((2 * Math.PI * i) / n))
  const sin = Float64Array.from({ length: n }, (_, i) => Math.sin((2 * Math.PI * i) / n))
  const magnitude = (x: Int16Array, at: number, k: number): number => {
    let re = 0
    let im = 0
    for (let i = 0, j = 0; i < n; i++, j = (j + k) % n) {
      const v = x[at + i] * win[i]
      re += v * cos[j]
      im -= v * sin[j]
    }
    return Math.hypot(re, im)
  }
  let signal = 0
  let error = 0
  for (let at = skip; at + n + lag <= out.length && at + n <= ref.length; at += n) {
    for (let k = 1; k <= bins; k++) {
      const a = magnitude(ref, at, k)
      const b = magnitude(out, at + lag, k)
      signal += a * a
      error += (a - b) ** 2
    }
  }
  return 10 * Math.log10(signal / error)
}
