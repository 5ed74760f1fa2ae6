/**
 * One RTP audio codec, stateless or carrying its own per-stream state. Both directions write
 * into caller-provided buffers so the per-packet path does not allocate.
 */
export interface AudioCodec {
  /** RTP encoding name as used in SDP rtpmap, e.g. 'PCMU'. */
  readonly name: string
  /** RTP timestamp clock rate in Hz (rtpmap rate). */
  readonly clockRate: number
  /** Sample rate of the linear PCM that decode produces and encode expects, in Hz. */
  readonly sampleRate: number
  /** Decodes one payload into `out`; returns the number of samples written. */
  decode(payload: Uint8Array, out: Int16Array): number
  /** Encodes `pcm` into `out`; returns the number of bytes written. */
  encode(pcm: Int16Array, out: Uint8Array): number
  /**
   * Keeps the encoder's state as it is now. A packet is encoded ahead of its send and may be
   * dropped before it (barge-in); restoreEncoder() then takes it back, so the far end's decoder,
   * which never sees that packet, stays in step with the encoder.
   */
  saveEncoder(): void
  /** Puts the encoder back to where the last saveEncoder() found it. */
  restoreEncoder(): void
}
