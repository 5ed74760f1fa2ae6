// SDP offer/answer for one audio stream (RFC 3264 over RFC 4566 bodies), G.711 only.
import { isIP } from 'node:net'
import { parse, write } from 'sdp-transform'
import type { MediaDescription, SessionDescription } from 'sdp-transform'

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive'
export type G711 = 'PCMU' | 'PCMA'

export interface LocalMedia {
  /** IP written into c= and o= */
  address: string
  /** our RTP port (RTCP on port + 1) */
  port: number
  /** what we support, in our preference order (the order matters only when we offer) */
  codecs: G711[]
  sessionId: string
  /** incremented by the caller for each new description it sends in a dialog */
  sessionVersion: number
  /** our own wish, default sendrecv */
  direction?: Direction
}

export interface OfferOptions extends LocalMedia {
  /** default 101 */
  telephoneEventPt?: number
  /** ms, default 20 */
  ptime?: number
}

export type AnswerResult =
  | {
      ok: true
      answer: string
      codec: { name: G711; payloadType: number; clockRate: 8000 }
      telephoneEvent?: { payloadType: number; clockRate: 8000 }
      /** ms */
      ptime: number
      remote: { address: string; port: number; rtcpPort: number }
      /** RTCP shares the RTP port both ways (RFC 5761); accepted whenever offered */
      rtcpMux: boolean
      /** the direction WE use */
      direction: Direction
      /** the offerer holds the call: a=sendonly / a=inactive, or RFC 2543 c=0.0.0.0 */
      onHold: boolean
    }
  | { ok: false; status: 488; reason: string }

const STATIC_PT: Record<number, string> = {
  0: 'PCMU', 3: 'GSM', 4: 'G723', 5: 'DVI4', 6: 'DVI4', 7: 'LPC', 8: 'PCMA', 9: 'G722',
  10: 'L16', 11: 'L16', 12: 'QCELP', 13: 'CN', 14: 'MPA', 15: 'G728', 16: 'DVI4', 17: 'DVI4', 18: 'G729',
}
const AUDIO_PROFILES = new Set(['RTP/AVP', 'RTP/AVPF'])
const DEFAULT_PTIME = 20

type Rtpmap = MediaDescription['rtp'][number]

function reject(reason: string): AnswerResult {
  return { ok: false, status: 488, reason }
}

function bits(d: Direction): { send: boolean; recv: boolean } {
  return { send: d === 'sendrecv' || d === 'sendonly', recv: d === 'sendrecv' || d === 'recvonly' }
}

function fromBits(send: boolean, recv: boolean): Direction {
  return send ? (recv ? 'sendrecv' : 'sendonly') : recv ? 'recvonly' : 'inactive'
}

function ipVer(address: string): 4 | 6 {
  return isIP(address) === 6 ? 6 : 4
}

// sdp-transform turns numeric-looking fields into numbers ("m=audio 6000 RTP/AVP 0" gives payloads 0).
function formats(m: MediaDescription): number[] {
  return String(m.payloads ?? '').trim().split(/\s+/).filter((s) => /^\d+$/.test(s)).map(Number)
}

function rtpmapOf(m: MediaDescription, pt: number): Rtpmap | undefined {
  return m.rtp.find((r) => r.payload === pt)
}

function formatName(m: MediaDescription, pt: number): string {
  const map = rtpmapOf(m, pt)
  if (map) return map.codec
  return STATIC_PT[pt] ?? `PT ${pt}`
}

function g711Of(m: MediaDescription, pt: number, supported: ReadonlySet<G711>): G711 | undefined {
  const map = rtpmapOf(m, pt)
  let name: string | undefined
  if (map) {
    if (Number(map.rate) !== 8000) return undefined
    if (map.encoding !== undefined && Number(map.encoding) !== 1) return undefined
    name = map.codec.toUpperCase()
  } else {
    // dynamic payload types mean nothing without an rtpmap
    name = pt === 0 ? 'PCMU' : pt === 8 ? 'PCMA' : undefined
  }
  return name !== undefined && supported.has(name as G711) ? (name as G711) : undefined
}

function validPtime(v: unknown): number | undefined {
  const n = Number(v)
  return Number.isInteger(n) && n >= 10 && n <= 60 && n % 10 === 0 ? n : undefined
}

function origin(local: LocalMedia): SessionDescription['origin'] {
  return {
    username: '-',
    sessionId: local.sessionId,
    sessionVersion: local.sessionVersion,
    netType: 'IN',
    ipVer: ipVer(local.address),
    address: local.address,
  }
}

function audioMedia(
  port: number,
  codec: { name: string; payloadType: number },
  te: { payloadType: number; fmtp?: string } | undefined,
  ptime: number,
  direction: Direction,
  rtcpMux: boolean,
): MediaDescription {
  const rtp: Rtpmap[] = [{ payload: codec.payloadType, codec: codec.name, rate: 8000 }]
  const fmtp: MediaDescription['fmtp'] = []
  if (te) {
    rtp.push({ payload: te.payloadType, codec: 'telephone-event', rate: 8000 })
    if (te.fmtp) fmtp.push({ payload: te.payloadType, config: te.fmtp })
  }
  return {
    type: 'audio',
    port,
    protocol: 'RTP/AVP',
    payloads: rtp.map((r) => r.payload).join(' '),
    rtp,
    fmtp,
    ptime,
    direction,
    ...(rtcpMux ? { rtcpMux: 'rtcp-mux' as const } : {}),
  }
}

/**
 * Answers an SDP offer. Never throws: anything we cannot or will not accept becomes a 488
 * with a reason naming what was offered.
 */
