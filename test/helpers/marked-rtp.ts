import { writeFileSync } from 'node:fs'
import { RTP_HEADER_BYTES, writeRtpHeader } from '../../rtp/packet.ts'
import type { UdpPacket } from './capture.ts'
import { buildPcap } from './pcap-writer.ts'
import { rtpPackets } from './rtp-analysis.ts'

/**
 * A caller's RTP that can be told apart on the wire: `count` PCMU packets (20 ms apart) under
 * one SSRC, each payload filled with its own byte, written as a pcap for SIPp's
 * play_pcap_audio (SIPp sends them from its -mp port). With `digit`, an RFC 4733 event of that key
 * follows the audio (payload type `digit.pt`: three updates, then the end three times). Returns
 * the audio packets for comparison.
 */
export function writeMarkedRtp(file: string, opts: { count: number; ssrc: number; srcPort: number; digit?: { key: number; pt: number } }): UdpPacket[] {
  const packet = (i: number, payload: Buffer) => ({ t: i * 20, src: '127.0.0.1', srcPort: opts.srcPort, dst: '127.0.0.1', dstPort: 6000, payload })
  const sent: UdpPacket[] = Array.from({ length: opts.count }, (_, i) => {
    const payload = Buffer.alloc(RTP_HEADER_BYTES + 160, (i * 7) & 0xff)
    writeRtpHeader(payload, { marker: i === 0, payloadType: 0, sequenceNumber: 4000 + i, timestamp: 16000 + 160 * i, ssrc: opts.ssrc })
    return packet(i, payload)
  })
  const digit = opts.digit
  const events = digit
    ? Array.from({ length: 6 }, (_, n) => {
        const payload = Buffer.alloc(RTP_HEADER_BYTES + 4)
        const i = opts.count + n
        writeRtpHeader(payload, { marker: n === 0, payloadType: digit.pt, sequenceNumber: 4000 + i, timestamp: 16000 + 160 * opts.count, ssrc: opts.ssrc })
        payload[12] = digit.key
        payload[13] = (n >= 3 ? 0x80 : 0) | 10 // the end bit on the last three, volume -10 dBm0
        payload.writeUInt16BE(160 * Math.min(n + 1, 3), 14)
        return packet(i, payload)
      })
    : []
  writeFileSync(file, buildPcap([...sent, ...events]))
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
