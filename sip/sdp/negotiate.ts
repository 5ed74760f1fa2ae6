// SDP offer/answer for one audio stream (RFC 3264 over RFC 4566 bodies).
import { isIP } from 'node:net'
import { parse, write } from 'sdp-transform'
import type { MediaDescription, SessionDescription } from 'sdp-transform'
import { SUITE_NAMES, type SrtpKeying, type SrtpSuiteName } from '../../rtp/srtp/crypto-suite.ts'
import { chooseCrypto, formatCrypto, newMasterKey, type SdesCrypto } from '../../rtp/srtp/sdes.ts'
import { CODECS, codecOf, type CodecName, type CodecSpec } from './codec-catalogue.ts'

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive'
/** SRTP (SDES) for a call's media: `off` takes RTP/AVP only, `optional` takes RTP/SAVP when it is
 *  offered, `required` takes RTP/SAVP only (a plain offer gets 488) and offers it. */
export const SRTP_POLICIES = ['off', 'optional', 'required'] as const
export type SrtpPolicy = (typeof SRTP_POLICIES)[number]
export type { CodecName } from './codec-catalogue.ts'

export interface LocalMedia {
  /** IP written into c= and o= */
  address: string
  /** our RTP port (RTCP on port + 1) */
  port: number
  /** what we support, in our preference order (the order matters only when we offer) */
  codecs: CodecName[]
  sessionId: string
  /** incremented by the caller for each new description it sends in a dialog */
  sessionVersion: number
  /** our own wish, default sendrecv */
  direction?: Direction
  /** default off */
  srtp?: SrtpPolicy
  /** the SRTP keying in use: a new offer in the dialog is answered with the same key of ours */
  keying?: SrtpKeying
}

export interface OfferOptions extends LocalMedia {
  /** default 101 */
  telephoneEventPt?: number
  /** ms, default 20 */
  ptime?: number
  /** offer RTP/SAVP with these a=crypto lines (see offerCrypto) */
  crypto?: SdesCrypto[]
}

export type AnswerResult =
  | {
      ok: true
      answer: string
      /** `fmtp` is the offerer's format parameters for the chosen codec (Opus: useinbandfec, maxplaybackrate ...). */
      codec: { name: CodecName; payloadType: number; clockRate: number; fmtp?: string }
      telephoneEvent?: { payloadType: number; clockRate: number }
      /** ms */
      ptime: number
      remote: { address: string; port: number; rtcpPort: number }
      /** RTCP shares the RTP port both ways (RFC 5761); accepted whenever offered */
      rtcpMux: boolean
      /** the direction WE use */
      direction: Direction
      /** the offerer holds the call: a=sendonly / a=inactive, or RFC 2543 c=0.0.0.0 */
      onHold: boolean
      /** the stream is RTP/SAVP: the keys both ways (absent: plain RTP) */
      srtp?: SrtpKeying
    }
  | { ok: false; status: 488; reason: string }

const STATIC_PT: Record<number, string> = {
  0: 'PCMU',
  3: 'GSM',
  4: 'G723',
  5: 'DVI4',
  6: 'DVI4',
  7: 'LPC',
  8: 'PCMA',
  9: 'G722',
  10: 'L16',
  11: 'L16',
  12: 'QCELP',
  13: 'CN',
  14: 'MPA',
  15: 'G728',
  16: 'DVI4',
  17: 'DVI4',
  18: 'G729',
}
const AUDIO_PROFILES = new Set(['RTP/AVP', 'RTP/AVPF'])
const SECURE_PROFILES = new Set(['RTP/SAVP', 'RTP/SAVPF'])
const DEFAULT_PTIME = 20
const TELEPHONE_EVENT_48K_PT = 110

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
  return String(m.payloads ?? '')
    .trim()
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number)
}

function rtpmapOf(m: MediaDescription, pt: number): Rtpmap | undefined {
  return m.rtp.find((r) => r.payload === pt)
}

function formatName(m: MediaDescription, pt: number): string {
  const map = rtpmapOf(m, pt)
  if (map) return map.codec
  return STATIC_PT[pt] ?? `PT ${pt}`
}

function validPtime(v: unknown): number | undefined {
  const n = Number(v)
  return Number.isInteger(n) && n >= 10 && n <= 60 && n % 10 === 0 ? n : undefined
}

/** The packet time we send and state in the answer: the offer's, except that an Opus packet is one
 *  frame of 10, 20, 40 or 60 ms (RFC 6716 §2.1.4; 30 and 50 would need frames packed as code 3). */
