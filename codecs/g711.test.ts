import t from 'tap'
import { alawToLinear, linearToAlaw, linearToUlaw, ulawToLinear } from './g711.ts'

// Reference values: the classic Sun Microsystems/CCITT g711.c (ulaw2linear, linear2ulaw,
// alaw2linear, linear2alaw on 16-bit samples). Values were taken from CPython's audioop module
// (ulaw2lin/lin2ulaw/alaw2lin/lin2alaw, width 2), which embeds that code. They agree with the
// ITU-T G.711 tables: mu-law decoder outputs in 14-bit units are 0, 2, ..., 8031 and A-law
// outputs in 13-bit units are 1, 3, ..., 4032 (times 4 and 8 here, for 16-bit samples).

t.test('mu-law decode matches the reference table', async (t) => {
  const pairs: Array<[number, number]> = [
    [0x00, -32124], // most negative code: -8031 * 4
    [0x0f, -16764],
    [0x10, -15996],
    [0x3c, -2364],
    [0x7e, -8],
    [0x7f, 0], // "negative zero"
    [0x80, 32124], // most positive code: 8031 * 4
    [0x8f, 16764],
    [0xce, 988],
    [0xef, 132], // first value of segment 1: 33 * 4
    [0xf0, 120], // last non-zero step of segment 0: 30 * 4
    [0xfe, 8],
    [0xff, 0],
  ]
  for (const [code, linear] of pairs) t.equal(ulawToLinear(code), linear, `ulaw 0x${code.toString(16)}`)
})

t.test('mu-law encode matches the reference', async (t) => {
  const pairs: Array<[number, number]> = [
    [0, 0xff],
    [1, 0xff],
    [-1, 0x7e], // the reference maps tiny negatives to the -8 code, not to negative zero
    [8, 0xfe],
    [-8, 0x7e],
    [16, 0xfd],
    [100, 0xf2],
    [-100, 0x72],
    [1000, 0xce],
    [-1000, 0x4e],
    [4000, 0xaf],
    [-4000, 0x2f],
    [12345, 0x97],
    [-12345, 0x17],
    [32124, 0x80],
    [32767, 0x80], // clipped to the top code
    [-32768, 0x00],
  ]
  for (const [linear, code] of pairs) t.equal(linearToUlaw(linear), code, `ulaw(${linear})`)
})

t.test('A-law decode matches the reference table', async (t) => {
  const pairs: Array<[number, number]> = [
    [0x00, -5504],
    [0x1a, -4032],
    [0x2a, -32256], // most negative code: -4032 * 8
    [0x54, -24],
    [0x55, -8], // smallest negative magnitude: -1 * 8
    [0x7a, -1008],
    [0x7f, -848],
    [0x80, 5504],
    [0xaa, 32256], // most positive code: 4032 * 8
    [0xd4, 24],
    [0xd5, 8], // smallest positive magnitude: 1 * 8 (A-law has no zero output)
    [0xfa, 1008],
    [0xff, 848],
  ]
  for (const [code, linear] of pairs) t.equal(alawToLinear(code), linear, `alaw 0x${code.toString(16)}`)
})

t.test('A-law encode matches the reference', async (t) => {
  const pairs: Array<[number, number]> = [
    [0, 0xd5],
    [1, 0xd5],
    [-1, 0x55],
    [8, 0xd5],
    [-8, 0x55],
    [16, 0xd4],
    [100, 0xd3],
    [-100, 0x53],
    [1000, 0xfa],
    [-1000, 0x7a],
    [4000, 0x9a],
    [-4000, 0x1a],
    [12345, 0xbd],
    [-12345, 0x3d],
    [32124, 0xaa],
    [32767, 0xaa],
    [-32768, 0x2a],
  ]
  for (const [linear, code] of pairs) t.equal(linearToAlaw(linear), code, `alaw(${linear})`)
})

t.test('every code survives decode then encode', async (t) => {
  let ulawBad = 0
  let alawBad = 0
  for (let b = 0; b < 256; b++) {
    // mu-law 0x7f ("negative zero") decodes to 0, which encodes as positive zero 0xff.
    const expectU = b === 0x7f ? 0xff : b
    if (linearToUlaw(ulawToLinear(b)) !== expectU) ulawBad++
    if (linearToAlaw(alawToLinear(b)) !== b) alawBad++
  }
  t.equal(ulawBad, 0, 'mu-law')
  t.equal(alawBad, 0, 'A-law')
})

t.test('decode tables are monotonic and odd-symmetric', async (t) => {
  // Sorting codes by decoded value must follow the companding order: for mu-law, codes
  // 0x00..0x7f rise from -32124 to 0 and 0xff..0x80 rise from 0 to 32124.
  for (let i = 0; i < 0x7f; i++) {
    if (!(ulawToLinear(i) < ulawToLinear(i + 1))) t.fail(`mu-law not increasing at 0x${i.toString(16)}`)
    if (!(ulawToLinear(0xff - i) < ulawToLinear(0xfe - i))) t.fail(`mu-law not increasing at 0x${(0xff - i).toString(16)}`)
  }
  let asymmetric = 0
  for (let i = 0; i < 128; i++) {
    if (ulawToLinear(i) !== -ulawToLinear(i | 0x80)) asymmetric++
    if (alawToLinear(i) !== -alawToLinear(i | 0x80)) asymmetric++
  }
  t.equal(asymmetric, 0, 'the sign bit only flips the sign')
})

t.test('quantization error is bounded by the segment step for every 16-bit input', async (t) => {
  // Step sizes per G.711 segment: mu-law 8 << seg (16-bit units), A-law 16 << max(seg - 1, 0).
  // Within the clip range, A-law rounds to the nearest level (half a step); the reference
  // mu-law drops the two low bits before quantizing, so its error can exceed half a step.
  let worstU = 0
  let worstA = 0
  for (let s = -32768; s <= 32767; s++) {
    const u = linearToUlaw(s)
    const uSeg = (~u & 0x70) >> 4
    if (Math.abs(s) <= 32124) worstU = Math.max(worstU, Math.abs(ulawToLinear(u) - s) / (8 << uSeg))
    const a = linearToAlaw(s)
    const aSeg = ((a ^ 0x55) & 0x70) >> 4
    if (Math.abs(s) <= 32256) worstA = Math.max(worstA, Math.abs(alawToLinear(a) - s) / (16 << Math.max(aSeg - 1, 0)))
  }
  t.ok(worstU < 1, `mu-law worst error ${worstU} steps`)
  t.ok(worstA <= 0.5, `A-law worst error ${worstA} steps`)
})
