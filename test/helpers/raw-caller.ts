// A caller built from raw UDP sockets, for the fault tests: it does exactly what a test tells it
// (an ACK that never comes, a BYE before the ACK, a CANCEL after the 200, a BYE it never answers),
// which a well-behaved SIP stack such as SIPp's does not do on purpose.
import dgram from 'node:dgram'
import { randomBytes } from 'node:crypto'
import { linearToUlaw } from '../../codecs/g711.ts'
import { writeRtpHeader } from '../../rtp/packet.ts'
import { seqNewer } from '../../rtp/seq.ts'

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms))

export interface RawCallerOptions {
  /** the server's SIP port on 127.0.0.1 */
  sipPort: number
  /** the caller's own address, a loopback one (default 127.0.0.1) */
  host?: string
  /** the audio m= line's port and extra SDP lines; default: our RTP socket's port, PCMU */
  sdp?: (rtpPort: number) => string
  /** a REFER from the server gets this final response (default: none, it goes unanswered) */
  referAnswer?: { status: number; reason: string }
}

/** One call from one caller: a SIP socket and an RTP/RTCP socket pair of its own. */
export class RawCaller {
  readonly callId = `raw-${randomBytes(6).toString('hex')}`
  /** every SIP message received, in order */
  readonly received: string[] = []
  /** RTP packets that reached our RTP socket */
  rtpIn = 0
  /** the newest sequence number among them: what the server sent, however late this process read it */
  rtpSeq = 0
  private cseq = 1
  private toTag = ''
  private inviteBranch = ''
  private rtpTimer: NodeJS.Timeout | undefined
  private serverRtp: { port: number } | undefined
  /** answer the server's BYE with 200 (false: a lost BYE, as seen from the server) */
  answerBye = true
  /** what startRtp sends from the next packet on: a sine of this frequency, or silence (0) */
  toneHz = 0

  private constructor(
    private readonly opts: RawCallerOptions,
    private readonly sip: dgram.Socket,
    private readonly rtp: dgram.Socket,
    private readonly rtcp: dgram.Socket,
  ) {
    sip.on('message', (m) => this.onSip(m.toString('latin1')))
    rtp.on('message', (m) => {
      if (this.rtpIn++ === 0 || (m.length >= 4 && seqNewer(m.readUInt16BE(2), this.rtpSeq))) this.rtpSeq = m.readUInt16BE(2)
    })
  }

