// Synthetic line audio for the AMD set and its tests: silence, tones, seeded noise, mixing.

export const CLIP_RATE = 8000

export function silence(ms: number, rate = CLIP_RATE): Int16Array {
  return new Int16Array(Math.round((rate * ms) / 1000))
}

/** A sum of sines (one for a beep, two for DTMF), each of peak `amplitude`, with 5 ms ramps. */
export function tones(freqs: number[], ms: number, amplitude: number, rate = CLIP_RATE): Int16Array {
  const n = Math.round((rate * ms) / 1000)
  const ramp = Math.round(rate * 0.005)
  const out = new Int16Array(n)
  for (let i = 0; i < n; i++) {
    const gain = Math.min(1, i / ramp, (n - 1 - i) / ramp)
    const s = freqs.reduce((sum, f) => sum + Math.sin((2 * Math.PI * f * i) / rate), 0)
    out[i] = Math.round(amplitude * gain * s)
  }
  return out
}

/** White noise at `dbfs` (rms), from a fixed-seed generator so a set is the same on every run. */
export function noise(n: number, dbfs: number, seed: number): Int16Array {
  const out = new Int16Array(n)
  const amp = 32768 * 10 ** (dbfs / 20) * Math.sqrt(3) // uniform: rms = amp / sqrt(3)
  let x = seed >>> 0
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0
    out[i] = Math.round(((x / 2 ** 32) * 2 - 1) * amp)
  }
  return out
}

export function concat(...parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** a + b, clipped, a's length. */
export function mix(a: Int16Array, b: Int16Array): Int16Array {
  const out = new Int16Array(a.length)
  for (let i = 0; i < a.length; i++) out[i] = Math.max(-32768, Math.min(32767, a[i] + (b[i] ?? 0)))
  return out
}

/** Exactly `ms` long: cut, or padded with silence. */
export function fit(pcm: Int16Array, ms: number, rate = CLIP_RATE): Int16Array {
  const out = silence(ms, rate)
  out.set(pcm.subarray(0, out.length))
  return out
}
