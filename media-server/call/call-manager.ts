import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { createCodec } from '../../codecs/index.ts'
import { negotiate, type LocalMedia } from '../../sip/sdp/negotiate.ts'
import type { CallControl, InboundCall } from '../../sip/ua/call-control.ts'
import { RtpSession } from '../rtp/rtp-session.ts'
import { Call, type CallDeps, type CallResult } from './call.ts'

/**
 * Admission and lifecycle of inbound calls: a record from the first INVITE, an RTP
 * port pair (503 when none is left), SDP negotiation (488 when nothing fits), then the
 * Call runs and everything is released whatever the outcome.
 */
export class CallManager {
  readonly live = new Map<string, Call>()
  private readonly afterCalls = new Set<Promise<void>>()
  private readonly log: Logger

  constructor(callControl: CallControl, private readonly deps: CallDeps) {
    this.log = deps.logger
    callControl.on('call', (sip) => {
      this.onCall(sip).catch((err) => {
        this.log.error({ err, sipCallId: sip.sipCallId }, 'call failed')
        sip.reject(500) // a no-op once answered; otherwise the INVITE would wait for ever
      })
    })
  }

  private async onCall(sip: InboundCall): Promise<void> {
    const id = randomUUID()
    const { store, metrics, config, portPool } = this.deps
    const log = this.log.child({ callId: id, sipCallId: sip.sipCallId })
    log.info({ from: sip.fromUri, to: sip.toUri, remote: sip.remote }, 'incoming call')
    try {
      await store.createCall({ id, sipCallId: sip.sipCallId, direction: 'inbound', fromUri: sip.fromUri, toUri: sip.toUri, callerId: sip.callerId, startedAt: new Date() })
    } catch (err) {
      log.error({ err }, 'call record not created; the call goes on without it')
    }
    const refuse = async (status: number, reason: string, result: CallResult) => {
      log.warn({ status, reason }, 'call refused')
      sip.reject(status, reason)
      metrics.calls.labels(result).inc()
      await store.updateCall(id, { endedAt: new Date(), result, endReason: `${status} ${reason}` }).catch(() => {})
    }
    if (!sip.offer) return refuse(488, 'an SDP offer in the INVITE is required', 'failed')
    const ports = await portPool.allocate()
    metrics.rtpPortsFree.set(portPool.available)
    if (!ports) return refuse(503, 'no RTP ports left', 'failed')

    const local: LocalMedia = { address: config.publicIp, port: ports.port, codecs: config.codecs, sessionId: String(Date.now()), sessionVersion: 1 }
    let neg: ReturnType<typeof negotiate>
    try {
      neg = negotiate(sip.offer, local)
    } catch (err) {
      // A throw here used to leave the port pair bound and the INVITE unanswered for ever (found by test/fuzz).
      log.error({ err }, 'SDP offer could not be negotiated')
      portPool.release(ports)
      return refuse(488, 'the SDP offer could not be read', 'failed')
    }
    if (!neg.ok) {
      portPool.release(ports)
      return refuse(488, neg.reason, 'failed')
    }
    sip.progress(180)

    const rtp = new RtpSession({
      ports,
      codec: createCodec(neg.codec.name, { opusComplexity: config.opus.complexity }),
      payloadType: neg.codec.payloadType,
      telephoneEventPt: neg.telephoneEvent?.payloadType,
      remote: neg.remote,
      rtcpMux: neg.rtcpMux,
      signallingAddress: sip.remote.address,
      jitter: config.jitter,
      cname: `voice-agent-${id}@${config.publicIp}`,
      // One shared 20 ms clock: ptimes that are not a multiple of it are sent at 20 ms.
      ptimeMs: neg.ptime % 20 === 0 ? neg.ptime : 20,
      clockPeriodMs: this.deps.clock.periodMs,
      metrics,
      logger: log,
    })
    rtp.direction = neg.direction
    const call = new Call(id, sip, rtp, neg, local, { ...this.deps, logger: log })
    this.live.set(id, call)
    metrics.activeCalls.inc()
    let result: CallResult = 'failed'
    try {
      result = await call.run(neg.answer)
    } catch (err) {
      log.error({ err }, 'call aborted')
      await sip.hangup().catch(() => {})
    } finally {
      await call.finish(result)
      this.live.delete(id)
      portPool.release(ports)
      metrics.rtpPortsFree.set(portPool.available)
      metrics.activeCalls.dec()
      metrics.calls.labels(result).inc()
      log.info({ result }, 'call finished')
      // The port pair and the live entry are free already; the summary may still be written.
      const after = call.afterCall
      this.afterCalls.add(after)
      void after.finally(() => this.afterCalls.delete(after))
    }
  }

  /** Resolves when the work finished calls left behind (summaries) is done. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.afterCalls])
  }
}