function sendablePtime(codec: CodecName, ptime: number): number {
  return codec === 'opus' && ptime !== 10 && ptime !== 20 && ptime !== 40 && ptime !== 60 ? DEFAULT_PTIME : ptime
}

type SessionOrigin = Pick<LocalMedia, 'address' | 'sessionId' | 'sessionVersion'>

/** v=, o=, s=, c= and t= of every description we write. */
function sessionLevel(local: SessionOrigin): Omit<SessionDescription, 'media'> {
  return { version: 0, origin: origin(local), name: '-', connection: { version: ipVer(local.address), ip: local.address }, timing: { start: 0, stop: 0 } }
}

function origin(local: SessionOrigin): SessionDescription['origin'] {
  return {
    username: '-',
    sessionId: local.sessionId,
    sessionVersion: local.sessionVersion,
    netType: 'IN',
    ipVer: ipVer(local.address),
    address: local.address,
  }
}

function rtpmapFor(spec: CodecSpec, payload: number): Rtpmap {
  return { payload, codec: spec.rtpName, rate: spec.clockRate, ...(spec.channels ? { encoding: spec.channels } : {}) }
}

function audioMedia(
  port: number,
  codec: { spec: CodecSpec; payloadType: number },
  te: { payloadType: number; rate: number; fmtp?: string } | undefined,
  ptime: number,
  direction: Direction,
  rtcpMux: boolean,
  crypto?: SdesCrypto,
): MediaDescription {
  const rtp: Rtpmap[] = [rtpmapFor(codec.spec, codec.payloadType)]
  const fmtp: MediaDescription['fmtp'] = codec.spec.fmtp ? [{ payload: codec.payloadType, config: codec.spec.fmtp }] : []
  if (te) {
    rtp.push({ payload: te.payloadType, codec: 'telephone-event', rate: te.rate })
    if (te.fmtp) fmtp.push({ payload: te.payloadType, config: te.fmtp })
  }
  return {
    type: 'audio',
    port,
    protocol: crypto ? 'RTP/SAVP' : 'RTP/AVP',
    payloads: rtp.map((r) => r.payload).join(' '),
    rtp,
    fmtp,
    ptime,
    direction,
    ...(rtcpMux ? { rtcpMux: 'rtcp-mux' as const } : {}),
    ...(crypto ? { crypto: [formatCrypto(crypto)] } : {}),
  }
}

/** The parsed body, or why it is not a description we can work with. */
function parseDescription(text: string, kind: 'offer' | 'answer'): SessionDescription | string {
  if (typeof text !== 'string' || text.trim() === '') return 'malformed SDP: empty body'
  const sd = parse(text)
  if (sd.version !== 0) return 'malformed SDP: no v=0 line'
  if (!sd.origin) return 'malformed SDP: no valid o= line'
  if (sd.media.length === 0) return `no m= line in ${kind}`
  if (sd.media.some((m) => m.type === undefined || m.port === undefined || m.protocol === undefined)) return 'malformed SDP: invalid m= line'
  // sdp-transform turns a numeric-looking encoding name (a=rtpmap:96 123/8000) into a number;
  // every name is compared as a string below (found by test/fuzz: it threw out of negotiate)
  for (const m of sd.media) for (const r of m.rtp ?? []) r.codec = String(r.codec)
  return sd
}

/** Where a stream's peer receives RTP and RTCP. */
function remoteOf(sd: SessionDescription, m: MediaDescription): { address: string; port: number; rtcpPort: number; rtcpMux: boolean } | string {
  const connection = m.connection ?? sd.connection
  if (!connection || !connection.ip) return 'malformed SDP: no c= line for the audio stream'
  if (!isIP(connection.ip)) return `unsupported connection address ${connection.ip}`
  const rtcpMux = m.rtcpMux === 'rtcp-mux'
  if (!isPort(m.port)) return `invalid port in m= line: ${m.port}`
  // a=rtcp (RFC 3605) names the RTCP port; without it RTCP is on the RTP port + 1
  const named = m.rtcp?.port as number | string | undefined // sdp-transform leaves '' for a non-number
  const rtcpPort = rtcpMux ? m.port : named === undefined ? m.port + 1 : Number(named === '' ? NaN : named)
  if (!isPort(rtcpPort)) return `invalid RTCP port: ${named === undefined ? `${m.port} + 1` : `a=rtcp:${named}`}`
  return { address: connection.ip, port: m.port, rtcpPort, rtcpMux }
}

/** A UDP port a packet can be sent to; anything else would make the socket throw at send time. */
function isPort(p: unknown): p is number {
  return typeof p === 'number' && Number.isInteger(p) && p >= 1 && p <= 65535
}

