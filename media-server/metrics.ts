import client from 'prom-client'
import type { JournalHooks } from '../crm/durable-store.ts'
import type { OutboxStore } from '../crm/outbox/outbox-store.ts'
import type { OutboxHooks } from '../crm/outbox/outbox-worker.ts'
import type { SipStats } from '../sip/transport/stats.ts'
import type { VadStats } from '../vad/silero-vad.ts'

/** Every metric the server exports, on one registry (so tests can build their own). */
export class Metrics {
  readonly registry = new client.Registry()
  readonly activeCalls = new client.Gauge({ name: 'voice_active_calls', help: 'Calls in progress', registers: [this.registry] })
  readonly calls = new client.Counter({ name: 'voice_calls_total', help: 'Finished calls by result', labelNames: ['result'], registers: [this.registry] })
  readonly invariantViolations = new client.Gauge({
    name: 'voice_call_invariant_violations',
    help: 'Broken call invariants at the last check (live_without_dialog, ports_without_call, rows_without_call): zero when all is well',
    labelNames: ['kind'],
    registers: [this.registry],
  })
  readonly mediaWorkerRestarts = new client.Counter({
    name: 'voice_media_worker_restarts_total',
    help: 'Media worker threads that died and were started again (their calls ended)',
    registers: [this.registry],
  })
  readonly mediaRingDropped = new client.Counter({
    name: 'voice_media_ring_dropped_total',
    help: "Audio records a media worker could not hand to the main thread (it fell a ring's length behind)",
    registers: [this.registry],
  })
  readonly callFaults = new client.Counter({
    name: 'voice_call_faults_total',
    help: 'Calls ended by a fault on their own path (a handler that threw), by where',
    labelNames: ['where'],
    registers: [this.registry],
  })
  readonly rtpPackets = new client.Counter({
    name: 'voice_rtp_packets_total',
    help: 'RTP packets by direction',
    labelNames: ['direction'],
    registers: [this.registry],
  })
  readonly rtpDropped = new client.Counter({
    name: 'voice_rtp_packets_dropped_total',
    help: 'Incoming RTP packets counted and ignored, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  })
  readonly sipMessages = new client.Counter({
    name: 'voice_sip_messages_total',
    help: 'SIP messages by direction and method or response class',
    labelNames: ['direction', 'kind'],
    registers: [this.registry],
  })
  readonly sipMalformed = new client.Counter({
    name: 'voice_sip_malformed_total',
    help: 'Malformed SIP messages: answered with 400/505 (rejected) or dropped',
    labelNames: ['action'],
    registers: [this.registry],
  })
  readonly sipTcpClosed = new client.Counter({
    name: 'voice_sip_tcp_closed_total',
    help: 'SIP TCP connections the server closed: idle (SIP_TCP_IDLE_TIMEOUT_S), limit-total, limit-source (refused over a cap)',
    labelNames: ['reason'],
    registers: [this.registry],
  })
  readonly pacingLateness = new client.Histogram({
    name: 'voice_pacing_clock_lateness_seconds',
    help: "How late each 10 ms tick of the media workers' RTP pacing clocks fired",
    buckets: [0.0005, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.01, 0.02, 0.05],
    registers: [this.registry],
  })
  readonly mediaGcPause = new client.Histogram({
    name: 'voice_media_gc_pause_seconds',
    help: 'Garbage-collection pauses of the media worker threads (kind: minor = scavenge, major = mark-compact, incremental = a marking step); a pause longer than a tick is a late packet',
    labelNames: ['kind'],
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05],
    registers: [this.registry],
  })
  readonly ackToFirstAudio = new client.Histogram({
    name: 'voice_ack_to_first_audio_seconds',
    help: 'From the ACK of our 200 OK to the first RTP packet of the greeting',
    buckets: [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1],
    registers: [this.registry],
  })

  readonly turnStage = new client.Histogram({
    name: 'voice_turn_stage_seconds',
    help: 'Latency of each stage of a turn: speech_end_to_eou, eou_to_first_rtp (and, with providers, asr_final, llm_first_token, tts_first_audio)',
    labelNames: ['stage'],
    buckets: [0.01, 0.02, 0.04, 0.08, 0.15, 0.3, 0.5, 0.75, 1, 1.5, 2, 3],
    registers: [this.registry],
  })
  readonly turnOwnShare = new client.Histogram({
    name: 'voice_turn_own_share_seconds',
    help: "The media server's own share of a turn: caller's end of speech to first RTP packet of the reply, less the end-of-utterance silence and provider time",
    buckets: [0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.2],
    registers: [this.registry],
  })
  readonly turnBudgetOverruns = new client.Counter({
    name: 'voice_turn_budget_overruns_total',
    help: 'Turn stages that ran past their latency budget, by stage and the fallback taken (filler, apology)',
    labelNames: ['stage', 'action'],
    registers: [this.registry],
  })
  readonly transfers = new client.Counter({
    name: 'voice_transfers_total',
    help: "Transfers to a seller tried, by outcome: refer (the caller's phone carried it out), bridge (REFER refused, the server called the seller and relays), failed",
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  })
  readonly outboundCalls = new client.Counter({
    name: 'voice_outbound_calls_total',
    help: 'Calls placed through POST /api/calls, by SIP result: answered, busy, no-answer, rejected, failed',
    labelNames: ['result'] as const,
    registers: [this.registry],
  })
  readonly bargeIns = new client.Counter({
    name: 'voice_barge_ins_total',
    help: 'Prompts dropped because the caller talked over them',
    registers: [this.registry],
  })
  readonly bargeInsResumed = new client.Counter({
    name: 'voice_barge_ins_resumed_total',
    help: 'Prompts held for caller audio that the VAD did not confirm as speech (coughs, noise), then resumed',
    registers: [this.registry],
  })
  readonly bargeInReaction = new client.Histogram({
    name: 'voice_barge_in_reaction_seconds',
    help: "From the onset of the caller's audio over a prompt to the prompt being held (silence from the next packet)",
    buckets: [0.04, 0.06, 0.08, 0.1, 0.12, 0.15, 0.2, 0.3],
    registers: [this.registry],
  })

  readonly recordingFailures = new client.Counter({
    name: 'voice_recording_failures_total',
    help: 'Calls whose recording failed: open (folder unwritable or disk full at the start: the call goes on unrecorded), write (the disk filled during the call: the recording is cut short)',
    labelNames: ['stage'] as const,
    registers: [this.registry],
  })
  readonly journalWrites = new client.Counter({
    name: 'voice_journal_writes_total',
    help: 'Record writes that went to the local journal because the database could not be reached (or a replay was running), by operation',
    labelNames: ['op'] as const,
    registers: [this.registry],
  })
  readonly journalReplayed = new client.Counter({
    name: 'voice_journal_replayed_total',
    help: 'Journal entries written to the database by a replay',
    registers: [this.registry],
  })
  readonly journalRejected = new client.Counter({
    name: 'voice_journal_rejected_total',
    help: 'Record writes the database refused (constraint or SQL error, not a connection problem), kept in DATA_DIR/journal/rejected.ndjson',
    labelNames: ['op'] as const,
    registers: [this.registry],
  })

  // Hot-path children resolved once: a labelled lookup per packet would allocate.
  readonly rtpIn = this.rtpPackets.labels('in')
  readonly rtpOut = this.rtpPackets.labels('out')

  constructor() {
    client.collectDefaultMetrics({ register: this.registry })
  }

  /** Silero VAD counters, read from the shared model at scrape time. */
  /** Read at scrape time: the pool's count as the media plane knows it then. */
  watchPorts(media: { readonly available: number }): void {
    new client.Gauge({
      name: 'voice_rtp_ports_free',
      help: 'RTP port pairs left in the pool',
      registers: [this.registry],
      collect() {
        this.set(media.available)
      },
    })
  }

  watchVad(stats: VadStats): void {
    const counter = (name: string, help: string, read: () => number) =>
      new client.Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(read())
        },
      })
    counter('voice_vad_windows_total', 'VAD windows run through the model', () => stats.windows)
    counter('voice_vad_windows_gated_total', 'VAD windows skipped by the energy pre-gate (clear silence)', () => stats.gated)
    counter('voice_vad_windows_dropped_total', 'VAD windows dropped because the model fell behind', () => stats.dropped)
    counter('voice_vad_runs_total', 'Batched inference runs', () => stats.runs)
    counter('voice_vad_inference_seconds_total', 'Time inside inference runs', () => stats.inferenceMs / 1000)
    counter('voice_vad_max_batch', 'Largest batch so far', () => stats.maxBatch)
  }

  /** The journal's backlog, read at scrape time, and its counters as the store's hooks. */
  watchJournal(pending: () => number): JournalHooks {
    new client.Gauge({
      name: 'voice_journal_pending',
      help: 'Record writes waiting in the local journal for the database',
      registers: [this.registry],
      collect() {
        this.set(pending())
      },
    })
    return {
      journalled: (op) => this.journalWrites.labels(op).inc(),
      replayed: (n) => this.journalReplayed.inc(n),
      rejected: (op) => this.journalRejected.labels(op).inc(),
    }
  }

  /**
   * The CRM outbox: row counts and the oldest undelivered row's age are read from the database at
   * scrape time (every instance sharing it reports the same); the counters are this instance's.
   */
  watchOutbox(outbox: OutboxStore): OutboxHooks {
    const delivered = new client.Counter({
      name: 'voice_crm_delivered_total',
      help: 'CRM outbox steps delivered by this instance, by step',
      labelNames: ['step'],
      registers: [this.registry],
    })
    const failed = new client.Counter({
      name: 'voice_crm_failed_total',
      help: 'CRM outbox attempts that failed, by step and whether the row went to dead letters (final)',
      labelNames: ['step', 'final'],
      registers: [this.registry],
    })
    let stats: ReturnType<OutboxStore['stats']> | undefined
    // one query per scrape for both gauges
    const read = () => (stats ??= outbox.stats().finally(() => setTimeout(() => (stats = undefined), 100).unref()))
    new client.Gauge({
      name: 'voice_crm_outbox_rows',
      help: 'CRM outbox rows by state (queued, delivering, delivered, dead)',
      labelNames: ['state'],
      registers: [this.registry],
      async collect() {
        const s = await read().catch(() => undefined)
        if (s) for (const [state, n] of Object.entries(s.rows)) this.labels(state).set(n)
      },
    })
    new client.Gauge({
      name: 'voice_crm_outbox_oldest_age_seconds',
      help: 'Age of the oldest CRM outbox row not yet delivered (queued or delivering); 0 when none',
      registers: [this.registry],
      async collect() {
        const s = await read().catch(() => undefined)
        if (s) this.set(s.oldestAgeSeconds)
      },
    })
    return {
      delivered: (step) => delivered.labels(step).inc(),
      failed: (step, final) => failed.labels(step, String(final)).inc(),
    }
  }

  sipStats(): SipStats {
    return {
      messageIn: (kind) => this.sipMessages.labels('in', kind).inc(),
      messageOut: (kind) => this.sipMessages.labels('out', kind).inc(),
      malformed: (action) => this.sipMalformed.labels(action).inc(),
      tcpClosed: (reason) => this.sipTcpClosed.labels(reason).inc(),
    }
  }
}
