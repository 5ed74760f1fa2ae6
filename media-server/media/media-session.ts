import type { Logger } from 'pino'
import type { CodecName } from '../../codecs/index.ts'
import type { DtmfSource, MediaDirection, MediaFaultPlace, RtpSessionOptions } from '../../rtp/rtp-session.ts'
import type { SrtpKeying } from '../../rtp/srtp/crypto-suite.ts'
import type { BargeInHoldOptions } from '../../vad/barge-in-hold.ts'

/**
 * The boundary between a call's control (SIP, the dialog, providers, storage: the main thread) and
 * its media (sockets, the pacing clock, jitter buffer, codecs, recording, the transfer relay). The
 * media runs in-process (`LocalMediaPlane`, MEDIA_WORKERS=0) or in media worker threads
 * (`WorkerMediaPlane`); a call cannot tell which. Everything that crosses is plain data.
 */

/** What a call's media session is built from, once its SDP is negotiated: the RTP session's
 *  options that are plain data (they cross to a media worker), and what replaces the rest. */
export type SessionSpec = Pick<
  RtpSessionOptions,
  'payloadType' | 'telephoneEventPt' | 'remote' | 'rtcpMux' | 'signallingAddress' | 'ptimeMs' | 'jitter' | 'cname' | 'srtp'
> & {
  callId: string
  /** the port pair allocated for the call (RTP on it, RTCP on port + 1) */
  port: number
  codec: CodecName
  opusComplexity: number
  direction: MediaDirection
  /** step one of barge-in, run beside the audio (the frame length is the packet time) */
  bargeIn: Omit<BargeInHoldOptions, 'frameMs'>
}

/** A bridged transfer: relay the caller's port pair to the seller leg's, packet for packet. */
export interface BridgeSpec {
  /** the seller leg's port pair, allocated on the same media plane */
  sellerPort: number
  seller: {
    rtp: { address: string; port: number }
    rtcp: { address: string; port: number }
    /** the seller's SIP address: its media may come from there (behind NAT) */
    signallingAddress: string
    rtcpMux: boolean
    payloadTypes: number[]
    /** the seller's leg is SRTP with these keys (its own, not the caller's) */
    srtp?: SrtpKeying
  }
  caller: { rtcpMux: boolean; payloadTypes: number[] }
  /** the codec both legs use, decoded for the recording */
  codec: { name: CodecName; payloadType: number }
}

/** How the call's recording ended: its length, and why it stopped early if it did. */
export interface RecordingResult {
  seconds: number
  error?: string
}

/** What a session leaves when it closes: its final statistics, and how its recording ended. */
export interface ClosedSession {
  stats: Record<string, unknown>
  recording?: RecordingResult
}

/** Where a media fault happened: the session's own places, or the recording. */
export type MediaFault = MediaFaultPlace | 'recording' | 'media-worker'

export interface MediaSession {
  /** the codec's audio rate on the line (8 kHz for G.711) */
  readonly lineRate: number
  /** the caller's audio at 16 kHz (and at the line's rate), with the echo gate's verdict on it:
   *  the caller's own voice (true) or the bot's coming back; both are views reused after the
   *  call returns (copy what is kept) */
  onAudio: (pcm: Int16Array, line: Int16Array, nearEnd: boolean) => void
  /** the caller's loud audio since `onsetMs` held, at `atMs`, a prompt that watchBargeIn() allowed
   *  to be held (times on the call's timeline, see confirm) */
  onHeld: (onsetMs: number, atMs: number) => void
  onDtmf: (digit: string, source: DtmfSource) => void
  /** the first packet of a prompt left */
  onPromptStart: () => void
  /** the session stopped itself on a fault; end the call */
  onFault: (err: unknown, where: MediaFault) => void
  /** join the pacing clock (silence flows; nothing is sent before confirm() or the caller's RTP) */
  start(): void
  /** the ACK; `timelineOrigin` (performance.timeOrigin + performance.now() at the call's time
   *  zero) puts the media's times on the call's timeline, whatever thread it runs on */
  confirm(timelineOrigin: number): void
  /** 16 kHz audio; resolves true when its last packet left, false when flushed */
  play(pcm: Int16Array): Promise<boolean>
  hold(): void
  resume(): void
  flush(): void
  /** while true, the caller's loud audio holds the playing prompt at once (onHeld) */
  watchBargeIn(on: boolean): void
  /** the level that counts as loud: the endpointer's noise floor and margin */
  setLoudDb(db: number): void
  update(remote: { address: string; port: number; rtcpPort: number }, direction: MediaDirection): void
  /** RTP statistics, the peer's address, the echo path, the relay's counts when bridged */
  stats(): Record<string, unknown>
  /** start recording the call to a stereo WAV at `path` (caller left, bot or seller right) */
  record(path: string): Promise<void>
  /** the bot leaves the line: the caller's packets are relayed to the seller leg and back */
  bridge(spec: BridgeSpec): void
  /** stop everything and close the recording; the port pairs are the plane's to release */
  close(): Promise<ClosedSession>
}

export interface MediaPlane {
  /** a port pair for a call, or for a seller leg `near` the call's session; null when none is free (503) */
  allocate(near?: MediaSession): Promise<number | null>
  release(port: number): void
  open(spec: SessionSpec, logger: Logger): MediaSession
  /** free port pairs */
  readonly available: number
  /** ports handed out and not released, for the invariant check */
  readonly inUse: ReadonlySet<number>
  close(): Promise<void>
}
