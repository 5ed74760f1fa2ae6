// A server the tests take from an offline kit in ../shared/vendor (drachtio-server, FreeSWITCH):
// unpacked into /opt when it is missing, its runtime packages installed with apt when it does not
// run (root only, as for SIPp); otherwise an error that says what to do.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'

export interface VendorKit {
  name: string
  /** the binary, inside the prefix the kit unpacks to */
  bin: string
  /** its arguments for a version check: it runs when they exit 0 */
  versionArgs: string[]
  /** the tarball, and tar's arguments that unpack it into /opt */
  kit: string
  untar: string[]
  /** the kit variable that names another tarball */
  kitEnv: string
  /** the binary's NEEDED libraries, from the kit's README */
  packages: string[]
}

export function requireKit(k: VendorKit): void {
  const runs = () => spawnSync(k.bin, k.versionArgs).status === 0
  if (existsSync(k.bin) && runs()) return
  if (!existsSync(k.bin)) {
    if (!existsSync(k.kit)) throw new Error(`${k.name} is missing: no ${k.bin} and no kit at ${k.kit} (set ${k.kitEnv} to the prebuilt tarball)`)
    try {
      execFileSync('tar', k.untar, { stdio: 'pipe' })
    } catch (err) {
      throw new Error(`${k.name} is missing and the kit could not be unpacked (run: tar ${k.untar.join(' ')}): ${(err as Error).message}`)
    }
  }
  if (runs()) return
  if (process.getuid?.() === 0) {
    const install = () => execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...k.packages], { stdio: 'ignore' })
    try {
      install()
    } catch {
      execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore' })
      install()
    }
    if (runs()) return
  }
  throw new Error(`${k.bin} does not run: install its runtime packages (apt-get install -y ${k.packages.join(' ')})`)
}
