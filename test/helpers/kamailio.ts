import dgram from 'node:dgram'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { REPO } from './server-process.ts'
import { requireTool } from './system-tools.ts'
import { spawnGroup } from './process-group.ts'

export interface KamailioHandle {
  port: number
  /** Everything Kamailio logged so far (its xlog lines start with "kamailio:"). */
  log(): string
  stop(): Promise<void>
}

export interface KamailioOptions {
  tcp?: boolean
  /** the configuration, relative to the repository (default: the tests' trunk) */
  cfg?: string
  /** preprocessor defines (-A NAME=VALUE); a string value is passed quoted */
  defines?: Record<string, string | number>
}

/**
 * Kamailio (Debian's `kamailio`) in the foreground (-DD -E) on 127.0.0.1:`port` over UDP (and TCP), with
 * its configuration (test/fixtures/kamailio/kamailio.cfg unless `opts.cfg`) and its {{PLACEHOLDERS}}
 * filled in. Resolves once it answers an OPTIONS (the trunk's cfg says 405 to it, the dispatcher's 200).
 */
export async function startKamailio(dir: string, port: number, values: Record<string, string | number>, opts: KamailioOptions = {}): Promise<KamailioHandle> {
  requireTool('kamailio', 'kamailio')
  mkdirSync(dir, { recursive: true })
  let cfg = readFileSync(path.join(REPO, opts.cfg ?? 'test/fixtures/kamailio/kamailio.cfg'), 'utf8')
  for (const [k, v] of Object.entries(values)) cfg = cfg.replaceAll(`{{${k}}}`, String(v))
  const missing = /\{\{(\w+)\}\}/.exec(cfg)
  if (missing) throw new Error(`kamailio.cfg: no value for {{${missing[1]}}}`)
  const file = path.join(dir, 'kamailio.cfg')
  writeFileSync(file, cfg)
  const defines = Object.entries(opts.defines ?? {}).flatMap(([k, v]) => ['-A', typeof v === 'string' ? `${k}="${v}"` : `${k}=${v}`])
  const args = [
    '-f',
    file,
    '-DD',
    '-E',
    '-l',
    `udp:127.0.0.1:${port}`,
    ...(opts.tcp ? ['-l', `tcp:127.0.0.1:${port}`] : []),
    ...defines,
    '-Y',
    dir,
    '-w',
    dir,
    '-m',
    '32',
    '-M',
    '8',
  ]
  // its own process group: kamailio forks workers, and stop() must reach every one of them
  const proc = spawnGroup('kamailio', args)
  const probe = dgram.createSocket('udp4')
  await new Promise<void>((r) => probe.bind(0, '127.0.0.1', r))
  let answered = false
  probe.on('message', () => (answered = true))
  const deadline = Date.now() + 20_000
  try {
    while (!answered) {
      if (proc.exited) throw new Error(`kamailio exited at start:\n${proc.log().slice(-3000)}`)
      if (Date.now() > deadline) throw new Error(`kamailio did not answer on port ${port} in 20 s:\n${proc.log().slice(-3000)}`)
      const branch = `z9hG4bKprobe${Date.now()}`
      probe.send(
        Buffer.from(
          `OPTIONS sip:127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${probe.address().port};branch=${branch}\r\nFrom: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:127.0.0.1>\r\nCall-ID: ${branch}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`,
        ),
        port,
        '127.0.0.1',
      )
      await new Promise((r) => setTimeout(r, 200))
    }
  } finally {
    probe.close()
  }
  return { port, log: () => proc.log(), stop: () => proc.stop() }
}
