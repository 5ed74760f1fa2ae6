// A server the tests start (Kamailio, drachtio-server, FreeSWITCH): in its own process group, so
// that stop() reaches every process it forked (an orphaned worker keeps the log pipe open, and with
// it the test's process, until tap times out), with its output kept for error messages.
import { spawn, type ChildProcess } from 'node:child_process'

export interface GroupProcess {
  /** the main process's id (its CPU time is in /proc/<pid>/stat) */
  readonly pid: number
  /** everything it printed so far */
  log(): string
  readonly exited: boolean
  /** SIGTERM to the group, up to 5 s for it to go (FreeSWITCH takes ~9 s to stop: `graceMs`), then SIGKILL */
  stop(graceMs?: number): Promise<void>
  /** SIGKILL to the group at once (a crash), and waits for the main process to be gone */
  kill(): Promise<void>
}

export function spawnGroup(cmd: string, args: string[], env?: NodeJS.ProcessEnv): GroupProcess {
  const child: ChildProcess = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...(env && { env }) })
  let log = ''
  child.stdout!.on('data', (d) => (log += d))
  child.stderr!.on('data', (d) => (log += d))
  let exited = false
  child.on('exit', () => (exited = true))
  const group = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal)
    } catch {
      // the group is gone already
    }
  }
  // a test that ends without its teardown (a thrown assertion, tap's timeout) must not leave it behind
  const orphanGuard = () => group('SIGKILL')
  process.once('exit', orphanGuard)
  return {
    pid: child.pid!,
    log: () => log,
    get exited() {
      return exited
    },
    async stop(graceMs = 5000) {
      process.off('exit', orphanGuard)
      if (!exited) {
        const gone = new Promise((r) => child.once('exit', r))
        group('SIGTERM')
        await Promise.race([gone, new Promise((r) => setTimeout(r, graceMs))])
      }
      group('SIGKILL') // what the main process left behind, if anything
      child.stdout!.destroy()
      child.stderr!.destroy()
    },
    async kill() {
      const gone = exited ? Promise.resolve() : new Promise((r) => child.once('exit', r))
      group('SIGKILL')
      await gone
    },
  }
}

/** Polls `ready` every 100 ms until it says yes; fails when the process exits or after `ms`. */
export async function waitUntil(p: GroupProcess, what: string, ms: number, ready: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    if (p.exited) throw new Error(`${what}: exited at start:\n${p.log().slice(-3000)}`)
    if (await ready()) return
    if (Date.now() > deadline) throw new Error(`${what}: not ready in ${ms / 1000} s:\n${p.log().slice(-3000)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}
