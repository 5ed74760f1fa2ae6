import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

/** One prompt cache for every test server and caller script of a test run (per user), so each
 *  prompt is synthesised once, not by every server in the background while other tests run. */
export const TEST_PROMPT_CACHE = path.join(os.tmpdir(), `voice-test-prompts-${os.userInfo().uid}`)

export interface ServerHandle {
  /** The child's process id (for /proc/<pid>/status). */
  pid: number
  /** Settles with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string | null>
  sipPort: number
  httpPort: number
  dataDir: string
  logs: string[]
  /** The process's exit code, once it has exited (null: killed by a signal). */
  exitCode: Promise<number | null>
  api<T = any>(p: string): Promise<{ status: number; body: T }>
  stop(): Promise<void>
  /** Kills the process with `signal` (a crash: SIGKILL) and waits for it to be gone. */
  kill(signal: NodeJS.Signals): Promise<void>
}

/** Node's arguments from `npm start` (its V8 heap flags included), so that tests and the load test
 *  run the server exactly as a user does. */
const START_ARGS: string[] = (() => {
  const start: string = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')).scripts.start
  const words = start.split(/\s+/)
  return words.slice(words.indexOf('node') + 1)
})()

/**
 * Starts the real server as a child process (the command of `npm start`),
 * on ports the OS picks, and waits for its "ready to take calls" log line.
 */
export async function startServerProcess(env: Record<string, string> = {}, opts: { maxLogLines?: number } = {}): Promise<ServerHandle> {
  const dataDir = env.DATA_DIR ?? mkdtempSync(path.join(os.tmpdir(), 'voice-test-'))
  const child: ChildProcess = spawn(process.execPath, START_ARGS, {
    cwd: REPO,
    env: {
      ...process.env,
      SIP_HOST: '127.0.0.1',
      SIP_PORT: '0',
      HTTP_PORT: '0',
      HTTP_HOST: '127.0.0.1',
      PUBLIC_IP: '127.0.0.1',
      DATA_DIR: dataDir,
      PROMPT_CACHE_DIR: TEST_PROMPT_CACHE,
      LOG_LEVEL: 'info',
      // stop() sends SIGTERM: calls get their BYE at once rather than a 300 s drain; drain tests set their own
      DRAIN_TIMEOUT_S: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const logs: string[] = []
  const exitCode = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const ready = new Promise<{ sip: number; http: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server not ready in 90 s:\n${logs.slice(-20).join('\n')}`)), 90_000)
    let buffered = ''
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString()
      let nl
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        logs.push(line)
        // long runs (the fuzzer) keep only the tail
        if (opts.maxLogLines && logs.length > opts.maxLogLines * 2) logs.splice(0, logs.length - opts.maxLogLines)
        if (line.includes('ready to take calls')) {
          clearTimeout(timer)
          const j = JSON.parse(line)
          resolve({ sip: j.sip.port, http: j.http })
        }
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`server exited with ${code}:\n${logs.slice(-20).join('\n')}`))
    })
  })
  const ports = await ready.catch((err) => {
    child.kill('SIGKILL')
    throw err
  })
  const base = `http://127.0.0.1:${ports.http}`
  const exited =
    child.exitCode !== null
      ? Promise.resolve(child.exitCode)
      : new Promise<number | string | null>((r) => child.once('exit', (code, signal) => r(code ?? signal)))
  return {
    pid: child.pid!,
    exited,
    sipPort: ports.sip,
    httpPort: ports.http,
    dataDir,
    logs,
    exitCode,
    async api(p) {
      // with API_TOKEN set, as an operator's client would call it
      const res = await fetch(base + p, env.API_TOKEN ? { headers: { authorization: `Bearer ${env.API_TOKEN}` } } : undefined)
      return { status: res.status, body: await res.json() }
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    },
    async kill(signal) {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise((r) => child.once('exit', r))
      child.kill(signal)
      await exited
    },
  }
}
