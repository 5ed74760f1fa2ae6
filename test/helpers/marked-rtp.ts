import { writeFileSync } from 'node:fs'
import { RTP_HEADER_BYTES, writeRtpHeader } from '../../rtp/packet.ts'
import type { UdpPacket } from './capture.ts'
import { buildPcap } from './pcap-writer.ts'
import { rtpPackets } from './rtp-analysis.ts'

/**
 * A caller's RTP that can be told apart on the wire: `count` PCMU packets (20 ms apart) under
 * one SSRC, each payload filled with its own byte, written as a pcap for SIPp's
 * play_pcap_audio (SIPp sends them from its -mp port). Returns the packets for comparison.
 */
export function writeMarkedRtp(file: string, opts: { count: number; ssrc: number; srcPort: number }): UdpPacket[] {
  const sent: UdpPacket[] = Array.from({ length: opts.count }, (_, i) => {
    const payload = Buffer.alloc(RTP_HEADER_BYTES + 160, (i * 7) & 0xff)
    writeRtpHeader(payload, { marker: i === 0, payloadType: 0, sequenceNumber: 4000 + i, timestamp: 16000 + 160 * i, ssrc: opts.ssrc })
    return { t: i * 20, src: '127.0.0.1', srcPort: opts.srcPort, dst: '127.0.0.1', dstPort: 6000, payload }
  })
  writeFileSync(file, buildPcap(sent))
  return sent
}

/** Sequence numbers of the `ssrc`'s RTP captured from port `from` to port `to`, in wire order. */
export function seqsOnWire(captured: UdpPacket[], ssrc: number, from: number, to: number): number[] {
  return rtpPackets(
    captured.filter((p) => p.dstPort === to),
    (p) => p === from,
  )
    .filter((p) => p.ssrc === ssrc)
    .map((p) => p.seq)
}
