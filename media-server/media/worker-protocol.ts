import type { MediaDirection } from '../../rtp/rtp-session.ts'
import type { DtmfSource } from '../../rtp/rtp-session.ts'
import type { BridgeSpec, MediaFault, RecordingResult, SessionSpec } from './media-session.ts'

/**
 * The typed protocol between the main thread and a media worker. Commands go one way, events the
 * other; a command that needs an answer carries `req` and is answered by an event with the same
 * `req`. Audio never travels here as a message per packet: prompts go as one transferred buffer
 * each, and the call's audio comes back through its PcmRing.
 */
export type Command =
  | { t: 'allocate'; req: number }
  | { t: 'release'; port: number }
  | { t: 'open'; id: string; spec: SessionSpec }
  /** `ring`: where the call's audio goes from now on; made at the ACK, not at the INVITE, so that a
   *  flood of INVITEs that are never ACKed costs no ring each */
  | { t: 'confirm'; id: string; ring: SharedArrayBuffer; timelineOrigin: number }
  | { t: 'start' | 'hold' | 'resume' | 'flush'; id: string }
  | { t: 'watchBargeIn'; id: string; on: boolean }
  | { t: 'loudDb'; id: string; db: number }
  | { t: 'play'; id: string; req: number; audio: PlayAudio }
  /** the main thread no longer holds this stored prompt: the worker drops its copy */
  | { t: 'forget'; prompt: number }
  | { t: 'update'; id: string; remote: { address: string; port: number; rtcpPort: number }; direction: MediaDirection }
  | { t: 'record'; id: string; req: number; path: string }
  | { t: 'bridge'; id: string; spec: BridgeSpec }
  | { t: 'close'; id: string; req: number }

/**
 * A prompt's audio, at 16 kHz and at the line's rate (resampled on the main thread, not on the
 * clock's). A prompt that many calls play (the scenario's) crosses once per worker and is stored
 * there under a number; each later play names it. One-off audio (a streamed reply) crosses each
 * time. Fresh buffers on every play made the workers' external memory churn, and V8 answered
 * with mark-compacts of 10-18 ms that delayed ticks.
 */
export type PlayAudio = { pcm: Int16Array; line: Int16Array; store?: number } | { stored: number }

export type GcKind = 'minor' | 'major' | 'incremental' | 'weak'

/** Counters a worker adds up and reports once a second (the main thread's registry exports them). */
export interface WorkerCounts {
  rtpIn: number
  rtpOut: number
  dropped: Record<string, number>
  /** the clock's lateness of every tick since the last report, ms */
  lateness: number[]
  /** the worker's garbage-collection pauses since the last report, ms, by kind */
  gcPauses: Partial<Record<GcKind, number[]>>
  /** the main thread fell behind reading a call's audio: records dropped */
  ringDropped: number
}

/** A worker's free port pairs, and how many release commands it had handled when it counted them:
 *  the main thread adds the releases it sent since, so that a count that crossed a release on the
 *  way never takes back a pair already freed. */
export interface PoolCount {
  available: number
  released: number
}

export type WorkerEvent =
  | { t: 'ready' }
  | { t: 'allocated'; req: number; port: number | null; pool: PoolCount }
  | { t: 'played'; id: string; req: number; ok: boolean }
  | { t: 'recorded'; id: string; req: number; error?: string }
  | { t: 'closed'; id: string; req: number; recording?: RecordingResult; stats: Record<string, unknown>; pool: PoolCount }
  | { t: 'dtmf'; id: string; digit: string; source: DtmfSource }
  | { t: 'promptStart'; id: string }
  /** step one of barge-in: the worker held the prompt itself (MediaSession.onHeld) */
  | { t: 'held'; id: string; onsetMs: number; atMs: number }
  | { t: 'fault'; id: string; where: MediaFault; message: string }
  /** the statistics of every live session, and the counters, once a second */
  | { t: 'report'; stats: Record<string, Record<string, unknown>>; counts: WorkerCounts; pool: PoolCount }

/** What a worker is started with (workerData). */
export interface WorkerInit {
  index: number
  portMin: number
  portMax: number
  host: string
  /** SCHED_RR for the worker's thread, when the host permits (see threads/thread-priority.ts) */
  realtime: boolean
  /** SharedArrayBuffer with one Int32: bumped and notified after each tick that wrote audio */
  doorbell: SharedArrayBuffer
  /** the ports a dead predecessor's calls held: handed out last, since their callers may still stream to them */
  lastPorts: number[]
}
