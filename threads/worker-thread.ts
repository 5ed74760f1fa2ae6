import { Worker, type WorkerOptions } from 'node:worker_threads'

// Workers inherit `--import tsx`, but on Node 20 tsx skips registering its hooks in worker threads
// (a .ts entry fails with ERR_UNKNOWN_FILE_EXTENSION), so a .ts worker is loaded through tsx's API.
export function startWorker(url: URL, options: WorkerOptions = {}): Worker {
  if (!url.pathname.endsWith('.ts')) return new Worker(url, options)
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'))
  const entry = JSON.stringify(url.href)
  return new Worker(`import(${tsx}).then((tsx) => tsx.tsImport(${entry}, ${entry}))`, { ...options, eval: true })
}
