// What one Silero window costs per stream, by model version, rate and batch size, with the
// server's session options (one thread, sequential, all graph optimisations):
//
//   node --import tsx test/bench/silero-models.ts      (SILERO_BATCHES=1,32,100,200 to change)
//
// All three models ship in @ricky0123/vad-web: v4 ("legacy": h and c, [2, batch, 64] each, the
// window alone) and v5/v6 (one state [2, batch, 128], the window prefixed by 64 / 32 samples of
// context). The input is a tone with noise: the cost does not depend on what is said.
import path from 'node:path'
import * as ort from 'onnxruntime-node'
import { SILERO, sileroModelPath } from '../../vad/silero-model.ts'

const BATCHES = (process.env.SILERO_BATCHES ?? '1,32,100,200').split(',').map(Number)
const MODELS = { v4: 'silero_vad_legacy.onnx', v5: 'silero_vad_v5.onnx', v6: 'silero_vad_v6.onnx' }
const ROUNDS = 5 // best of, so that another process's burst on a shared machine does not count

function feeds(version: keyof typeof MODELS, rate: 8000 | 16000, batch: number): Record<string, ort.Tensor> {
  const context = version === 'v4' ? 0 : SILERO.context[rate]
  const width = context + SILERO.window[rate]
  const input = Float32Array.from({ length: batch * width }, (_, i) => 0.3 * Math.sin(i * 0.07) + 0.05 * (((i * 7919) % 1000) / 1000 - 0.5))
  const sr = new ort.Tensor('int64', BigInt64Array.from([BigInt(rate)]), [1])
  const x = new ort.Tensor('float32', input, [batch, width])
  if (version === 'v4') {
    const zero = () => new ort.Tensor('float32', new Float32Array(2 * batch * 64), [2, batch, 64])
    return { input: x, sr, h: zero(), c: zero() }
  }
  return { input: x, sr, state: new ort.Tensor('float32', new Float32Array(2 * batch * SILERO.stateWidth), [2, batch, SILERO.stateWidth]) }
}

const dir = path.dirname(sileroModelPath())
console.log(`Silero cost per window and stream (us), best of ${ROUNDS}; batches ${BATCHES.join(', ')}`)
for (const [version, file] of Object.entries(MODELS) as [keyof typeof MODELS, string][]) {
  const session = await ort.InferenceSession.create(path.join(dir, file), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  })
  for (const rate of [16000, 8000] as const) {
    const row: string[] = []
    for (const batch of BATCHES) {
      const f = feeds(version, rate, batch)
      for (let i = 0; i < 20; i++) await session.run(f) // warm-up
      let best = Infinity
      for (let r = 0; r < ROUNDS; r++) {
        const runs = Math.max(10, Math.round(2000 / batch))
        const t0 = performance.now()
        for (let i = 0; i < runs; i++) await session.run(f)
        best = Math.min(best, (performance.now() - t0) / runs / batch)
      }
      row.push(`batch ${batch}: ${Math.round(best * 1000)}`)
    }
    console.log(`${version} ${rate / 1000} kHz  ${row.join('  ')}`)
  }
  await session.release()
}
