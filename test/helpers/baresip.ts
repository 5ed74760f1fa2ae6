// baresip (Debian's `baresip`, 1.0.0) as a headless caller or callee: a generated config directory, a
// 440 Hz tone from ausine as its microphone, the sndfile filter writing what it decodes to a WAV,
// one /dial command at start (a callee: none, and `answermode=auto` in its account line), and
// commands for the call (hold, resume) over ctrl_tcp once it is established; `-t` ends it. It runs
// in its own process group, which is killed whole if it outlives its time.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import net from 'node:net'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { readWav, type WavData } from '../../codecs/wav.ts'
import { requireTool } from './system-tools.ts'

export interface BaresipCallOptions {
  /** the account line: `<sip:user@host;transport=tls>;mediaenc=srtp-mand;audio_codecs=G722;auth_pass=...` */
  account: string
  /** the URI dialled; none: it waits for a call (answered when the account says answermode=auto) */
  target?: string
  /** baresip quits this long after its start, hanging up */
  seconds: number
  /** its SIP address (UDP, TCP and TLS listen here) */
  sipListen: string
  /** its RTP range, `min-max` */
  rtpPorts: string
  /** ctrl_tcp commands (`hold`, `resume`, ...) sent one every 2 s once the call is established,
   *  through this TCP port */
  control?: { port: number; commands: string[] }
}

export interface BaresipCall {
  /** everything it printed */
  log: string
  /** the audio it decoded from our RTP (sndfile's dump), absent when no call was set up */
  heard: WavData | undefined
  /** the tone's frequency it sent */
  toneHz: number
}

const TONE_HZ = 440

function config(dir: string, o: BaresipCallOptions): string {
  return [
    'poll_method epoll',
    `sip_listen ${o.sipListen}`,
    // ausine makes 48 kHz stereo only; baresip resamples it to the codec
    `audio_source ausine,${TONE_HZ}`,
    'ausrc_srate 48000',
    'ausrc_channels 2',
    // aufile is a source only in 1.0.0: the player is an aubridge device nobody reads, and the
    // sndfile filter records the decoded audio on its way there
    'audio_player aubridge,out',
    'audio_alert aubridge,alert',
    `rtp_ports ${o.rtpPorts}`,
    'module_path /usr/lib/baresip/modules',
    ...['g711', 'g722', 'opus', 'ausine', 'aubridge', 'srtp', 'sndfile'].map((m) => `module ${m}.so`),
    'module_tmp account.so',
    'module_app menu.so',
    `snd_path ${dir}`,
    ...(o.control ? ['module_app ctrl_tcp.so', `ctrl_tcp_listen 127.0.0.1:${o.control.port}`] : []),
  ].join('\n')
}

/** Places (or takes) one call with baresip and returns when baresip has quit. */
export async function baresipCall(dir: string, o: BaresipCallOptions): Promise<BaresipCall> {
  requireTool('baresip', 'baresip')
  mkdirSync(dir, { recursive: true })
  writeFileSync(path.join(dir, 'config'), config(dir, o) + '\n')
  writeFileSync(path.join(dir, 'accounts'), o.account + '\n')
  const dial = o.target ? ['-e', `/dial ${o.target}`] : []
  const child = spawn('baresip', ['-f', dir, ...dial, '-t', String(o.seconds)], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  let log = ''
  child.stdout.on('data', (d) => (log += d))
  child.stderr.on('data', (d) => (log += d))
  const killer = setTimeout(() => killGroup(child.pid!), (o.seconds + 20) * 1000)
  const controlled = o.control && control(o.control, () => log.includes('Call established'))
  if (child.exitCode === null) await once(child, 'exit')
  clearTimeout(killer)
  await controlled
  killGroup(child.pid!) // anything it left behind
  const dump = readdirSync(dir).find((f) => /^dump-.*-dec\.wav$/.test(f))
  const heard = dump ? readWav(readFileSync(path.join(dir, dump))) : undefined
  return { log: log.replace(/\[\d+:\d\d:\d\d\] audio=\S+ \(bit\/s\)\s*/g, ''), heard, toneHz: TONE_HZ }
}

/** Waits for `ready`, then sends each command as ctrl_tcp's netstring JSON, 2 s apart. */
async function control(c: NonNullable<BaresipCallOptions['control']>, ready: () => boolean): Promise<void> {
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))
  for (let i = 0; i < 100 && !ready(); i++) await pause(100)
  if (!ready()) return
  for (const command of c.commands) {
    await pause(2000)
    const json = JSON.stringify({ command, params: '', token: command })
    const sock = net.connect(c.port, '127.0.0.1')
    await once(sock, 'connect').catch(() => undefined)
    sock.end(`${Buffer.byteLength(json)}:${json},`)
    sock.on('error', () => {})
  }
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL')
  } catch {
    // gone already
  }
}
