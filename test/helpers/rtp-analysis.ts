import type { AudioCodec } from '../../codecs/codec.ts'
import { levelDb } from '../../vad/level.ts'
import type { UdpPacket } from './capture.ts'
import { percentile } from './capture.ts'

export interface RtpOnWire {
  t: number
  ssrc: number
  seq: number
  ts: number
  marker: boolean
  pt: number
  payload: Buffer
}

export function rtpPackets(packets: UdpPacket[], fromPort: (p: number) => boolean): RtpOnWire[] {
  return (
    packets
      // RTCP (second byte 192..223, RFC 5761 §4) shares the port range: leave it out.
      .filter((p) => fromPort(p.srcPort) && p.payload.length >= 12 && p.payload[0] >> 6 === 2 && !(p.payload[1] >= 192 && p.payload[1] <= 223))
      .map((p) => ({
        t: p.t,
        ssrc: p.payload.readUInt32BE(8),
        seq: p.payload.readUInt16BE(2),
        ts: p.payload.readUInt32BE(4),
        marker: (p.payload[1] & 0x80) !== 0,
        pt: p.payload[1] & 0x7f,
        payload: p.payload.subarray(12),
      }))
  )
}

/** Share of 20 ms frames that are louder than speech's floor (-40 dBFS). */
export function speechShare(stream: RtpOnWire[], codec: AudioCodec): number {
  const pcm = new Int16Array((codec.sampleRate * 20) / 1000)
  let loud = 0
  for (const p of stream) {
    codec.decode(p.payload, pcm)
    if (levelDb(pcm, 32768) > -40) loud++
  }
  return stream.length ? loud / stream.length : 0
}

/** |inter-arrival - 20 ms| per stream, pooled: the pacing error as a receiver sees it. */
export function pacingErrors(stream: RtpOnWire[]): number[] {
  const bySsrc = new Map<number, RtpOnWire[]>()
  for (const p of stream) {
    const s = bySsrc.get(p.ssrc)
    if (s) s.push(p)
    else bySsrc.set(p.ssrc, [p])
  }
  const errors: number[] = []
  for (const s of bySsrc.values()) {
    for (let i = 1; i < s.length; i++) errors.push(Math.abs(s[i].t - s[i - 1].t - 20))
  }
  return errors
}

export { percentile }
