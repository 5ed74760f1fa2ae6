import { rm, stat } from 'node:fs/promises'
import path from 'node:path'
import type { Logger } from 'pino'
import { appendWavFile, repairWavHeader } from '../../codecs/wav.ts'
import type { DurableCallStore } from '../../crm/durable-store.ts'

/** Where a call's recording lives (Call writes it there). */
export const recordingPathOf = (dataDir: string, id: string): string => `${dataDir}/calls/${id}/call.wav`

/** Where FreeSWITCH records a transfer it bridged (MEDIA_BACKEND=freeswitch), beside the call's
 *  recording, until the call's end joins it on (anchored-transfer.ts). */
export const bridgeRecordingOf = (callRecording: string): string => path.join(path.dirname(callRecording), 'bridge.wav')

/**
 * At start, before calls are taken: this instance's calls that never ended were cut by a crash
 * (kill -9, power, OOM). Each is closed as failed with end reason 'crash', ended when its recording
 * was last written, and the recording's header is set from the audio on disk (the writer keeps it
 * at most 2 s behind, so the repair only adds those last seconds). Run after the journal replay,
 * so calls the last run only journalled are in the table. Returns how many were closed.
 */
export async function closeCrashedCalls(store: DurableCallStore, dataDir: string, logger: Logger): Promise<number> {
  const ids = await store.openCalls(store.instanceId)
  for (const id of ids) {
    const log = logger.child({ callId: id })
    const path = recordingPathOf(dataDir, id)
    let repaired: Awaited<ReturnType<typeof repairWavHeader>> = null
    let endedAt = new Date()
    try {
      endedAt = (await stat(path)).mtime // before the repair writes to it: the last audio the call got
      repaired = await repairWavHeader(path)
      if (repaired) repaired.seconds += await joinBridgeRecording(path, (t) => (endedAt = t > endedAt ? t : endedAt))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ err, path }, 'recording of a crashed call could not be repaired')
    }
    // a crashed call is a finished call for the CRM too: its lead (filed before the crash, if any) goes out
    await store.finishCall(id, {
      endedAt,
      result: 'failed',
      endReason: 'crash',
      ...(repaired && { recordingPath: path, recordingError: `crash: the recording ends where the process stopped (${repaired.seconds.toFixed(1)} s)` }),
    })
    log.warn({ recording: repaired && { path, seconds: repaired.seconds, headerRepaired: repaired.repaired } }, 'call left open by a crash closed')
  }
  return ids.length
}

/** A transfer FreeSWITCH bridged when the process stopped: its recording is joined on as at a call's
 *  end (FreeSWITCH closed it when our ESL sockets went); `lastAudio` gets when it was last written. */
async function joinBridgeRecording(callRecording: string, lastAudio: (at: Date) => void): Promise<number> {
  const bridged = bridgeRecordingOf(callRecording)
  let at: Date
  try {
    at = (await stat(bridged)).mtime
  } catch {
    return 0
  }
  lastAudio(at)
  const seconds = await appendWavFile(callRecording, bridged)
  await rm(bridged, { force: true })
  return seconds
}
