// The media core's offer to its FreeSWITCH endpoint, narrowed to the codec the caller's leg uses.
// FreeSWITCH bridges the two endpoints; with one codec on both it passes the caller's frames through
// untouched. Left to choose from our whole list it took the first, Opus, for the loopback leg: it
// then transcoded G.711 to Opus and back for every call and the media core coded Opus at 48 kHz,
// about twice the CPU per call in both processes and the Opus delay on every turn.
import { parse, write } from 'sdp-transform'
import { CODECS, codecOf, type CodecName } from '../sdp/codec-catalogue.ts'

const ANY_CODEC: ReadonlySet<CodecName> = new Set(Object.keys(CODECS) as CodecName[])

/** The codec an answer settled on: its first payload (RFC 3264 §6.1: the one the answerer prefers). */
export function answeredCodec(answerSdp: string): CodecName | undefined {
  const audio = parse(answerSdp).media.find((m) => m.type === 'audio' && m.port !== 0)
  // a hostile or empty payload list names no codec (Number('') would be 0, PCMU)
  const token = String(audio?.payloads ?? '')
    .split(' ')
    .filter(Boolean)[0]
  const first = Number(token)
  if (!audio || !token || !Number.isInteger(first)) return undefined
  return codecOf(
    first,
    audio.rtp.find((r) => r.payload === first),
    ANY_CODEC,
  )?.name
}

/**
 * `coreOffer` with only the caller leg's codec (under the core's own payload type) and its
 * telephone-event; unchanged when it does not carry that codec (FreeSWITCH transcodes then).
 */
export function narrowToCallerCodec(coreOffer: string, callerAnswer: string): string {
  const codec = answeredCodec(callerAnswer)
  if (!codec) return coreOffer
  const sdp = parse(coreOffer)
  const audio = sdp.media.find((m) => m.type === 'audio' && m.port !== 0)
  if (!audio) return coreOffer
  const payloads = String(audio.payloads ?? '')
    .split(' ')
    .map(Number)
  const rtpmapOf = (pt: number) => audio.rtp.find((r) => r.payload === pt)
  const ofCodec = payloads.filter((pt) => codecOf(pt, rtpmapOf(pt), ANY_CODEC)?.name === codec)
  if (!ofCodec.length) return coreOffer
  // the telephone-event at the codec's clock rate (RFC 4733 §2.1), or every one the offer has
  const events = payloads.filter((pt) => rtpmapOf(pt)?.codec.toLowerCase() === 'telephone-event')
  const atRate = events.filter((pt) => Number(rtpmapOf(pt)?.rate) === CODECS[codec].clockRate)
  const keep = new Set([...ofCodec, ...(atRate.length ? atRate : events)])
  audio.payloads = payloads.filter((pt) => keep.has(pt)).join(' ')
  audio.rtp = audio.rtp.filter((r) => keep.has(r.payload))
  audio.fmtp = audio.fmtp.filter((f) => keep.has(f.payload))
  return write(sdp)
}
