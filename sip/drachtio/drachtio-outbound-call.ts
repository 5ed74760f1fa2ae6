import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type Srf from 'drachtio-srf'
import type { Remote } from '../message/types.ts'
import { dialogRequest } from './srf-message.ts'
import type { OutboundCall, OutboundCallEvents, SipEndReason } from '../ua/call-control.ts'

/** A call we placed through drachtio-server, answered: the dialog lives in drachtio-server. */
export class DrachtioOutboundCall extends EventEmitter<OutboundCallEvents> implements OutboundCall {
  readonly sipCallId: string
  readonly answer: string
  private ended = false
  private readonly log: Logger

  constructor(
    private readonly dialog: Srf.Dialog,
    readonly targetUri: string,
    readonly remote: Remote,
    logger: Logger,
  ) {
    super()
    this.sipCallId = dialog.sip.callId
    this.answer = dialog.remote.sdp ?? ''
    this.log = logger.child({ sipCallId: this.sipCallId })
    // the callee's keypad as INFO (application/dtmf-relay): answered, and handed to the call
    dialog.on('info', (req: Srf.SrfRequest, res: Srf.SrfResponse) => {
      res.send(200)
      this.emit('info', req.get('Content-Type') ?? '', req.body ?? '')
    })
    dialog.on('destroy', () => {
      if (this.ended) return
      this.emit('bye')
      this.end('remote-bye')
    })
  }

  async hangup(): Promise<void> {
    if (this.ended) return
    this.end('local-bye')
    try {
      await new Promise<void>((resolve, reject) => this.dialog.destroy(undefined, (err) => (err ? reject(err) : resolve())))
    } catch (err) {
      this.log.warn({ err }, 'BYE not accepted')
    }
  }

  async info(contentType: string, body: string): Promise<number | 'timeout'> {
    if (this.ended) return 481
    try {
      const res = await dialogRequest(this.dialog, 'INFO', { 'Content-Type': contentType }, body)
      return res.status
    } catch (err) {
      this.log.warn({ err }, 'INFO not sent')
      return 'timeout'
    }
  }

  private end(reason: SipEndReason): void {
    this.ended = true
    this.log.info({ reason }, 'dialog ended')
    this.emit('ended', reason)
    this.removeAllListeners()
  }
}