  static async open(opts: RawCallerOptions): Promise<RawCaller> {
    const bind = async (port = 0) => {
      const s = dgram.createSocket('udp4')
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject)
        s.bind(port, opts.host ?? '127.0.0.1', () => resolve())
      })
      return s
    }
    // an even RTP port with RTCP on the next one
    for (;;) {
      const rtp = await bind()
      const port = rtp.address().port
      if (port % 2 === 0) {
        const rtcp = await bind(port + 1).catch(() => undefined)
        if (rtcp) return new RawCaller(opts, await bind(), rtp, rtcp)
      }
      rtp.close()
    }
  }

  get rtpPort(): number {
    return this.rtp.address().port
  }

  private get host(): string {
    return this.opts.host ?? '127.0.0.1'
  }

  private get sipPort(): number {
    return this.sip.address().port
  }

  private onSip(msg: string): void {
    this.received.push(msg)
    if (/^BYE /.test(msg) && this.answerBye) this.respond(msg, 200, 'OK')
    if (/^REFER /.test(msg) && this.opts.referAnswer) this.respond(msg, this.opts.referAnswer.status, this.opts.referAnswer.reason)
    const m = /^SIP\/2\.0 (\d+)/.exec(msg)
    if (m && /CSeq: \d+ INVITE/i.test(msg)) {
      this.toTag ||= /^To:.*;tag=([^;\s]+)/im.exec(msg)?.[1] ?? ''
      const port = /^m=audio (\d+)/m.exec(msg)?.[1]
      if (port) this.serverRtp = { port: Number(port) }
    }
  }

  /** Sends a request of this call's dialog (or the INVITE that starts it). */
  private request(method: string, opts: { body?: string; contentType?: string; branch?: string; cseq?: number } = {}): string {
    const body = opts.body ?? ''
    const branch = opts.branch ?? `z9hG4bK${randomBytes(6).toString('hex')}`
    const cseq = opts.cseq ?? (method === 'ACK' || method === 'CANCEL' ? 1 : this.cseq++)
    const text = [
      `${method} sip:sales@127.0.0.1:${this.opts.sipPort} SIP/2.0`,
      `Via: SIP/2.0/UDP ${this.host}:${this.sipPort};branch=${branch};rport`,
      'Max-Forwards: 70',
      `From: <sip:79990001122@${this.host}>;tag=rawcaller`,
      `To: <sip:sales@127.0.0.1>${this.toTag && method !== 'CANCEL' ? `;tag=${this.toTag}` : ''}`,
      `Call-ID: ${this.callId}`,
      `CSeq: ${cseq} ${method}`,
      `Contact: <sip:79990001122@${this.host}:${this.sipPort}>`,
      ...(body ? [`Content-Type: ${opts.contentType ?? 'application/sdp'}`] : []),
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ].join('\r\n')
    this.sip.send(Buffer.from(text, 'latin1'), this.opts.sipPort, '127.0.0.1')
    return branch
  }

  private respond(rq: string, status: number, reason: string): void {
    const keep = rq.split('\r\n').filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l))
    this.sip.send(Buffer.from(`SIP/2.0 ${status} ${reason}\r\n${keep.join('\r\n')}\r\nContent-Length: 0\r\n\r\n`, 'latin1'), this.opts.sipPort, '127.0.0.1')
  }

  invite(): void {
    const sdp =
      this.opts.sdp?.(this.rtpPort) ??
      `v=0\r\no=- 1 1 IN IP4 ${this.host}\r\ns=-\r\nc=IN IP4 ${this.host}\r\nt=0 0\r\nm=audio ${this.rtpPort} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n`
    this.inviteBranch = this.request('INVITE', { body: sdp, cseq: this.cseq++ })
  }

  ack(): void {
    this.request('ACK')
  }

  bye(): void {
    this.request('BYE')
  }

  /** CANCEL for the INVITE: same branch and CSeq number (RFC 3261 §9.1). */
  cancel(): void {
    this.request('CANCEL', { branch: this.inviteBranch })
  }

  info(digit: string): void {
    this.request('INFO', { body: `Signal=${digit}\r\nDuration=160\r\n`, contentType: 'application/dtmf-relay' })
  }

  /** PCMU (silence, or the tone) at 50 packets a second to the port the server's answer named, and an RTCP RR a second. */
  startRtp(): void {
    if (!this.serverRtp) throw new Error('no answer SDP yet')
    const { port } = this.serverRtp
    let seq = 1
    let ts = 0
    const pkt = Buffer.alloc(172)
    this.rtpTimer = setInterval(() => {
      const hz = this.toneHz
      for (let i = 0; i < 160; i++) pkt[12 + i] = hz ? linearToUlaw(Math.round(8000 * Math.sin((2 * Math.PI * hz * (ts + i)) / 8000))) : 0xff
      writeRtpHeader(pkt, { marker: seq === 1, payloadType: 0, sequenceNumber: seq++ & 0xffff, timestamp: ts, ssrc: 0x0c0ffee })
      ts += 160
      this.rtp.send(pkt, port, '127.0.0.1')
      // an empty RR (RFC 3550 6.4.2) on the RTCP port once a second
      if (seq % 50 === 0) this.rtcp.send(Buffer.from([0x80, 201, 0, 1, 0, 0xc0, 0xff, 0xee]), port + 1, '127.0.0.1')
    }, 20)
  }

  stopRtp(): void {
    clearInterval(this.rtpTimer)
  }

  /** The first received message after `from` that matches, waiting up to `timeoutMs`. */
  async next(match: RegExp, timeoutMs = 5000, from = 0): Promise<string> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const hit = this.received.slice(from).find((m) => match.test(m))
      if (hit) return hit
      if (Date.now() > deadline)
        throw new Error(`no SIP message matching ${match} in ${timeoutMs} ms; got: ${this.received.map((m) => m.split('\r\n')[0]).join(' | ')}`)
      await wait(10)
    }
  }

  count(match: RegExp): number {
    return this.received.filter((m) => match.test(m)).length
  }

  close(): void {
    this.stopRtp()
    for (const s of [this.sip, this.rtp, this.rtcp]) s.close()
  }
}
