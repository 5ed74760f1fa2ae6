// The Goertzel recurrence: the DFT power of one frequency over a block, without a whole FFT.

/** 2cos(2 pi f / fs): the recurrence's coefficient for frequency `freq` at `rate`. */
export function goertzelCoef(freq: number, rate: number): number {
  return 2 * Math.cos((2 * Math.PI * freq) / rate)
}

/**
 * |X(f)|^2 of `block` for the frequency whose coefficient is `coef`. For a sine of amplitude A
 * at that frequency it is (A N / 2)^2, so power times 2/N is the sine's energy over the block.
 */
export function goertzelPower(block: ArrayLike<number>, coef: number): number {
  let s1 = 0
  let s2 = 0
  for (let i = 0; i < block.length; i++) {
    const s = block[i] + coef * s1 - s2
    s2 = s1
    s1 = s
  }
  return s1 * s1 + s2 * s2 - coef * s1 * s2
}
