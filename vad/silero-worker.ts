// The Silero session lives here, off the media loop: onnxruntime-node runs inference
// synchronously on the calling thread, and a batch of 100 windows takes tens of ms.
import { parentPort } from 'node:worker_threads'
import * as ort from 'onnxruntime-node'
import { lowerForBackground } from '../threads/thread-priority.ts'
import { SILERO, sileroModelPath } from './silero-model.ts'

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

export type InferReply = InferResult | { id: number; ok: false; error: string } | { ready: true } | { ready: false; error: string }

const port = parentPort!

// The pacing clock comes first: a late VAD answer waits in the stream's backlog; a late RTP packet
// is heard. Linux sets nice and SCHED_IDLE per thread, so this lowers the inference thread alone.
lowerForBackground()

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
