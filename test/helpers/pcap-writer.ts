import type { UdpPacket } from './capture.ts'

/**
 * A classic pcap file (microsecond timestamps, Ethernet link type) of IPv4/UDP datagrams, as
 * SIPp's play_pcap_audio reads them: untruncated frames with true IP and UDP lengths. SIPp
 * rewrites the ports and the UDP checksum when it replays, so the checksum is left 0 here.
 * `t` is in ms, as parsePcap (capture.ts) reads it back.
 */
export function buildPcap(packets: readonly UdpPacket[]): Buffer {
  const ETH = 14
  const IP = 20
  const UDP = 8
  const head = Buffer.alloc(24)
  head.writeUInt32LE(0xa1b2c3d4, 0)
  head.writeUInt16LE(2, 4) // version 2.4
  head.writeUInt16LE(4, 6)
  head.writeUInt32LE(65535, 16) // snap length
  head.writeUInt32LE(1, 20) // LINKTYPE_ETHERNET
  const records: Buffer[] = [head]
  packets.forEach((p, i) => {
    const frame = Buffer.alloc(ETH + IP + UDP + p.payload.length)
    frame.writeUInt16BE(0x0800, 12) // IPv4; zero MAC addresses
    const ip = frame.subarray(ETH)
    ip[0] = 0x45
    ip.writeUInt16BE(IP + UDP + p.payload.length, 2)
    ip.writeUInt16BE(i & 0xffff, 4) // identification
    ip[8] = 64 // TTL
    ip[9] = 17 // UDP
    writeAddress(ip, 12, p.src)
    writeAddress(ip, 16, p.dst)
    ip.writeUInt16BE(ipChecksum(ip.subarray(0, IP)), 10)
    const udp = ip.subarray(IP)
    udp.writeUInt16BE(p.srcPort, 0)
    udp.writeUInt16BE(p.dstPort, 2)
    udp.writeUInt16BE(UDP + p.payload.length, 4)
    udp.set(p.payload, UDP)
    const rec = Buffer.alloc(16)
    const us = Math.round(p.t * 1000)
    rec.writeUInt32LE(Math.floor(us / 1e6), 0)
    rec.writeUInt32LE(us % 1e6, 4)
    rec.writeUInt32LE(frame.length, 8)
    rec.writeUInt32LE(frame.length, 12)
    records.push(rec, frame)
  })
  return Buffer.concat(records)
}

function writeAddress(buf: Buffer, off: number, dotted: string): void {
  const parts = dotted.split('.').map(Number)
  if (parts.length !== 4 || parts.some((n) => !(n >= 0 && n <= 255))) throw new Error(`not an IPv4 address: ${dotted}`)
  buf.set(parts, off)
}

/** RFC 791 header checksum: ones' complement of the ones' complement sum of 16-bit words. */
function ipChecksum(header: Buffer): number {
  let sum = 0
  for (let i = 0; i < header.length; i += 2) sum += header.readUInt16BE(i)
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return ~sum & 0xffff
}
