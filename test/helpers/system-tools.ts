import { execFileSync, spawnSync } from 'node:child_process'

/**
 * A system tool the integration tests need. Installed with apt when we are root (as in
 * CI); otherwise the test stops with a message naming the Debian package.
 */
export function requireTool(binary: string, debianPackage: string): void {
  if (spawnSync('which', [binary]).status === 0) return
  if (process.getuid?.() === 0) {
    try {
      execFileSync('apt-get', ['install', '-y', '-qq', debianPackage], { stdio: 'ignore' })
    } catch {
      execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore' })
      execFileSync('apt-get', ['install', '-y', '-qq', debianPackage], { stdio: 'ignore' })
    }
    if (spawnSync('which', [binary]).status === 0) return
  }
  throw new Error(`${binary} is missing: install the Debian package "${debianPackage}" (apt-get install -y ${debianPackage})`)
}
