import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { freeTcpPort, freeUdpPort, tcpOpen } from './free-port.ts'
import { spawnGroup, waitUntil } from './process-group.ts'
import { REPO } from './server-process.ts'
import { requireKit } from './vendor-kit.ts'

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

/** The prebuilt drachtio-server, unpacked and able to run (vendor-kit.ts). */
export function requireDrachtio(): void {
  requireKit({
    name: 'drachtio-server',
    bin: DRACHTIO_BIN,
    versionArgs: ['--version'],
    kit: KIT,
    untar: ['-xzf', KIT, '-C', '/opt'],
    kitEnv: 'DRACHTIO_KIT',
    packages: DRACHTIO_RUNTIME_PACKAGES,
  })
}

export interface DrachtioHandle {
  /** SIP on 127.0.0.1, UDP and TCP. */
  sipPort: number
  /** The admin port drachtio-srf connects to, and its secret (generated per run). */
  adminPort: number
  secret: string
  pid: number
  log(): string
  stop(): Promise<void>
}

/** A loopback configuration: SIP on `sipPort` (UDP and TCP), the admin port with `secret`, logs to the console. */
function drachtioConfig(sipPort: number, adminPort: number, secret: string, logLevel: string): string {
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
    <loglevel>${logLevel}</loglevel>
  </logging>
</drachtio>
`
}

/**
 * drachtio-server in the foreground, in its own process group, on free ports with a generated
 * config and secret in `dir`. Resolves once the admin port takes connections.
 */
export async function startDrachtio(dir: string, logLevel = 'info'): Promise<DrachtioHandle> {
  requireDrachtio()
  mkdirSync(dir, { recursive: true })
  const sipPort = await freeUdpPort()
  const adminPort = await freeTcpPort()
  const secret = randomBytes(12).toString('hex')
  const file = path.join(dir, 'drachtio.conf.xml')
  writeFileSync(file, drachtioConfig(sipPort, adminPort, secret, logLevel))
  const proc = spawnGroup(DRACHTIO_BIN, ['-f', file])
  await waitUntil(proc, 'drachtio-server', 20_000, () => tcpOpen(adminPort))
  return { sipPort, adminPort, secret, pid: proc.pid, log: () => proc.log(), stop: () => proc.stop() }
}
