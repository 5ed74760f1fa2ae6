// Atomics.waitAsync is in Node 20 (V8) but in TypeScript's lib only from ES2024, which this
// project's ES2022 target does not include.
interface Atomics {
  waitAsync(
    typedArray: Int32Array,
    index: number,
    value: number,
    timeout?: number,
  ): { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> }
}
