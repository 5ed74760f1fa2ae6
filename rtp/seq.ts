// Wrap-around arithmetic for RTP sequence numbers (16-bit) and timestamps (32-bit), after
// RFC 1982 serial number arithmetic as RFC 3550 uses it. Kept in one place so no caller
// compares raw counters with < or subtracts them directly.

/** Signed distance a - b between 16-bit sequence numbers, in [-32768, 32767]. */
export function seqDiff(a: number, b: number): number {
  return ((a - b) << 16) >> 16
}

/**
 * True when sequence number a is newer than b (RFC 1982 with SERIAL_BITS = 16). Exactly
 * half the space apart (32768) is undefined by RFC 1982; it is reported as not newer.
 */
export function seqNewer(a: number, b: number): boolean {
  const d = (a - b) & 0xffff
  return d !== 0 && d < 0x8000
}

/** Signed distance a - b between 32-bit RTP timestamps, in [-2^31, 2^31 - 1]. */
export function tsDiff(a: number, b: number): number {
  return (a - b) | 0
}

/** a + n modulo 2^16 (n may be negative). */
export function add16(a: number, n: number): number {
  return (a + n) & 0xffff
}

/** a + n modulo 2^32, as an unsigned value (n may be negative). */
export function add32(a: number, n: number): number {
  return (a + n) >>> 0
}
