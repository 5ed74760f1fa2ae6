import { isIP } from 'node:net'

/** One address block: the address as bytes (IPv4 as 4, IPv6 as 16) and the prefix length. */
interface Block {
  bytes: Buffer
  bits: number
}

function ipv4Bytes(s: string): Buffer {
  return Buffer.from(s.split('.').map(Number))
}

function ipv6Bytes(s: string): Buffer {
  // an embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s)
  if (v4) {
    const b = ipv4Bytes(v4[1])
    s = s.slice(0, -v4[1].length) + `${b.readUInt16BE(0).toString(16)}:${b.readUInt16BE(2).toString(16)}`
  }
  const [head, tail] = s.split('::')
  const h = head ? head.split(':') : []
  const t = tail !== undefined ? (tail ? tail.split(':') : []) : []
  const groups = tail !== undefined ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h
  const out = Buffer.alloc(16)
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2))
  return out
}

/** An address as bytes; an IPv4-mapped IPv6 address (::ffff:a.b.c.d, as dual-stack sockets
 *  report IPv4 peers) as its IPv4 bytes, so one IPv4 CIDR covers both forms. */
export function addressBytes(address: string): Buffer | undefined {
  const family = isIP(address)
  if (family === 4) return ipv4Bytes(address)
  if (family !== 6) return undefined
  const b = ipv6Bytes(address)
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return b.subarray(12)
  return b
}

/** Parses "10.0.0.0/8", "192.0.2.7" (a /32), "2001:db8::/32"; throws on anything else. */
export function parseCidr(spec: string): Block {
  const [addr, len] = spec.trim().split('/')
  const bytes = addressBytes(addr)
  if (!bytes) throw new Error(`"${spec}" is not an IP address or CIDR block`)
  const max = bytes.length * 8
  const bits = len === undefined ? max : Number(len)
  if (!Number.isInteger(bits) || bits < 0 || bits > max || (len !== undefined && !/^\d+$/.test(len)))
    throw new Error(`"${spec}": prefix length must be 0-${max}`)
  return { bytes, bits }
}

function contains(block: Block, b: Buffer): boolean {
  if (b.length !== block.bytes.length) return false
  let left = block.bits
  for (let i = 0; left > 0; i++, left -= 8) {
    const mask = left >= 8 ? 0xff : (0xff << (8 - left)) & 0xff
    if ((b[i] & mask) !== (block.bytes[i] & mask)) return false
  }
  return true
}

/** Splits a comma- or space-separated list of CIDRs. */
export function parseCidrList(spec: string): string[] {
  return spec
    .split(/[,\s]+/)
    .map((s) => s.trim())
    .filter(Boolean)
}

/**
 * The addresses SIP requests are trusted from, kept per named source: "config" (SIP_TRUSTED_CIDRS)
 * and one entry per trunk, which the trunks code replaces whenever it resolves a trunk's host
 * again (setSource), so a trunk that moves address stays trusted and its old address does not.
 */
export class TrustList {
  private readonly sources = new Map<string, Block[]>()

  /** Replaces the blocks of one named source; an empty list removes it. Throws on a bad CIDR. */
  setSource(name: string, cidrs: string[]): void {
    const blocks = cidrs.map(parseCidr)
    if (blocks.length) this.sources.set(name, blocks)
    else this.sources.delete(name)
  }

  /** The name of the source the address belongs to, or undefined when it is not trusted. */
  match(address: string): string | undefined {
    const b = addressBytes(address)
    if (!b) return undefined
    for (const [name, blocks] of this.sources) if (blocks.some((k) => contains(k, b))) return name
    return undefined
  }

  /** What is trusted, for the start-up log. */
  describe(): Record<string, string[]> {
    const out: Record<string, string[]> = {}
    for (const [name, blocks] of this.sources) out[name] = blocks.map((k) => `${formatBytes(k.bytes)}/${k.bits}`)
    return out
  }
}

function formatBytes(b: Buffer): string {
  if (b.length === 4) return [...b].join('.')
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16))
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::')
}
