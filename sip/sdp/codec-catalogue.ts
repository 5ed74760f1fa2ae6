// The audio codecs we can put on the wire, as SDP names them (RFC 3551, RFC 7587).

export type CodecName = 'PCMU' | 'PCMA' | 'G722' | 'opus'

export interface CodecSpec {
  name: CodecName
  /** Encoding name in a=rtpmap (compared case-insensitively). */
  rtpName: string
  /** RTP clock rate; G.722 keeps 8000 although it samples at 16 kHz (RFC 3551 §4.5.2). */
  clockRate: number
  /** Channel count in a=rtpmap; RFC 7587 always writes opus/48000/2. */
  channels?: number
  staticPt?: number
  /** Payload type we use when we offer a dynamic codec. */
  offerPt: number
  /** Our fmtp: for Opus, ask the peer for in-band FEC and allow DTX. */
  fmtp?: string
}

export const CODECS: Record<CodecName, CodecSpec> = {
  PCMU: { name: 'PCMU', rtpName: 'PCMU', clockRate: 8000, staticPt: 0, offerPt: 0 },
  PCMA: { name: 'PCMA', rtpName: 'PCMA', clockRate: 8000, staticPt: 8, offerPt: 8 },
  G722: { name: 'G722', rtpName: 'G722', clockRate: 8000, staticPt: 9, offerPt: 9 },
  opus: { name: 'opus', rtpName: 'opus', clockRate: 48000, channels: 2, offerPt: 111, fmtp: 'minptime=10;useinbandfec=1;usedtx=1' },
}

export const DEFAULT_CODEC_PREFERENCE: CodecName[] = ['opus', 'G722', 'PCMU', 'PCMA']

/** Parses a preference list like "G722,PCMU" (case-insensitive); throws on unknown names. */
export function parseCodecList(text: string): CodecName[] {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  return names.map((n) => {
    const spec = Object.values(CODECS).find((c) => c.name.toLowerCase() === n.toLowerCase())
    if (!spec) throw new Error(`unknown codec "${n}" (known: ${Object.keys(CODECS).join(', ')})`)
    return spec.name
  })
}

/** The codec a payload type stands for in an offer, if it is one we support. */
export function codecOf(
  pt: number,
  rtpmap: { codec: string; rate?: number | string; encoding?: number | string } | undefined,
  supported: ReadonlySet<CodecName>,
): CodecSpec | undefined {
  let spec: CodecSpec | undefined
  if (rtpmap) {
    spec = Object.values(CODECS).find((c) => c.rtpName.toLowerCase() === rtpmap.codec.toLowerCase())
    if (!spec || Number(rtpmap.rate) !== spec.clockRate) return undefined
    const channels = rtpmap.encoding === undefined ? 1 : Number(rtpmap.encoding)
    if (spec.channels === undefined ? channels !== 1 : channels < 1 || channels > spec.channels) return undefined
  } else {
    // A dynamic payload type means nothing without an rtpmap.
    spec = Object.values(CODECS).find((c) => c.staticPt === pt)
  }
  return spec && supported.has(spec.name) ? spec : undefined
}
