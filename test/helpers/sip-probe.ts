// One SIP request from a chosen source address (127.0.0.x: Linux routes all of 127/8 to lo), and
// whatever comes back within a while: for the trust, scanner, flood and drain tests.
import { randomBytes } from 'node:crypto'
import { spawn } from 'node:child_process'
import dgram from 'node:dgram'
import { requireTool } from './system-tools.ts'

export interface ProbeOptions {
  from: string
  port: number
  method?: 'OPTIONS' | 'INVITE'
  userAgent?: string
  /** extra header lines, e.g. an Authorization */
  headers?: string[]
  /** how long to wait for a final response */
  waitMs?: number
  callId?: string
}

const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n'

/** Sends the request and resolves with the final response's text, or undefined when none came. */
export async function probe(o: ProbeOptions): Promise<string | undefined> {
  const sock = dgram.createSocket('udp4')
  await new Promise<void>((r) => sock.bind(0, o.from, () => r()))
  const local = sock.address().port
  const method = o.method ?? 'OPTIONS'
  const body = method === 'INVITE' ? SDP : ''
  const callId = o.callId ?? `probe-${randomBytes(6).toString('hex')}`
  const uri = `sip:sales@127.0.0.1:${o.port}`
  const branch = `z9hG4bK${randomBytes(6).toString('hex')}`
  const lines = [
    `${method} ${uri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${o.from}:${local};branch=${branch};rport`,
    'Max-Forwards: 70',
    `From: <sip:probe@${o.from}>;tag=${randomBytes(4).toString('hex')}`,
    `To: <${uri}>`,
    `Call-ID: ${callId}`,
    `CSeq: 1 ${method}`,
    `Contact: <sip:probe@${o.from}:${local}>`,
    ...(o.userAgent ? [`User-Agent: ${o.userAgent}`] : []),
    ...(o.headers ?? []),
    ...(body ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${body.length}`,
  ]
  const text = `${lines.join('\r\n')}\r\n\r\n${body}`
  try {
    return await new Promise<string | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), o.waitMs ?? 2000)
      sock.on('message', (m) => {
        const s = m.toString('latin1')
        if (/^SIP\/2\.0 [2-6]/.test(s)) {
          clearTimeout(timer)
          // a final non-2xx to an INVITE is ACKed (RFC 3261 §17.1.1.3) so the server stops retransmitting
          if (method === 'INVITE' && !/^SIP\/2\.0 2/.test(s)) {
            const to = /^To:.*$/im.exec(s)?.[0] ?? `To: <${uri}>`
            sock.send(
              `ACK ${uri} SIP/2.0\r\n${lines[1]}\r\nMax-Forwards: 70\r\n${lines[3]}\r\n${to}\r\nCall-ID: ${callId}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n`,
              o.port,
              '127.0.0.1',
            )
          }
          resolve(s)
        }
      })
      sock.send(text, o.port, '127.0.0.1')
    })
  } finally {
    sock.close()
  }
}

/** SIPp from a chosen source address; resolves with its exit code and output. */
export async function sippFrom(
  source: string,
  args: string[],
  timeoutS = 120,
): Promise<{ code: number | null; out: string; successful: number; failed: number }> {
  requireTool('sipp', 'sip-tester')
  const child = spawn('sipp', ['-i', source, '-mi', source, '-timeout', `${timeoutS}s`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (out += d))
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  const s = /Successful call\s*\|\s*\d+\s*\|\s*(\d+)/.exec(out)
  const f = /Failed call\s*\|\s*\d+\s*\|\s*(\d+)/.exec(out)
  return { code, out, successful: s ? Number(s[1]) : -1, failed: f ? Number(f[1]) : -1 }
}

/** A scanner from sipvicious (Debian package `sipvicious`); output and exit code. */
export async function sipvicious(tool: 'svmap' | 'svwar', args: string[]): Promise<{ code: number | null; out: string }> {
  requireTool(tool, 'sipvicious')
  const child = spawn(tool, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (out += d))
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  return { code, out }
}
