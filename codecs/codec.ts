/**
 * One RTP audio codec, stateless or carrying its own per-stream state. Both directions write
 * into caller-provided buffers so the per-packet path does not allocate.
 */
export interface AudioCodec {
  /** RTP encoding name as used in SDP rtpmap, e.g. 'PCMU'. */
  readonly name: string;
  /** RTP timestamp clock rate in Hz (rtpmap rate). */
  readonly clockRate: number;
  /** Sample rate of the linear PCM that decode produces and encode expects, in Hz. */
  readonly sampleRate: number;
  /** Decodes one payload into `out`; returns the number of samples written. */
  decode(payload: Uint8Array, out: Int16Array): number;
  /** Encodes `pcm` into `out`; returns the number of bytes written. */
  encode(pcm: Int16Array, out: Uint8Array): number;
}
