import client from 'prom-client'
import type { SipStats } from '../sip/transport/stats.ts'

/** Every metric the server exports, on one registry (so tests can build their own). */
export class Metrics {
  readonly registry = new client.Registry()
  readonly activeCalls = new client.Gauge({ name: 'voice_active_calls', help: 'Calls in progress', registers: [this.registry] })
  readonly calls = new client.Counter({ name: 'voice_calls_total', help: 'Finished calls by result', labelNames: ['result'], registers: [this.registry] })
  readonly rtpPackets = new client.Counter({ name: 'voice_rtp_packets_total', help: 'RTP packets by direction', labelNames: ['direction'], registers: [this.registry] })
  readonly rtpDropped = new client.Counter({ name: 'voice_rtp_packets_dropped_total', help: 'Incoming RTP packets counted and ignored, by reason', labelNames: ['reason'], registers: [this.registry] })
  readonly sipMessages = new client.Counter({ name: 'voice_sip_messages_total', help: 'SIP messages by direction and method or response class', labelNames: ['direction', 'kind'], registers: [this.registry] })
  readonly sipMalformed = new client.Counter({ name: 'voice_sip_malformed_total', help: 'Malformed SIP messages: answered with 400/505 (rejected) or dropped', labelNames: ['action'], registers: [this.registry] })
  readonly pacingLateness = new client.Histogram({
    name: 'voice_pacing_clock_lateness_seconds',
    help: 'How late each 20 ms tick of the shared RTP pacing clock fired',
    buckets: [0.0005, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.01, 0.02, 0.05],
    registers: [this.registry],
  })
  readonly rtpPortsFree = new client.Gauge({ name: 'voice_rtp_ports_free', help: 'RTP port pairs left in the pool', registers: [this.registry] })
  readonly ackToFirstAudio = new client.Histogram({
    name: 'voice_ack_to_first_audio_seconds',
    help: 'From the ACK of our 200 OK to the first RTP packet of the greeting',
    buckets: [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1],
    registers: [this.registry],
  })

  // Hot-path children resolved once: a labelled lookup per packet would allocate.
  readonly rtpIn = this.rtpPackets.labels('in')
  readonly rtpOut = this.rtpPackets.labels('out')

  constructor() {
    client.collectDefaultMetrics({ register: this.registry })
  }

  sipStats(): SipStats {
    return {
      messageIn: (kind) => this.sipMessages.labels('in', kind).inc(),
      messageOut: (kind) => this.sipMessages.labels('out', kind).inc(),
      malformed: (action) => this.sipMalformed.labels(action).inc(),
    }
  }
}