/** The transports an SRTP policy takes. */
function profilesFor(policy: SrtpPolicy): string[] {
  return policy === 'off' ? [...AUDIO_PROFILES] : policy === 'required' ? [...SECURE_PROFILES] : [...AUDIO_PROFILES, ...SECURE_PROFILES]
}

/**
 * The keys of an RTP/SAVP stream. An offer's: its first a=crypto line we can use, and a key of ours
 * for its suite (the one in use when the dialog has one). An answer to our own offer (`offered`):
 * its line must carry the tag and suite of one of ours, whose key is ours.
 */
function keyingOf(m: MediaDescription, inUse: SrtpKeying | undefined, offered: SdesCrypto[] | undefined): { keying: SrtpKeying; ours: SdesCrypto } | string {
  const theirs = chooseCrypto(m.crypto)
  if (typeof theirs === 'string') return theirs
  if (offered) {
    const ours = offered.find((c) => c.tag === theirs.tag && c.suite === theirs.suite)
    if (!ours) return `the answer's a=crypto ${theirs.tag} ${theirs.suite} matches none offered`
    return { keying: { suite: ours.suite, local: ours.key, remote: theirs.key }, ours }
  }
  const key = inUse?.suite === theirs.suite ? inUse.local : newMasterKey(theirs.suite)
  return { keying: { suite: theirs.suite, local: key, remote: theirs.key }, ours: { tag: theirs.tag, suite: theirs.suite, key } }
}

/**
 * Answers an SDP offer. Never throws: anything we cannot or will not accept becomes a 488
 * with a reason naming what was offered. `ourCrypto`: the description is the answer to our own
 * RTP/SAVP offer with these a=crypto lines (readAnswer).
 */
