// FreeSWITCH 1.10.12 from the offline kit (../shared/vendor/freeswitch) with the repository's
// freeswitch-conf/, on free ports with a generated ESL password.
import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync } from 'node:fs'
import path from 'node:path'
import { freeTcpPort, freeUdpPort, tcpOpen } from './free-port.ts'
import { spawnGroup, waitUntil } from './process-group.ts'
import { REPO } from './server-process.ts'

/** The prebuilt prefix must sit at /opt/freeswitch: its RUNPATH and default directories say so. */
export const FREESWITCH_BIN = '/opt/freeswitch/bin/freeswitch'
const KIT = process.env.FREESWITCH_KIT ?? path.resolve(REPO, '../shared/vendor/freeswitch/freeswitch-1.10.12-minimal-bookworm-amd64.tar.xz')
/** The binary's NEEDED libraries (the kit's README). */
export const FREESWITCH_RUNTIME_PACKAGES = [
  'libcurl4',
  'libedit2',
  'libjpeg62-turbo',
  'libtiff6',
  'libopus0',
  'libsndfile1',
  'libspeex1',
  'libspeexdsp1',
  'libsqlite3-0',
  'libpcre3',
  'libuuid1',
]

const runs = () => spawnSync(FREESWITCH_BIN, ['-version']).status === 0

/** Unpacks the kit when /opt/freeswitch is missing and installs its runtime packages when it does not run (root, as for SIPp). */
export function requireFreeswitch(): void {
  if (existsSync(FREESWITCH_BIN) && runs()) return
  if (!existsSync(FREESWITCH_BIN)) {
    if (!existsSync(KIT)) throw new Error(`FreeSWITCH is missing: no ${FREESWITCH_BIN} and no kit at ${KIT} (set FREESWITCH_KIT to the prebuilt tarball)`)
    execFileSync('tar', ['-C', '/opt', '-xJf', KIT], { stdio: 'pipe' })
  }
  if (runs()) return
  if (process.getuid?.() === 0) {
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...FREESWITCH_RUNTIME_PACKAGES], { stdio: 'ignore' })
    if (runs()) return
  }
  throw new Error(`${FREESWITCH_BIN} does not run: install its runtime packages (apt-get install -y ${FREESWITCH_RUNTIME_PACKAGES.join(' ')})`)
}

export interface FreeswitchHandle {
  /** ESL on 127.0.0.1 (FREESWITCH_HOST/PORT/SECRET of the agent) */
  eslPort: number
  secret: string
  /** the drachtio_mrf profile's SIP port */
  sipPort: number
  log(): string
  stop(): Promise<void>
}

/** FreeSWITCH in the foreground with freeswitch-conf/ and its state in `dir`; resolves when ESL takes connections. */
export async function startFreeswitch(dir: string, rtp: { start: number; end: number } = { start: 21000, end: 21999 }): Promise<FreeswitchHandle> {
  requireFreeswitch()
  const dirs = ['log', 'db', 'run'].map((d) => path.join(dir, d))
  for (const d of dirs) mkdirSync(d, { recursive: true })
  const eslPort = await freeTcpPort()
  const sipPort = await freeUdpPort()
  const secret = randomBytes(12).toString('hex')
  const env = {
    ...process.env,
    FS_ESL_PORT: String(eslPort),
    FS_ESL_PASSWORD: secret,
    FS_SIP_PORT: String(sipPort),
    FS_RTP_START: String(rtp.start),
    FS_RTP_END: String(rtp.end),
  }
  // -conf, -log and -db go together or not at all
  const args = ['-nf', '-nc', '-nonat', '-conf', path.join(REPO, 'freeswitch-conf'), '-log', dirs[0], '-db', dirs[1], '-run', dirs[2]]
  const proc = spawnGroup(FREESWITCH_BIN, args, env)
  await waitUntil(proc, 'FreeSWITCH', 30_000, () => tcpOpen(eslPort))
  return { eslPort, secret, sipPort, log: () => proc.log(), stop: () => proc.stop(12_000) }
}
