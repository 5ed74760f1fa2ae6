import path from 'node:path'
import { createCodec } from '../../codecs/index.ts'
import { buildCallerScript, type CallerScript } from './caller-audio.ts'
import { LoopbackCapture } from './capture.ts'
import { rtpPackets, speechShare } from './rtp-analysis.ts'
import { renderScenario } from './scenario-file.ts'
import type { ServerHandle } from './server-process.ts'
import { runSipp, type SippResult } from './sipp.ts'

export interface HeardCall {
  sipp: SippResult
  /** the server answered the INVITE with 200 OK */
  answered: boolean
  /** RTP packets the server sent to the caller, and the share of them that is speech */
  rtpFromServer: number
  speech: number
}

export const callerScript = (dataDir: string): Promise<CallerScript> => buildCallerScript(dataDir, 'ru', 700, 'PCMU')

/**
 * SIPp calls the server (the three-questions caller of test/sipp-call.test.ts, answering by voice)
 * while `during` runs, and says what the caller got on the wire: the 200 OK and the bot's audio.
 */
export async function callAndListen(
  server: ServerHandle,
  script: CallerScript,
  opts: { rtp: [number, number]; calls?: number; byeTimeoutMs?: number; timeoutMs?: number; during?: () => Promise<void> },
): Promise<HeardCall> {
  const [min, max] = opts.rtp
  const dir = server.dataDir
  const cap = new LoopbackCapture(path.join(dir, `call-${Date.now()}.pcap`), `udp and (port ${server.sipPort} or portrange ${min}-${max})`)
  await cap.start()
  const n = opts.calls ?? 1
  const scenario = renderScenario('uac-answers.xml', dir, {
    WAV: script.wav,
    PT: 0,
    CODEC: 'PCMU',
    BYE_TIMEOUT_MS: opts.byeTimeoutMs ?? Math.round((script.totalSeconds + 30) * 1000),
  })
  const sipp = runSipp(scenario, `127.0.0.1:${server.sipPort}`, ['-m', String(n), '-l', String(n), '-mp', String(max + 1000)], opts.timeoutMs)
  await opts.during?.()
  const result = await sipp
  const packets = await cap.stop()
  const fromServer = packets.filter((p) => p.srcPort === server.sipPort).map((p) => p.payload.toString('latin1'))
  const rtp = rtpPackets(packets, (port) => port >= min && port <= max)
  return {
    sipp: result,
    answered: fromServer.some((m) => m.startsWith('SIP/2.0 200 OK') && /CSeq:\s*\d+ INVITE/i.test(m)),
    rtpFromServer: rtp.length,
    speech: rtp.length ? speechShare(rtp, createCodec('PCMU')) : 0,
  }
}

/** Polls `probe` until it returns something truthy; fails with `what` after timeoutMs. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false | null>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await probe().catch(() => undefined)
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}
