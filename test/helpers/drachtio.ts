import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { freeUdpPort } from './kamailio.ts'
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

async function freeTcpPort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as net.AddressInfo).port
  await new Promise((r) => server.close(r))
  return port
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
  // detached: stop() signals the whole group, so nothing it started outlives the test
  const child: ChildProcess = spawn(DRACHTIO_BIN, ['-f', file], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let log = ''
  child.stdout!.on('data', (d) => (log += d))
  child.stderr!.on('data', (d) => (log += d))
  let exited = false
  child.on('exit', () => (exited = true))
  const deadline = Date.now() + 20_000
  for (;;) {
    if (exited) throw new Error(`drachtio-server exited at start:\n${log.slice(-3000)}`)
    if (Date.now() > deadline) throw new Error(`drachtio-server did not open its admin port ${adminPort} in 20 s:\n${log.slice(-3000)}`)
    const open = await new Promise<boolean>((resolve) => {
      const s = net.connect(adminPort, '127.0.0.1')
      s.once('connect', () => {
        s.destroy()
        resolve(true)
      })
      s.once('error', () => resolve(false))
    })
    if (open) break
    await new Promise((r) => setTimeout(r, 100))
  }
  const group = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal)
    } catch {
      // the group is gone already
    }
  }
  // a test that ends without its teardown (an assertion thrown in stop(), a timeout) must not leave the server behind
  const orphanGuard = () => group('SIGKILL')
  process.once('exit', orphanGuard)
  return {
    sipPort,
    adminPort,
    secret,
    log: () => log,
    async stop() {
      process.off('exit', orphanGuard)
      if (!exited) {
        const gone = new Promise((r) => child.once('exit', r))
        group('SIGTERM')
        await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))])
      }
      group('SIGKILL')
      child.stdout!.destroy()
      child.stderr!.destroy()
    },
  }
}
