// GET /api/calls/:id/recording: a finished call's WAV, for the console's player and for download.
// The file is found by the call's id under DATA_DIR/calls (never by a path from a request), and
// byte ranges are served so a player can seek.
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import type http from 'node:http'
import type { CallStore } from '../../crm/call-store.ts'
import { recordingPathOf } from '../call/crash-recovery.ts'

const PATH = /^\/api\/calls\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/recording$/i

export type RecordingRoute = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => Promise<boolean>

function fail(res: http.ServerResponse, status: number, error: string): void {
  const text = JSON.stringify({ error })
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

export function createRecordingRoute(deps: { store: Pick<CallStore, 'getCall'>; dataDir: string; live: (id: string) => boolean }): RecordingRoute {
  return async (req, res, url) => {
    const m = PATH.exec(url.pathname)
    if (!m) return false
    const id = m[1].toLowerCase()
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD')
      return (fail(res, 405, 'method not allowed'), true)
    }
    const call = await deps.store.getCall(id)
    if (!call) return (fail(res, 404, `no call ${id}`), true)
    // the writer finalises the header at the hang-up: a live call's file is not a valid WAV yet
    if (deps.live(id) || !call.endedAt) return (fail(res, 409, 'the call is in progress: its recording is complete when it ends'), true)
    if (!call.recordingPath) return (fail(res, 404, `call ${id} has no recording${call.recordingError ? ` (${call.recordingError})` : ''}`), true)
    const file = recordingPathOf(deps.dataDir, id)
    const size = await stat(file).then(
      (s) => s.size,
      () => undefined,
    )
    if (size === undefined) return (fail(res, 404, `the recording of call ${id} is gone from the disk`), true)
    const range = byteRange(req.headers.range, size)
    if (range === 'unsatisfiable') {
      res.writeHead(416, { 'content-range': `bytes */${size}` })
      return (res.end(), true)
    }
    const [start, end] = range ?? [0, size - 1]
    res.writeHead(range ? 206 : 200, {
      'content-type': 'audio/wav',
      'content-length': end - start + 1,
      'accept-ranges': 'bytes',
      'content-disposition': `inline; filename="call-${id}.wav"`,
      ...(range && { 'content-range': `bytes ${start}-${end}/${size}` }),
    })
    if (req.method === 'HEAD' || size === 0) return (res.end(), true)
    createReadStream(file, { start, end })
      .on('error', () => res.destroy())
      .pipe(res)
    return true
  }
}

/** One `bytes=a-b`, `a-` or `-n` range (what players send); undefined: the whole file. */
export function byteRange(header: string | undefined, size: number): [number, number] | 'unsatisfiable' | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? '')
  if (!m || (m[1] === '' && m[2] === '')) return undefined
  let start: number
  let end: number
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]))
    end = size - 1
  } else {
    start = Number(m[1])
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)
  }
  if (start >= size || start > end) return 'unsatisfiable'
  return [start, end]
}
