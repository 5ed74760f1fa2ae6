// The Silero session lives here, off the media loop: onnxruntime-node runs inference
// synchronously on the calling thread, and a batch of 100 windows takes tens of ms.
import { execFileSync } from 'node:child_process'
import { readlinkSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parentPort } from 'node:worker_threads'
import * as ort from 'onnxruntime-node'
import { SILERO, sileroModelPath } from './silero-model.ts'

/** Nice value of the inference thread (the media loop stays at the process's own). */
const INFERENCE_NICE = 10

export interface InferRequest {
  id: number
  rate: number
  batch: number
  /** [batch, context + window] */
  input: Float32Array
  /** [2, batch, 128] */
  state: Float32Array
}

/** Finish the run in progress, release the session, and end the thread. */
export interface CloseRequest {
  close: true
}

export interface InferResult {
  id: number
  ok: true
  prob: Float32Array
  state: Float32Array
  /** time inside the model */
  ms: number
}

export type InferReply =
  | InferResult
  | { id: number; ok: false; error: string }
  | { ready: true }
  | { ready: false; error: string }

const port = parentPort!

// The pacing clock comes first: on Linux a thread's nice value is its own, so this lowers only
// the inference thread. A late VAD answer waits in the stream's backlog; a late RTP packet is
// heard. (Raising it back needs privileges, and a failure here changes nothing else.)
try {
  os.setPriority(INFERENCE_NICE)
} catch {
  // not permitted here: inference runs at the process's priority
}
// Linux: SCHED_IDLE on top, so the media loop preempts inference the moment it wakes rather
// than after the scheduler's slice (nice alone leaves the loop waiting behind a running batch
// when both share a core). chrt is util-linux; without it the nice value stands.
try {
  const tid = path.basename(readlinkSync('/proc/thread-self'))
  execFileSync('chrt', ['--idle', '--pid', '0', tid], { stdio: 'ignore' })
} catch {
  // not Linux, or no chrt: nice only
}

try {
  // One thread per run: batching, not threads, buys throughput, and the media loop keeps a core.
  const session = await ort.InferenceSession.create(sileroModelPath(), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  })
  const srByRate = new Map<number, ort.Tensor>()
  // The run inside onnxruntime, if any: the thread must not end under it (a terminate() then
  // aborts the whole process from the native completion).
  let running: Promise<void> = Promise.resolve()
  port.on('message', (req: InferRequest | CloseRequest) => {
    if ('close' in req) {
      void running.then(async () => {
        await session.release()
        process.exit(0)
      })
      return
    }
    running = infer(req)
  })
  const infer = async (req: InferRequest): Promise<void> => {
    try {
      let sr = srByRate.get(req.rate)
      if (!sr) srByRate.set(req.rate, (sr = new ort.Tensor('int64', BigInt64Array.from([BigInt(req.rate)]), [1])))
      const t0 = performance.now()
      const out = await session.run({
        input: new ort.Tensor('float32', req.input, [req.batch, req.input.length / req.batch]),
        state: new ort.Tensor('float32', req.state, [2, req.batch, SILERO.stateWidth]),
        sr,
      })
      const ms = performance.now() - t0
      const prob = new Float32Array(out.output.data as Float32Array)
      const state = new Float32Array(out.stateN.data as Float32Array)
      port.postMessage({ id: req.id, ok: true, prob, state, ms } satisfies InferReply, [prob.buffer as ArrayBuffer, state.buffer as ArrayBuffer])
    } catch (err) {
      port.postMessage({ id: req.id, ok: false, error: (err as Error).message } satisfies InferReply)
    }
  }
  port.postMessage({ ready: true } satisfies InferReply)
} catch (err) {
  port.postMessage({ ready: false, error: (err as Error).message } satisfies InferReply)
}
