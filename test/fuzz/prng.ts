/**
 * A small seeded PRNG (mulberry32). Each fuzz case gets its own generator derived from
 * (seed, index), so any one case can be regenerated alone from the two numbers a report gives.
 */
export class Prng {
  private state: number

  constructor(seed: number) {
    this.state = seed >>> 0
  }

  static forCase(seed: number, index: number): Prng {
    // splitmix-style mixing so neighbouring indexes give unrelated streams
    let h = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 0x632be5ab, 0xc2b2ae35)) >>> 0
    h = Math.imul(h ^ (h >>> 16), 0x7feb352d)
    h = Math.imul(h ^ (h >>> 15), 0x846ca68b)
    return new Prng((h ^ (h >>> 16)) >>> 0)
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n)
  }

  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1)
  }

  chance(p: number): boolean {
    return this.next() < p
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]
  }

  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n)
    for (let i = 0; i < n; i++) b[i] = this.int(256)
    return b
  }

  hex(n: number): string {
    let s = ''
    for (let i = 0; i < n; i++) s += '0123456789abcdef'[this.int(16)]
    return s
  }
}