export function negotiate(offerSdp: string, local: LocalMedia, ourCrypto?: SdesCrypto[]): AnswerResult {
  const offer = parseDescription(offerSdp, 'offer')
  if (typeof offer === 'string') return reject(offer)
  const accepted = new Set(profilesFor(ourCrypto ? 'required' : (local.srtp ?? 'off')))

  const supported = new Set(local.codecs)
  const offered: string[] = []
  const profiles: string[] = []
  let chosen: { index: number; spec: CodecSpec; payloadType: number } | undefined
  offer.media.forEach((m, index) => {
    if (chosen || m.type !== 'audio' || m.port === 0) return
    if (!accepted.has(String(m.protocol).toUpperCase())) {
      profiles.push(m.protocol)
      return
    }
    for (const pt of formats(m)) {
      const spec = codecOf(pt, rtpmapOf(m, pt), supported)
      if (spec) {
        chosen = { index, spec, payloadType: pt }
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
      return reject(`unsupported audio transport: offer has ${profiles.join(', ')}; we support ${[...accepted].join(', ')}`)
    }
    const has = [...new Set(offered)].join(', ') || 'no formats'
    return reject(`no common codec: offer has ${has}; we support ${local.codecs.join(', ')}`)
  }

  const m = offer.media[chosen.index]
  const remote = remoteOf(offer, m)
  if (typeof remote === 'string') return reject(remote)
  const secure = SECURE_PROFILES.has(m.protocol.toUpperCase()) ? keyingOf(m, local.keying, ourCrypto) : undefined
  if (typeof secure === 'string') return reject(secure)

  // Events share the audio's timeline, so only a telephone-event at the codec's clock rate fits (RFC 4733 §2.1).
  const teMap = m.rtp.find((r) => r.codec.toLowerCase() === 'telephone-event' && Number(r.rate) === chosen!.spec.clockRate && formats(m).includes(r.payload))
  const telephoneEvent = teMap && {
    payloadType: teMap.payload,
    rate: Number(teMap.rate),
    fmtp: m.fmtp.find((f) => f.payload === teMap.payload)?.config,
  }

  // a=ptime is a media attribute, but some endpoints put it at session level
  const ptime = sendablePtime(chosen.spec.name, validPtime(m.ptime ?? (offer as { ptime?: unknown }).ptime) ?? DEFAULT_PTIME)

  const offerDir = bits(m.direction ?? offer.direction ?? 'sendrecv')
  const want = bits(local.direction ?? 'sendrecv')
  // RFC 2543 hold (or "address not known yet"): nothing may be sent to 0.0.0.0
  const nullAddress = remote.address === '0.0.0.0' || remote.address === '::'
  const direction = fromBits(offerDir.recv && want.send && !nullAddress, offerDir.send && want.recv)
  const onHold = !offerDir.recv || nullAddress

  const answer: SessionDescription = {
    ...sessionLevel(local),
    // RFC 3264 §6: one m= line per offered m= line, in order; refused ones get port 0
    media: offer.media.map((om, i) =>
      i === chosen!.index
        ? audioMedia(local.port, chosen!, telephoneEvent, ptime, direction, remote.rtcpMux, secure?.ours)
        : { type: om.type, port: 0, protocol: om.protocol, payloads: String(om.payloads ?? ''), rtp: [], fmtp: [] },
    ),
  }

  return {
    ok: true,
    answer: write(answer),
    codec: {
      name: chosen.spec.name,
      payloadType: chosen.payloadType,
      clockRate: chosen.spec.clockRate,
      fmtp: m.fmtp.find((f) => f.payload === chosen!.payloadType)?.config,
    },
    ...(telephoneEvent ? { telephoneEvent: { payloadType: telephoneEvent.payloadType, clockRate: telephoneEvent.rate } } : {}),
    ptime,
    remote: { address: remote.address, port: remote.port, rtcpPort: remote.rtcpPort },
    rtcpMux: remote.rtcpMux,
    direction,
    onHold,
    ...(secure && { srtp: secure.keying }),
  }
}

/** The a=crypto lines of an RTP/SAVP offer of ours: one per suite we speak, each with a fresh key. */
export function offerCrypto(): SdesCrypto[] {
  return SUITE_NAMES.map((suite, i) => ({ tag: i + 1, suite, key: newMasterKey(suite) }))
}

/**
 * The a=crypto lines of an offer of ours under an SRTP policy: only `required` offers RTP/SAVP.
 * An SDES offer is SAVP or AVP, never "SRTP if you can" (that needs RFC 5939's capability
 * negotiation, which trunks rarely speak), so `optional` offers the plain stream every peer takes.
 */
export function offerCryptoFor(policy: SrtpPolicy): SdesCrypto[] | undefined {
  return policy === 'required' ? offerCrypto() : undefined
}

/** The keying of a new leg of ours that must be SRTP (a seller's): a fresh key of ours; the peer's comes with its answer. */
export function newLegKeying(suite: SrtpSuiteName = 'AES_CM_128_HMAC_SHA1_80'): SrtpKeying {
  return { suite, local: newMasterKey(suite), remote: '' }
}

/** An offer for outbound calls and for re-INVITEs that arrive without SDP. */
export function createOffer(local: OfferOptions): string {
  const te = local.telephoneEventPt ?? 101
  const ptime = validPtime(local.ptime) ?? DEFAULT_PTIME
  const rtp: Rtpmap[] = local.codecs.map((name) => rtpmapFor(CODECS[name], CODECS[name].offerPt))
  const fmtp = local.codecs.filter((n) => CODECS[n].fmtp).map((n) => ({ payload: CODECS[n].offerPt, config: CODECS[n].fmtp as string }))
  // One telephone-event per clock rate in the offer (RFC 4733 §2.1): 8000, and 48000 with Opus.
  for (const rate of new Set(local.codecs.map((n) => CODECS[n].clockRate).concat(8000))) {
    const payload = rate === 8000 ? te : TELEPHONE_EVENT_48K_PT
    rtp.push({ payload, codec: 'telephone-event', rate })
    fmtp.push({ payload, config: '0-16' })
  }
  const offer: SessionDescription = {
    ...sessionLevel(local),
    media: [
      {
        type: 'audio',
        port: local.port,
        protocol: local.crypto?.length ? 'RTP/SAVP' : 'RTP/AVP',
        payloads: rtp.map((r) => r.payload).join(' '),
        rtp,
        fmtp,
        ptime,
        direction: local.direction ?? 'sendrecv',
        ...(local.crypto?.length ? { crypto: local.crypto.map(formatCrypto) } : {}),
      },
    ],
  }
  return write(offer)
}

/** One stream's format as negotiated: what a second leg must use for packets to be relayed to it unchanged. */
export interface StreamFormat {
  codec: { name: CodecName; payloadType: number }
  telephoneEvent?: { payloadType: number; clockRate: number }
  /** ms */
  ptime: number
  /** RTCP shares the RTP port on that stream: offered to the new leg too, so both relay alike */
  rtcpMux?: boolean
  /** the stream's SRTP keying: our offer in its dialog carries our key again (tag 1) */
  srtp?: SrtpKeying
}

/**
 * An offer for a leg whose packets are relayed to and from an existing stream without transcoding:
 * that stream's codec under its payload type, its telephone-event if it has one (and rtcp-mux if
 * it has it), nothing else.
 */
export function createPinnedOffer(local: Omit<LocalMedia, 'codecs'>, format: StreamFormat): string {
  const te = format.telephoneEvent && { payloadType: format.telephoneEvent.payloadType, rate: format.telephoneEvent.clockRate, fmtp: '0-16' }
  const media = audioMedia(
    local.port,
    { spec: CODECS[format.codec.name], payloadType: format.codec.payloadType },
    te,
    format.ptime,
    local.direction ?? 'sendrecv',
    !!format.rtcpMux,
    format.srtp && pinnedCrypto(format.srtp),
  )
  return write({ ...sessionLevel(local), media: [media] })
}

/** The a=crypto line of createPinnedOffer for a stream with SRTP. */
export function pinnedCrypto(keying: SrtpKeying): SdesCrypto {
  return { tag: 1, suite: keying.suite, key: keying.local }
}

export type PinnedAnswerResult =
  | {
      ok: true
      remote: { address: string; port: number; rtcpPort: number }
      rtcpMux: boolean
      /** the answer kept telephone-event under the offered payload type */
      telephoneEvent: boolean
      /** the offer was RTP/SAVP (format.srtp: our key): both keys */
      srtp?: SrtpKeying
    }
  | { ok: false; reason: string }

/**
 * Reads the answer to createPinnedOffer. It is usable only when its audio stream carries the
 * pinned codec under the pinned payload type and no other codec (telephone-event aside): any
 * other format would reach the far end of the relay as packets it cannot decode.
 */
export function readPinnedAnswer(answerSdp: string, format: StreamFormat): PinnedAnswerResult {
  const answer = parseDescription(answerSdp, 'answer')
  if (typeof answer === 'string') return { ok: false, reason: answer }
  const m = answer.media.find((x) => x.type === 'audio')
  if (!m || m.port === 0) return { ok: false, reason: 'the answer refuses the audio stream' }
  const pinned = new Set([format.codec.name])
  const audio = formats(m).filter((pt) => formatName(m, pt).toLowerCase() !== 'telephone-event')
  const foreign = audio.filter((pt) => pt !== format.codec.payloadType || !codecOf(pt, rtpmapOf(m, pt), pinned))
  if (!audio.length || foreign.length) {
    const has = audio.map((pt) => `${formatName(m, pt)}/${pt}`).join(', ') || 'no audio format'
    return { ok: false, reason: `the answer has ${has} where ${format.codec.name}/${format.codec.payloadType} was offered` }
  }
  const remote = remoteOf(answer, m)
  if (typeof remote === 'string') return { ok: false, reason: remote }
  // the answer's transport is the offer's: RTP/SAVP exactly when we offered a key
  if (SECURE_PROFILES.has(m.protocol.toUpperCase()) !== !!format.srtp)
    return { ok: false, reason: `the answer is ${m.protocol} to our ${format.srtp ? 'RTP/SAVP' : 'RTP/AVP'} offer` }
  const secure = format.srtp && keyingOf(m, undefined, [pinnedCrypto(format.srtp)])
  if (typeof secure === 'string') return { ok: false, reason: secure }
  const te = format.telephoneEvent?.payloadType
  const telephoneEvent = te !== undefined && formats(m).some((pt) => pt === te && formatName(m, pt).toLowerCase() === 'telephone-event')
  return {
    ok: true,
    remote: { address: remote.address, port: remote.port, rtcpPort: remote.rtcpPort },
    rtcpMux: remote.rtcpMux,
    telephoneEvent,
    ...(secure && { srtp: secure.keying }),
  }
}

export type ReadAnswerResult = Omit<Extract<AnswerResult, { ok: true }>, 'answer'> | { ok: false; reason: string }

/**
 * Reads the answer to an offer of ours made by createOffer (delayed offer: our offer in the 200,
 * the answer in the ACK). The answer's own view of the stream is read exactly as an offer would
 * be: its first format that we offered, its address, ptime and direction (our direction follows
 * from the answerer's as it would from an offerer's). Never throws.
 */
export function readAnswer(answerSdp: string | undefined, local: LocalMedia, ourCrypto?: SdesCrypto[]): ReadAnswerResult {
  if (!answerSdp) return { ok: false, reason: 'no SDP answer' }
  // an answer is SRTP exactly when our offer was: RTP/SAVP to a plain offer would carry no key of ours
  const res = ourCrypto ? negotiate(answerSdp, local, ourCrypto) : negotiate(answerSdp, { ...local, srtp: 'off' })
  if (!res.ok) return { ok: false, reason: res.reason }
  const { answer: _ours, ...stream } = res
  return stream
}
