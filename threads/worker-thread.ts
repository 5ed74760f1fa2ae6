import { Worker, type WorkerOptions } from 'node:worker_threads'

// Workers inherit `--import tsx`, but on Node 20 tsx skips registering its hooks in worker threads
// (a .ts entry fails with ERR_UNKNOWN_FILE_EXTENSION), so a .ts worker is loaded through tsx's API.
// `threadName` (Linux, at most 15 characters) names the worker's OS thread first, so that `top -H`,
// `ps -L` and a profiler tell the media workers from the VAD and the rest (all "node" otherwise).
export function startWorker(url: URL, options: WorkerOptions & { threadName: string }): Worker {
  const { threadName, ...workerOptions } = options
  const name = `try { require('node:fs').writeFileSync('/proc/thread-self/comm', ${JSON.stringify(threadName.slice(0, 15))}) } catch {}`
  const entry = JSON.stringify(url.href)
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'))
  const load = url.pathname.endsWith('.ts') ? `import(${tsx}).then((tsx) => tsx.tsImport(${entry}, ${entry}))` : `import(${entry})`
  return new Worker(`${name}; ${load}`, { ...workerOptions, eval: true })
}