export function negotiate(offerSdp: string, local: LocalMedia): AnswerResult {
  if (typeof offerSdp !== 'string' || offerSdp.trim() === '') return reject('malformed SDP: empty body')
  const offer = parse(offerSdp)
  if (offer.version !== 0) return reject('malformed SDP: no v=0 line')
  if (!offer.origin) return reject('malformed SDP: no valid o= line')
  if (offer.media.length === 0) return reject('no m= line in offer')
  if (offer.media.some((m) => m.type === undefined || m.port === undefined || m.protocol === undefined)) {
    return reject('malformed SDP: invalid m= line')
  }

  const supported = new Set(local.codecs)
  const offered: string[] = []
  const profiles: string[] = []
  let chosen: { index: number; name: G711; payloadType: number } | undefined
  offer.media.forEach((m, index) => {
    if (chosen || m.type !== 'audio' || m.port === 0) return
    if (!AUDIO_PROFILES.has(m.protocol.toUpperCase())) {
      profiles.push(m.protocol)
      return
    }
    for (const pt of formats(m)) {
      const name = g711Of(m, pt, supported)
      if (name) {
        chosen = { index, name, payloadType: pt }
        return
      }
      offered.push(formatName(m, pt))
    }
  })

  if (!chosen) {
    const audio = offer.media.filter((m) => m.type === 'audio')
    if (audio.length === 0) return reject(`no m=audio in offer (has ${offer.media.map((m) => m.type).join(', ')})`)
    if (audio.every((m) => m.port === 0)) return reject('the offer disables its only audio stream (port 0)')
    if (offered.length === 0 && profiles.length > 0) {
      return reject(`unsupported audio transport: offer has ${profiles.join(', ')}; we support RTP/AVP`)
    }
    const has = [...new Set(offered)].join(', ') || 'no formats'
    return reject(`no common codec: offer has ${has}; we support ${local.codecs.join(', ')}`)
  }

  const m = offer.media[chosen.index]
  const connection = m.connection ?? offer.connection
  if (!connection || !connection.ip) return reject('malformed SDP: no c= line for the audio stream')
  if (!isIP(connection.ip)) return reject(`unsupported connection address ${connection.ip}`)

  const teMap = m.rtp.find(
    (r) => r.codec.toLowerCase() === 'telephone-event' && Number(r.rate) === 8000 && formats(m).includes(r.payload),
  )
  const telephoneEvent = teMap && {
    payloadType: teMap.payload,
    fmtp: m.fmtp.find((f) => f.payload === teMap.payload)?.config,
  }

  // a=ptime is a media attribute, but some endpoints put it at session level
  const ptime = validPtime(m.ptime ?? (offer as { ptime?: unknown }).ptime) ?? DEFAULT_PTIME

  const offerDir = bits(m.direction ?? offer.direction ?? 'sendrecv')
  const want = bits(local.direction ?? 'sendrecv')
  // RFC 2543 hold (or "address not known yet"): nothing may be sent to 0.0.0.0
  const nullAddress = connection.ip === '0.0.0.0' || connection.ip === '::'
  const direction = fromBits(offerDir.recv && want.send && !nullAddress, offerDir.send && want.recv)
  const onHold = !offerDir.recv || nullAddress

  const rtcpMux = m.rtcpMux === 'rtcp-mux'
  const rtcpPort = rtcpMux ? m.port : Number(m.rtcp?.port) || m.port + 1

  const answer: SessionDescription = {
    version: 0,
    origin: origin(local),
    name: '-',
    connection: { version: ipVer(local.address), ip: local.address },
    timing: { start: 0, stop: 0 },
    // RFC 3264 §6: one m= line per offered m= line, in order; refused ones get port 0
    media: offer.media.map((om, i) =>
      i === chosen!.index
        ? audioMedia(local.port, chosen!, telephoneEvent, ptime, direction, rtcpMux)
        : { type: om.type, port: 0, protocol: om.protocol, payloads: String(om.payloads ?? ''), rtp: [], fmtp: [] },
    ),
  }

  return {
    ok: true,
    answer: write(answer),
    codec: { name: chosen.name, payloadType: chosen.payloadType, clockRate: 8000 },
    ...(telephoneEvent ? { telephoneEvent: { payloadType: telephoneEvent.payloadType, clockRate: 8000 as const } } : {}),
    ptime,
    remote: { address: connection.ip, port: m.port, rtcpPort },
    rtcpMux,
    direction,
    onHold,
  }
}

const G711_PT: Record<G711, number> = { PCMU: 0, PCMA: 8 }

/** An offer for outbound calls and for re-INVITEs that arrive without SDP. */
export function createOffer(local: OfferOptions): string {
  const te = local.telephoneEventPt ?? 101
  const ptime = validPtime(local.ptime) ?? DEFAULT_PTIME
  const rtp: Rtpmap[] = local.codecs.map((name) => ({ payload: G711_PT[name], codec: name, rate: 8000 }))
  rtp.push({ payload: te, codec: 'telephone-event', rate: 8000 })
  const offer: SessionDescription = {
    version: 0,
    origin: origin(local),
    name: '-',
    connection: { version: ipVer(local.address), ip: local.address },
    timing: { start: 0, stop: 0 },
    media: [
      {
        type: 'audio',
        port: local.port,
        protocol: 'RTP/AVP',
        payloads: rtp.map((r) => r.payload).join(' '),
        rtp,
        fmtp: [{ payload: te, config: '0-16' }],
        ptime,
        direction: local.direction ?? 'sendrecv',
      },
    ],
  }
  return write(offer)
}
