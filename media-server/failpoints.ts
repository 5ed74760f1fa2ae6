/**
 * Failpoints: named places on a call's path where a test can make the code throw, to prove that a
 * fault there ends that one call cleanly (BYE, record with the reason) and nothing else. Off unless
 * VOICE_FAILPOINTS names them, e.g. `rtp.packet,clock.tick=3`: the point throws on its first hit (or
 * its Nth), once, so the calls after it run normally. Unset, a hit costs one Map lookup on an empty map.
 */
export type FailpointName =
  | 'sip.event' // a SIP event handled for the call (INFO, re-INVITE, the dialog's end)
  | 'rtp.packet' // an RTP packet from the caller
  | 'rtcp.packet' // an RTCP packet from the caller
  | 'rtcp.timer' // our periodic RTCP report
  | 'clock.tick' // the send phase of the pacing clock
  | 'clock.after' // playout, decoding, VAD after the send phase
  | 'recording' // the call's recording
  | 'dialog' // the scenario or the agent
  | 'dialog.stall' // the dialog waits for ever, deaf to the hang-up: only the watchdog ends the call
  | 'media-worker.crash' // a media worker thread dies (uncaught) when a prompt is played on it

const armed = parse(process.env.VOICE_FAILPOINTS ?? '')

function parse(spec: string): Map<string, number> {
  const points = new Map<string, number>()
  for (const item of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [name, nth] = item.split('=')
    points.set(name, Math.max(1, Number(nth) || 1))
  }
  return points
}

export class FailpointError extends Error {
  constructor(readonly point: FailpointName) {
    super(`failpoint ${point}`)
  }
}

/** Whether `name` is armed and this is its Nth hit (then it is disarmed). */
function hit(name: FailpointName): boolean {
  if (armed.size === 0) return false
  const left = armed.get(name)
  if (left === undefined) return false
  if (left > 1) {
    armed.set(name, left - 1)
    return false
  }
  armed.delete(name)
  return true
}

/** Throws when `name` is armed and this is its Nth hit. */
export function failpoint(name: FailpointName): void {
  if (hit(name)) throw new FailpointError(name)
}

/** A promise that never settles when `name` is armed and this is its Nth hit: a stuck await. */
export function stallpoint(name: FailpointName): Promise<void> | undefined {
  return hit(name) ? new Promise(() => {}) : undefined
}
