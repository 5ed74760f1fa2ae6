// RTP and RTCP packets for fuzzing a live call's media ports: garbage, and valid packets
// (RFC 3550 RTP, SR, RR, SDES, BYE, APP; RFC 4733 events) with their fields bent: versions,
// padding and extension lengths past the end, CSRC counts, report counts, item lengths,
// stray SSRCs, sequence and timestamp jumps.
import type { Prng } from './prng.ts'

export interface RtpContext {
  /** The payload type negotiated for the call, and the caller's SSRC. */
  payloadType: number
  ssrc: number
  seq: number
  ts: number
}

export interface FuzzPacket {
  bytes: Buffer
  kind: string
  /** Where it goes: the call's RTP port or its RTCP port (RTP port + 1). */
  to: 'rtp' | 'rtcp'
}

function rtpHeader(ctx: RtpContext, rng: Prng, o: { pt?: number; ssrc?: number; payload?: number } = {}): Buffer {
  const payload = o.payload ?? 160
  const b = Buffer.alloc(12 + payload, 0xff)
  b[0] = 0x80
  b[1] = (o.pt ?? ctx.payloadType) & 0x7f
  b.writeUInt16BE(ctx.seq++ & 0xffff, 2)
  b.writeUInt32BE((ctx.ts += 160) >>> 0, 4)
  b.writeUInt32BE((o.ssrc ?? ctx.ssrc) >>> 0, 8)
  if (rng.chance(0.5)) rng.bytes(payload).copy(b, 12)
  return b
}

function rtcpHeader(pt: number, count: number, words: number): Buffer {
  const b = Buffer.alloc((words + 1) * 4)
  b[0] = 0x80 | (count & 0x1f)
  b[1] = pt
  b.writeUInt16BE(words, 2)
  return b
}

function rtcp(ctx: RtpContext, rng: Prng): Buffer {
  switch (rng.int(5)) {
    case 0: {
      // SR with report blocks
      const rc = rng.int(3)
      const b = rtcpHeader(200, rc, 6 + rc * 6)
      b.writeUInt32BE(ctx.ssrc >>> 0, 4)
      rng.bytes(20).copy(b, 8)
      for (let k = 0; k < rc; k++) rng.bytes(24).copy(b, 28 + k * 24)
      return b
    }
    case 1: {
      // RR
      const rc = rng.int(3)
      const b = rtcpHeader(201, rc, 1 + rc * 6)
      b.writeUInt32BE(ctx.ssrc >>> 0, 4)
      for (let k = 0; k < rc; k++) rng.bytes(24).copy(b, 8 + k * 24)
      return b
    }
    case 2: {
      // SDES CNAME
      const cname = Buffer.from(`fuzz@127.0.0.1${'x'.repeat(rng.int(200))}`)
      const len = Math.ceil((4 + 2 + cname.length + 1) / 4)
      const b = rtcpHeader(202, 1, len)
      b.writeUInt32BE(ctx.ssrc >>> 0, 4)
      b[8] = 1
      b[9] = Math.min(255, cname.length)
      cname.copy(b, 10)
      return b
    }
    case 3: {
      // BYE with a reason
      const reason = Buffer.from('bye'.repeat(rng.int(30)))
      const b = rtcpHeader(203, 1, 1 + Math.ceil((1 + reason.length) / 4))
      b.writeUInt32BE(ctx.ssrc >>> 0, 4)
      b[8] = reason.length
      reason.copy(b, 9)
      return b
    }
    default: {
      // APP
      const b = rtcpHeader(204, rng.int(32), 2 + rng.int(8))
      b.writeUInt32BE(ctx.ssrc >>> 0, 4)
      b.write('FUZZ', 8, 'latin1')
      return b
    }
  }
}

