import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { requireTool } from './system-tools.ts'

export interface UdpPacket {
  /** Capture time in ms (pcap clock). */
  t: number
  src: string
  srcPort: number
  dst: string
  dstPort: number
  payload: Buffer
}

/** tcpdump on loopback, so tests can see what really crossed the wire. */
export class LoopbackCapture {
  private child: ChildProcess | undefined

  constructor(
    private readonly file: string,
    private readonly filter: string,
  ) {}

  async start(): Promise<void> {
    requireTool('tcpdump', 'tcpdump')
    this.child = spawn('tcpdump', ['-i', 'lo', '-nn', '-U', '-B', '16384', '-s', '512', '-w', this.file, this.filter], { stdio: ['ignore', 'ignore', 'pipe'] })
    // tcpdump says "listening on lo" once the capture is armed.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('tcpdump did not start')), 10_000)
      this.child!.stderr!.on('data', (d: Buffer) => {
        if (d.toString().includes('listening on')) {
          clearTimeout(timer)
          resolve()
        }
      })
      this.child!.once('exit', (code) => reject(new Error(`tcpdump exited with ${code}`)))
    })
  }

  async stop(): Promise<UdpPacket[]> {
    const child = this.child
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGINT')
      await exited
    }
    return parsePcap(readFileSync(this.file))
  }
}

/** Classic pcap (not pcapng) with Ethernet (1) or Linux cooked (113) link types; IPv4 UDP only. */
export function parsePcap(buf: Buffer): UdpPacket[] {
  const magic = buf.readUInt32LE(0)
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d
  const nano = magic === 0xa1b23c4d || magic === 0x4d3cb2a1
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o))
  const linkType = u32(20)
  const linkHeader = linkType === 1 ? 14 : linkType === 113 ? 16 : linkType === 0 ? 4 : -1
  if (linkHeader < 0) throw new Error(`unsupported pcap link type ${linkType}`)
  const out: UdpPacket[] = []
  let o = 24
  while (o + 16 <= buf.length) {
    const t = u32(o) * 1000 + u32(o + 4) / (nano ? 1e6 : 1e3)
    const incl = u32(o + 8)
    const p = o + 16
    o = p + incl
    const ip = p + linkHeader
    if (ip + 28 > o || buf[ip] >> 4 !== 4 || buf[ip + 9] !== 17) continue
    const ihl = (buf[ip] & 0x0f) * 4
    const udp = ip + ihl
    const addr = (a: number) => `${buf[a]}.${buf[a + 1]}.${buf[a + 2]}.${buf[a + 3]}`
    const len = buf.readUInt16BE(udp + 4)
    out.push({
      t,
      src: addr(ip + 12),
      dst: addr(ip + 16),
      srcPort: buf.readUInt16BE(udp),
      dstPort: buf.readUInt16BE(udp + 2),
      payload: buf.subarray(udp + 8, Math.min(o, udp + len)),
    })
  }
  return out
}

export function percentile(values: number[], p: number): number {
  if (!values.length) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}
