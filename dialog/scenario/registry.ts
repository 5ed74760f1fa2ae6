// Scenarios per dialled number: a directory of YAML files, an optional `numbers.yaml` in it that
// maps numbers to files (with a default), and hot reload on change. A file that fails to load is
// rejected with its precise message and the last good version of it keeps serving.
import { EventEmitter } from 'node:events'
import { watch, type FSWatcher } from 'node:fs'
import { access, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Worker } from 'node:worker_threads'
import { startWorker } from '../../threads/worker-thread.ts'
import type { Logger } from 'pino'
import { ScenarioError, type ScenarioProblem } from './loader.ts'
import type { LoadReply, LoadRequest } from './loader-worker.ts'
import type { Scenario } from './schema.ts'
import { normalizeNumber, type NumberMap } from './number-map.ts'

export interface RegistryOptions {
  /** the directory of scenario files (*.yaml, *.yml) */
  dir: string
  logger: Logger
  /** the file that maps dialled numbers to scenarios; default numbers.yaml */
  mapFile?: string
  /** served when no mapping exists or a number is not in it; default sales.yaml */
  defaultFile?: string
  /** file changes within this window are one reload; default 150 ms */
  debounceMs?: number
}

export interface ScenarioRegistryEvents {
  /** a scenario file (or the number map) was (re)loaded */
  loaded: [file: string]
  /** a changed file was refused; the previous version stays */
  rejected: [file: string, error: ScenarioError]
}

const isScenarioFile = (f: string) => /\.ya?ml$/.test(f)

export class ScenarioRegistry extends EventEmitter<ScenarioRegistryEvents> {
  private readonly scenarios = new Map<string, Scenario>()
  private map: NumberMap = { numbers: {} }
  private mapLoaded = false
  private mapRejected = false
  private watcher?: FSWatcher
  private worker?: Worker
  private readonly jobs = new Map<number, (reply: LoadReply) => void>()
  private nextJob = 1
  private readonly timers = new Map<string, NodeJS.Timeout>()
  /** the newest load per file, so a slow older load cannot overwrite a newer one */
  private readonly generation = new Map<string, number>()
  private readonly mapFile: string
  private readonly defaultFile: string

  private constructor(private readonly opts: RegistryOptions) {
    super()
    this.mapFile = opts.mapFile ?? 'numbers.yaml'
    this.defaultFile = opts.defaultFile ?? 'sales.yaml'
  }

  /**
   * Loads every scenario in the directory and starts watching it. Bad files are logged and
   * skipped; it fails only when the default scenario (or the number map) cannot be loaded.
   */
  static async open(opts: RegistryOptions): Promise<ScenarioRegistry> {
    const r = new ScenarioRegistry(opts)
    try {
      const files = (await readdir(opts.dir)).filter((f) => isScenarioFile(f) && f !== r.mapFile)
      await Promise.all(files.map((f) => r.reload(f)))
      const hasMap = await access(join(opts.dir, r.mapFile)).then(
        () => true,
        () => false,
      )
      if (hasMap && !(await r.reload(r.mapFile))) throw new Error(`${r.mapFile}: the number map could not be loaded (see the log)`)
      if (!r.scenarios.has(r.defaultScenarioFile())) throw new Error(`${r.defaultScenarioFile()}: the default scenario could not be loaded (see the log)`)
      r.watcher = watch(opts.dir, (_event, name) => name && isScenarioFile(name) && r.schedule(name))
      r.watcher.on('error', (err) => opts.logger.error({ err, dir: opts.dir }, 'scenario directory watch failed; hot reload stopped'))
    } catch (err) {
      r.close()
      throw err
    }
    return r
  }

  /** The scenario for a dialled number (digits, +E.164 or a SIP URI); the default when unmapped. */
  forNumber(dialled: string | undefined): Scenario {
    const file = (dialled && this.map.numbers[normalizeNumber(dialled)]) || this.defaultScenarioFile()
    return this.scenarios.get(file) ?? this.scenarios.get(this.defaultScenarioFile())!
  }

  /** A loaded scenario by file name. */
  get(file: string): Scenario | undefined {
    return this.scenarios.get(file)
  }

  get files(): string[] {
    return [...this.scenarios.keys()].sort()
  }

  close(): void {
    this.watcher?.close()
    for (const t of this.timers.values()) clearTimeout(t)
    this.timers.clear()
    void this.worker?.terminate()
    this.worker = undefined
  }

  private defaultScenarioFile(): string {
    return this.map.default ?? this.defaultFile
  }

  private schedule(file: string): void {
    clearTimeout(this.timers.get(file))
    this.timers.set(
      file,
      setTimeout(() => {
        this.timers.delete(file)
        void this.reload(file)
      }, this.opts.debounceMs ?? 150),
    )
  }

  /** Loads one file; true when it now serves. */
  private async reload(file: string): Promise<boolean> {
    const path = join(this.opts.dir, file)
    const gen = (this.generation.get(file) ?? 0) + 1
    this.generation.set(file, gen)
    if (
      !(await access(path).then(
        () => true,
        () => false,
      ))
    ) {
      if (this.scenarios.has(file)) this.opts.logger.warn({ file }, 'scenario file removed; its last version keeps serving')
      return false
    }
    const id = this.nextJob++
    const reply = await this.load(
      file === this.mapFile ? { id, kind: 'numbers', path, scenarioFiles: [...this.scenarios.keys()] } : { id, kind: 'scenario', path },
    )
    if (this.generation.get(file) !== gen) return false
    if ('problems' in reply) {
      const e = new ScenarioError(reply.problems)
      const keeping = file === this.mapFile ? this.mapLoaded : this.scenarios.has(file)
      this.opts.logger.error({ file, problems: e.problems }, `scenario file rejected${keeping ? ', the last good version keeps serving' : ''}:\n${e.message}`)
      if (file === this.mapFile) this.mapRejected = true
      this.emit('rejected', file, e)
      return false
    }
    if ('numbers' in reply) {
      this.map = reply.numbers
      this.mapLoaded = true
      this.mapRejected = false
    } else if ('scenario' in reply) {
      this.scenarios.set(file, reply.scenario)
      // a map naming a file that had not loaded yet gets another chance
      if (this.mapRejected && this.watcher) this.schedule(this.mapFile)
    }
    this.opts.logger.info({ file }, 'scenario loaded')
    this.emit('loaded', file)
    return true
  }

  private load(req: LoadRequest): Promise<LoadReply> {
    return new Promise((resolve) => {
      this.jobs.set(req.id, resolve)
      const w = this.ensureWorker()
      w.ref() // a pending load keeps the process up; an idle worker does not
      w.postMessage(req)
    })
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker
    const w = startWorker(new URL('./loader-worker.ts', import.meta.url), { threadName: 'scenario-load' })
    w.on('message', (reply: LoadReply) => {
      const done = this.jobs.get(reply.id)
      this.jobs.delete(reply.id)
      if (!this.jobs.size) w.unref()
      done?.(reply)
    })
    const fail = (why: string) => {
      if (this.worker === w) this.worker = undefined
      const problem: ScenarioProblem = { file: '', line: 0, field: '', message: `scenario loader stopped: ${why}` }
      for (const [id, done] of this.jobs) done({ id, problems: [problem] })
      this.jobs.clear()
    }
    w.on('error', (err) => fail(err.message))
    w.on('exit', (code) => fail(`exit ${code}`))
    w.unref()
    this.worker = w
    return w
  }
}
