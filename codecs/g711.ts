// ITU-T G.711 mu-law and A-law companding for 16-bit linear PCM.
//
// The bit logic follows the classic Sun/CCITT g711.c reference (the one SoX, Python's audioop
// and most VoIP stacks derive from), so encoded bytes interoperate bit-exactly with them.
// Everything per-sample is a table lookup: decode tables have 256 entries, encode tables are
// indexed by the linear value with the bits below the codec's resolution dropped (mu-law works
// on 14 bits, A-law on 13 bits), built once at module load from the reference bit logic.

const ULAW_BIAS = 0x84 // 132: added before the segment search so segment boundaries are powers of two
const ULAW_CLIP = 8159 // largest 14-bit magnitude that fits the top segment after biasing

function ulawDecodeBits(code: number): number {
  const u = ~code & 0xff // mu-law bytes are transmitted with all bits inverted
  const t = (((u & 0x0f) << 3) + ULAW_BIAS) << ((u & 0x70) >> 4)
  return u & 0x80 ? ULAW_BIAS - t : t - ULAW_BIAS
}

function alawDecodeBits(code: number): number {
  const a = code ^ 0x55 // A-law inverts the even bits
  const seg = (a & 0x70) >> 4
  let t = (a & 0x0f) << 4
  if (seg === 0) t += 8
  else t = (t + 0x108) << (seg - 1)
  return a & 0x80 ? t : -t
}

// Segment end points of the reference implementation (mu-law in 14-bit, A-law in 13-bit units).
const ULAW_SEG_END = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff]
const ALAW_SEG_END = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff]

function segment(value: number, ends: readonly number[]): number {
  for (let i = 0; i < ends.length; i++) if (value <= ends[i]) return i
  return ends.length
}

/** `v14` is the linear sample shifted right by 2 (signed 14-bit). */
function ulawEncodeBits(v14: number): number {
  let mask = 0xff
  let mag = v14
  if (mag < 0) {
    mag = -mag
    mask = 0x7f
  }
  if (mag > ULAW_CLIP) mag = ULAW_CLIP
  mag += ULAW_BIAS >> 2
  const seg = segment(mag, ULAW_SEG_END)
  if (seg >= 8) return 0x7f ^ mask
  return ((seg << 4) | ((mag >> (seg + 1)) & 0x0f)) ^ mask
}

/** `v13` is the linear sample shifted right by 3 (signed 13-bit). */
function alawEncodeBits(v13: number): number {
  let mask = 0xd5
  let mag = v13
  if (mag < 0) {
    mask = 0x55
    mag = -mag - 1
  }
  const seg = segment(mag, ALAW_SEG_END)
  if (seg >= 8) return 0x7f ^ mask
  const quant = seg < 2 ? (mag >> 1) & 0x0f : (mag >> seg) & 0x0f
  return ((seg << 4) | quant) ^ mask
}

const ULAW_DECODE = new Int16Array(256)
const ALAW_DECODE = new Int16Array(256)
for (let i = 0; i < 256; i++) {
  ULAW_DECODE[i] = ulawDecodeBits(i)
  ALAW_DECODE[i] = alawDecodeBits(i)
}

// Indexed by the sample's top 14 (mu-law) or 13 (A-law) bits taken as an unsigned field, so
// that a single mask turns any int16 into an index: (s >> 2) & 0x3fff, (s >> 3) & 0x1fff.
const ULAW_ENCODE = new Uint8Array(1 << 14)
const ALAW_ENCODE = new Uint8Array(1 << 13)
for (let i = 0; i < 1 << 14; i++) ULAW_ENCODE[i] = ulawEncodeBits(i >= 1 << 13 ? i - (1 << 14) : i)
for (let i = 0; i < 1 << 13; i++) ALAW_ENCODE[i] = alawEncodeBits(i >= 1 << 12 ? i - (1 << 13) : i)

/** Decodes one mu-law byte (0..255) to a 16-bit linear sample. */
export function ulawToLinear(b: number): number {
  return ULAW_DECODE[b & 0xff]
}

/** Encodes one 16-bit linear sample (-32768..32767) to a mu-law byte. */
export function linearToUlaw(s: number): number {
  return ULAW_ENCODE[(s >> 2) & 0x3fff]
}

/** Decodes one A-law byte (0..255) to a 16-bit linear sample. */
export function alawToLinear(b: number): number {
  return ALAW_DECODE[b & 0xff]
}

/** Encodes one 16-bit linear sample (-32768..32767) to an A-law byte. */
export function linearToAlaw(s: number): number {
  return ALAW_ENCODE[(s >> 3) & 0x1fff]
}
