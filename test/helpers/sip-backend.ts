import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Logger } from 'pino'
import { DrachtioCallControl } from '../../sip/drachtio/drachtio-call-control.ts'
import type { CallControl } from '../../sip/ua/call-control.ts'
import { EmbeddedCallControl } from '../../sip/ua/embedded-call-control.ts'
import { startDrachtio } from './drachtio.ts'
import { startFreeswitch, type FreeswitchHandle } from './freeswitch.ts'
import { startServerProcess, type ServerHandle } from './server-process.ts'

/** The SIP backends the call tests run against: SIP_BACKEND's values. */
export const SIP_BACKENDS = ['embedded', 'drachtio'] as const
export type SipBackendName = (typeof SIP_BACKENDS)[number]

/** A server the shape runs beside ours (drachtio-server, FreeSWITCH): the load test counts its CPU. */
export interface Companion {
  name: string
  pid(): number
}

export type ShapeHandle = ServerHandle & { companions: Companion[] }

/** drachtio-server's log level (its `<loglevel>`): a load test turns the per-message lines down. */
export interface ShapeOptions {
  drachtioLogLevel?: string
}

/**
 * The server process with `backend` speaking SIP. For drachtio, a drachtio-server of its own is
 * started first and `sipPort` is drachtio-server's, where callers send; stop() ends both.
 */
export async function startServerWith(backend: SipBackendName, env: Record<string, string> = {}, opts: ShapeOptions = {}): Promise<ShapeHandle> {
  if (backend === 'embedded') return { ...(await startServerProcess(env)), companions: [] }
  return startServerBehindDrachtio(env, opts)
}

/**
 * The production shape's media mode: drachtio-server, FreeSWITCH (freeswitch-conf/, RTP on
 * `fsRtp`) and the server with SIP_BACKEND=drachtio and MEDIA_BACKEND=freeswitch; stop() ends all three.
 */
export async function startServerWithFreeswitch(
  env: Record<string, string>,
  fsRtp: { start: number; end: number },
  opts: ShapeOptions = {},
): Promise<ShapeHandle & { freeswitch: FreeswitchHandle }> {
  const fs = await startFreeswitch(mkdtempSync(path.join(os.tmpdir(), 'freeswitch-')), fsRtp)
  try {
    const server = await startServerBehindDrachtio(
      { MEDIA_BACKEND: 'freeswitch', FREESWITCH_PORT: String(fs.eslPort), FREESWITCH_SECRET: fs.secret, ...env },
      opts,
    )
    return { ...withCleanup(server, () => fs.stop()), freeswitch: fs, companions: [...server.companions, { name: 'freeswitch', pid: () => fs.pid }] }
  } catch (err) {
    await fs.stop()
    throw err
  }
}

/** `server` whose stop() and kill() also run `cleanup` after it is down. */
function withCleanup<H extends ServerHandle>(server: H, cleanup: () => Promise<void>): H {
  const stop = server.stop.bind(server)
  const kill = server.kill.bind(server)
  return {
    ...server,
    async stop() {
      try {
        await stop()
      } finally {
        await cleanup()
      }
    },
    async kill(signal) {
      try {
        await kill(signal)
      } finally {
        await cleanup()
      }
    },
  }
}

async function startServerBehindDrachtio(env: Record<string, string>, opts: ShapeOptions): Promise<ShapeHandle> {
  const drachtio = await startDrachtio(mkdtempSync(path.join(os.tmpdir(), 'drachtio-')), opts.drachtioLogLevel)
  try {
    const server = await startServerProcess({
      SIP_BACKEND: 'drachtio',
      DRACHTIO_HOST: '127.0.0.1',
      DRACHTIO_PORT: String(drachtio.adminPort),
      DRACHTIO_SECRET: drachtio.secret,
      ...env,
    })
    return withCleanup({ ...server, companions: [{ name: 'drachtio', pid: () => drachtio.pid }] }, () => drachtio.stop())
  } catch (err) {
    await drachtio.stop()
    throw err
  }
}

/** A `CallControl` in this process on `backend`, on 127.0.0.1 (a port the OS picks); stop() ends it and its drachtio-server. */
export async function startCallControl(backend: SipBackendName, logger: Logger): Promise<{ ua: CallControl; stop(): Promise<void> }> {
  if (backend === 'embedded') {
    const ua = new EmbeddedCallControl({ host: '127.0.0.1', port: 0, publicHost: '127.0.0.1', logger })
    await ua.start()
    return { ua, stop: () => ua.stop() }
  }
  const drachtio = await startDrachtio(mkdtempSync(path.join(os.tmpdir(), 'drachtio-')))
  const ua = new DrachtioCallControl({ host: '127.0.0.1', port: drachtio.adminPort, secret: drachtio.secret, publicHost: '127.0.0.1', logger })
  try {
    await ua.start()
  } catch (err) {
    await drachtio.stop()
    throw err
  }
  return {
    ua,
    async stop() {
      try {
        await ua.stop()
      } finally {
        await drachtio.stop()
      }
    },
  }
}
