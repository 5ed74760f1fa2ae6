import { createRequire } from 'node:module'
import path from 'node:path'

/**
 * The Silero VAD v6 ONNX model that ships inside @ricky0123/vad-web: nothing is downloaded.
 * v6 (like v5) costs a third of v4 per window at 8 kHz and two thirds at 16 kHz on this
 * project's bench machine, in batches; v4 (`silero_vad_legacy.onnx`) is in the same package.
 */
export function sileroModelPath(): string {
  const main = createRequire(import.meta.url).resolve('@ricky0123/vad-web')
  return path.join(path.dirname(main), 'silero_vad_v6.onnx')
}

/**
 * The model's tensors, as silero-vad's own OnnxWrapper feeds them: `input` [batch, context +
 * window] float32, the window prefixed by the last `context` samples of the stream's previous
 * window; `state` [2, batch, 128] float32, carried from `stateN`; `sr` int64; `output` [batch, 1].
 */
export const SILERO = {
  window: { 8000: 256, 16000: 512 },
  context: { 8000: 32, 16000: 64 },
  stateWidth: 128,
} as const
