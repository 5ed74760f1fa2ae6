import { spawn } from 'node:child_process'
import { requireTool } from './system-tools.ts'

export interface SippResult {
  code: number | null
  stdout: string
  stderr: string
  /** Successful and failed call counts from SIPp's final statistics. */
  successful: number
  failed: number
}

/**
 * Runs SIPp (Debian's sip-tester) as the caller against the server and waits for it.
 * Exit code 0 means every call passed the scenario.
 */
export async function runSipp(scenario: string, target: string, args: string[] = [], timeoutMs = 180_000): Promise<SippResult> {
  requireTool('sipp', 'sip-tester')
  const child = spawn('sipp', ['-sf', scenario, '-i', '127.0.0.1', '-mi', '127.0.0.1', '-timeout', `${Math.round(timeoutMs / 1000)}s`, ...args, target], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  return { code, stdout, stderr, ...counts(stdout + stderr) }
}

function counts(text: string): { successful: number; failed: number } {
  const s = /Successful call\s*\|\s*\d+\s*\|\s*(\d+)/.exec(text)
  const f = /Failed call\s*\|\s*\d+\s*\|\s*(\d+)/.exec(text)
  return { successful: s ? Number(s[1]) : -1, failed: f ? Number(f[1]) : -1 }
}