const RTP_BENDS: Array<[string, (b: Buffer, rng: Prng) => void]> = [
  ['version', (b, rng) => (b[0] = (b[0] & 0x3f) | (rng.pick([0, 1, 3]) << 6))],
  [
    'padding-past-end',
    (b, rng) => {
      b[0] |= 0x20
      b[b.length - 1] = rng.pick([0, b.length, b.length + 1, 255])
    },
  ],
  [
    'extension-past-end',
    (b, rng) => {
      b[0] |= 0x10
      if (b.length >= 16) b.writeUInt16BE(rng.pick([0xffff, 1000, 40]), 14)
    },
  ],
  ['csrc-count', (b, rng) => (b[0] = (b[0] & 0xf0) | rng.range(1, 15))],
  ['payload-type', (b, rng) => (b[1] = (b[1] & 0x80) | rng.pick([13, 19, 35, 72, 73, 96, 101, 111, 127, rng.int(128)]))],
  ['marker-storm', (b) => (b[1] |= 0x80)],
  ['seq-jump', (b, rng) => b.writeUInt16BE(rng.int(65536), 2)],
  ['ts-jump', (b, rng) => b.writeUInt32BE(rng.int(2 ** 32) >>> 0, 4)],
  [
    'flip',
    (b, rng) => {
      for (let k = rng.range(1, 6); k > 0; k--) b[rng.int(b.length)] ^= 1 << rng.int(8)
    },
  ],
]

const RTCP_BENDS: Array<[string, (b: Buffer, rng: Prng) => Buffer]> = [
  [
    'length-too-big',
    (b, rng) => {
      b.writeUInt16BE(rng.pick([0xffff, b.length, b.length / 4 + 5]), 2)
      return b
    },
  ],
  [
    'length-zero',
    (b) => {
      b.writeUInt16BE(0, 2)
      return b
    },
  ],
  [
    'count-too-big',
    (b) => {
      b[0] |= 0x1f
      return b
    },
  ],
  [
    'version',
    (b, rng) => {
      b[0] = (b[0] & 0x3f) | (rng.pick([0, 1, 3]) << 6)
      return b
    },
  ],
  [
    'type',
    (b, rng) => {
      b[1] = rng.range(192, 223)
      return b
    },
  ],
  ['truncate', (b, rng) => b.subarray(0, rng.int(b.length))],
  [
    'sdes-item-overflow',
    (b) => {
      if (b.length > 9) b[9] = 255
      return b
    },
  ],
  ['compound-garbage', (b, rng) => Buffer.concat([b, rng.bytes(rng.range(1, 40))])],
  [
    'flip',
    (b, rng) => {
      for (let k = rng.range(1, 6); k > 0; k--) b[rng.int(b.length)] ^= 1 << rng.int(8)
      return b
    },
  ],
]

/** One fuzz packet. `ctx` is advanced (sequence, timestamp) as a real sender would. */
export function rtpCase(ctx: RtpContext, rng: Prng): FuzzPacket {
  const r = rng.next()
  if (r < 0.1) return { bytes: rng.bytes(rng.chance(0.3) ? rng.int(12) : rng.int(1500)), kind: 'garbage', to: rng.chance(0.5) ? 'rtp' : 'rtcp' }
  if (r < 0.55) {
    const stray = rng.chance(0.3)
    const b = rtpHeader(ctx, rng, { ssrc: stray ? rng.int(2 ** 32) : undefined, payload: rng.pick([0, 1, 4, 80, 160, 320, 1400]) })
    if (rng.chance(0.1)) {
      // RFC 4733 event with bent fields
      b[1] = (b[1] & 0x80) | 101
      if (b.length >= 16) rng.bytes(4).copy(b, 12)
    }
    const [name, bend] = rng.pick(RTP_BENDS)
    bend(b, rng)
    return { bytes: b, kind: `rtp/${name}${stray ? '/stray-ssrc' : ''}`, to: rng.chance(0.9) ? 'rtp' : 'rtcp' }
  }
  let b = rtcp(ctx, rng)
  if (rng.chance(0.3)) b = Buffer.concat([b, rtcp(ctx, rng)]) // compound
  const [name, bend] = rng.pick(RTCP_BENDS)
  b = bend(b, rng)
  return { bytes: b, kind: `rtcp/${name}`, to: rng.chance(0.8) ? 'rtcp' : 'rtp' }
}

/** A valid PCMU packet (the caller's own stream, to latch and keep the call's media going). */
export function validRtp(ctx: RtpContext): Buffer {
  const b = Buffer.alloc(172, 0xff)
  b[0] = 0x80
  b[1] = ctx.payloadType
  b.writeUInt16BE(ctx.seq++ & 0xffff, 2)
  b.writeUInt32BE((ctx.ts += 160) >>> 0, 4)
  b.writeUInt32BE(ctx.ssrc >>> 0, 8)
  return b
}
