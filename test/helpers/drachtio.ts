import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { freeTcpPort, freeUdpPort, tcpOpen } from './free-port.ts'
import { spawnGroup, waitUntil } from './process-group.ts'
import { REPO } from './server-process.ts'

/** Where the kit unpacks (its binary is /opt/drachtio/bin/drachtio) and where the kit lies. */
export const DRACHTIO_BIN = '/opt/drachtio/bin/drachtio'
const KIT = process.env.DRACHTIO_KIT ?? path.resolve(REPO, '../shared/vendor/drachtio/drachtio-bookworm-amd64-prebuilt.tar.gz')
/** The binary's NEEDED libraries, from the kit's README. */
export const DRACHTIO_RUNTIME_PACKAGES = [
  'libcurl4',
  'libssl3',
  'zlib1g',
  'libboost-thread1.74.0',
  'libboost-log1.74.0',
  'libboost-filesystem1.74.0',
  'libgoogle-perftools4',
]

const runs = () => spawnSync(DRACHTIO_BIN, ['--version']).status === 0

/**
 * The prebuilt drachtio-server: unpacked from the offline kit when /opt/drachtio is missing, its
 * runtime packages installed with apt when it does not run (root only, as for SIPp); otherwise an
 * error that says what to do.
 */
export function requireDrachtio(): void {
  if (existsSync(DRACHTIO_BIN) && runs()) return
  const root = process.getuid?.() === 0
  if (!existsSync(DRACHTIO_BIN)) {
    if (!existsSync(KIT)) throw new Error(`drachtio-server is missing: no ${DRACHTIO_BIN} and no kit at ${KIT} (set DRACHTIO_KIT to the prebuilt tarball)`)
    try {
      execFileSync('tar', ['-xzf', KIT, '-C', '/opt'], { stdio: 'pipe' })
    } catch (err) {
      throw new Error(`drachtio-server is missing and the kit could not be unpacked (run: tar -xzf ${KIT} -C /opt): ${(err as Error).message}`)
    }
  }
  if (runs()) return
  if (root) {
    const install = () => execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...DRACHTIO_RUNTIME_PACKAGES], { stdio: 'ignore' })
    try {
      install()
    } catch {
      execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore' })
      install()
    }
    if (runs()) return
  }
  throw new Error(`${DRACHTIO_BIN} does not run: install its runtime packages (apt-get install -y ${DRACHTIO_RUNTIME_PACKAGES.join(' ')})`)
}

export interface DrachtioHandle {
  /** SIP on 127.0.0.1, UDP and TCP. */
  sipPort: number
  /** The admin port drachtio-srf connects to, and its secret (generated per run). */
  adminPort: number
  secret: string
  log(): string
  stop(): Promise<void>
}

/** A loopback configuration: SIP on `sipPort` (UDP and TCP), the admin port with `secret`, logs to the console. */
function drachtioConfig(sipPort: number, adminPort: number, secret: string): string {
  return `<drachtio>
  <admin port="${adminPort}" secret="${secret}">127.0.0.1</admin>
  <sip>
    <contacts>
      <contact>sip:127.0.0.1:${sipPort};transport=udp,tcp</contact>
    </contacts>
  </sip>
  <cdrs>false</cdrs>
  <logging>
    <console/>
    <sofia-loglevel>3</sofia-loglevel>
    <loglevel>info</loglevel>
  </logging>
</drachtio>
`
}

/**
 * drachtio-server in the foreground, in its own process group, on free ports with a generated
 * config and secret in `dir`. Resolves once the admin port takes connections.
 */
export async function startDrachtio(dir: string): Promise<DrachtioHandle> {
  requireDrachtio()
  mkdirSync(dir, { recursive: true })
  const sipPort = await freeUdpPort()
  const adminPort = await freeTcpPort()
  const secret = randomBytes(12).toString('hex')
  const file = path.join(dir, 'drachtio.conf.xml')
  writeFileSync(file, drachtioConfig(sipPort, adminPort, secret))
  const proc = spawnGroup(DRACHTIO_BIN, ['-f', file])
  await waitUntil(proc, 'drachtio-server', 20_000, () => tcpOpen(adminPort))
  return { sipPort, adminPort, secret, log: () => proc.log(), stop: () => proc.stop() }
}
