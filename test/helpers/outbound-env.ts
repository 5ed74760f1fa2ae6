// A server that places calls through one trunk whose far end is a SIPp callee on a free UDP port
// (the outbound and AMD call tests): numbers 8999... are allowed, the trunk does not register.
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Test } from 'tap'
import { freeUdpPort } from './free-port.ts'
import { startServerWith, type ShapeHandle, type SipBackendName } from './sip-backend.ts'

export interface OutboundEnv {
  server: ShapeHandle
  /** where SIPp, the callee, listens: the trunk's host */
  calleePort: number
  dataDir: string
}

/** `rtp`: the test file's RTP port range; `env`: the trunk's credentials and caller id, and the rest. */
export async function startOutboundEnv(
  t: Test,
  opts: { backend: SipBackendName; rtp: [number, number]; apiToken: string; env: Record<string, string> },
): Promise<OutboundEnv> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'voice-outbound-'))
  const calleePort = await freeUdpPort()
  const server = await startServerWith(opts.backend, {
    DATA_DIR: dataDir,
    LANGUAGE: 'ru',
    RTP_PORT_MIN: String(opts.rtp[0]),
    RTP_PORT_MAX: String(opts.rtp[1]),
    API_TOKEN: opts.apiToken,
    TRUNK_HOST: `127.0.0.1:${calleePort}`,
    TRUNK_REGISTER: 'false',
    OUTBOUND_ALLOW_PREFIXES: '8999',
    ...opts.env,
  })
  t.teardown(() => server.stop())
  return { server, calleePort, dataDir }
}
