// FreeSWITCH 1.10.12 from the offline kit (../shared/vendor/freeswitch) with the repository's
// freeswitch-conf/, on free ports with a generated ESL password.
import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { freeTcpPort, freeUdpPort, tcpOpen } from './free-port.ts'
import { spawnGroup, waitUntil } from './process-group.ts'
import { REPO } from './server-process.ts'
import { requireKit } from './vendor-kit.ts'

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

/** The prebuilt FreeSWITCH, unpacked and able to run (vendor-kit.ts). */
export function requireFreeswitch(): void {
  requireKit({
    name: 'FreeSWITCH',
    bin: FREESWITCH_BIN,
    versionArgs: ['-version'],
    kit: KIT,
    untar: ['-C', '/opt', '-xJf', KIT],
    kitEnv: 'FREESWITCH_KIT',
    packages: FREESWITCH_RUNTIME_PACKAGES,
  })
}

export interface FreeswitchHandle {
  /** ESL on 127.0.0.1 (FREESWITCH_HOST/PORT/SECRET of the agent) */
  eslPort: number
  secret: string
  /** the drachtio_mrf profile's SIP port */
  sipPort: number
  /** the running process's id (a new one after restart()) */
  readonly pid: number
  log(): string
  stop(): Promise<void>
  /** SIGKILL: FreeSWITCH crashes, its calls and ESL links with it */
  kill(): Promise<void>
  /** Starts it again on the same ports, password and directories (after kill()) */
  restart(): Promise<void>
}

/** FreeSWITCH in the foreground with freeswitch-conf/ and its state in `dir`; resolves when ESL takes connections. */
export async function startFreeswitch(dir: string, rtp: { start: number; end: number } = { start: 21000, end: 21999 }): Promise<FreeswitchHandle> {
  requireFreeswitch()
  const dirs = ['log', 'db', 'run'].map((d) => path.join(dir, d))
  for (const d of dirs) mkdirSync(d, { recursive: true })
  const eslPort = await freeTcpPort()
  const sipPort = await freeUdpPort()
  const secret = randomBytes(12).toString('hex')
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    FS_ESL_PORT: String(eslPort),
    FS_ESL_PASSWORD: secret,
    FS_SIP_PORT: String(sipPort),
    FS_RTP_START: String(rtp.start),
    FS_RTP_END: String(rtp.end),
  }
  // -conf, -log and -db go together or not at all
  const args = ['-nf', '-nc', '-nonat', '-conf', path.join(REPO, 'freeswitch-conf'), '-log', dirs[0], '-db', dirs[1], '-run', dirs[2]]
  const launch = async () => {
    const p = spawnGroup(FREESWITCH_BIN, args, env)
    await waitUntil(p, 'FreeSWITCH', 30_000, () => tcpOpen(eslPort))
    return p
  }
  let proc = await launch()
  return {
    eslPort,
    secret,
    sipPort,
    get pid() {
      return proc.pid
    },
    log: () => proc.log(),
    stop: () => proc.stop(12_000),
    kill: () => proc.kill(),
    async restart() {
      await proc.kill()
      proc = await launch()
    },
  }
}
