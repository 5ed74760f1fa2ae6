import os from 'node:os'
import type { AddressInfo } from 'node:net'
import { Cluster } from '../cluster/cluster.ts'
import { openDurableStore } from '../crm/open-store.ts'
import { KnowledgeBase, type KnowledgeSearch } from '../dialog/knowledge/knowledge-base.ts'
import { ScenarioRegistry } from '../dialog/scenario/registry.ts'
import { SileroVad } from '../vad/silero-vad.ts'
import { CallManager } from './call/call-manager.ts'
import type { CallDeps } from './call/call.ts'
import { closeCrashedCalls } from './call/crash-recovery.ts'
import { PromptLibrary } from './call/prompt-library.ts'
import { ScenarioPrompts } from './call/scenario-prompts.ts'
import { MEDIA_CLOCK_MS, PacingClock } from '../rtp/pacing-clock.ts'
import type { Config } from './config.ts'
import { Drainer } from './drain.ts'
import { createInboundGate } from './edge.ts'
import { createSipBackend } from './sip-backend.ts'
import { applyHttpTimeouts, createApiGuard } from './http/api-guard.ts'
import { createHttpServer } from './http/http-server.ts'
import { createOriginateRoute } from './http/originate-route.ts'
import { createCampaignRoutes } from './http/campaign-routes.ts'
import { createRecordingRoute } from './http/recording-route.ts'
import { CampaignStore } from '../dialer/campaign-store.ts'
import { campaignCall } from '../dialer/campaign-call.ts'
import { normalizePhone } from '../dialer/phone-number.ts'
import { Dialer } from '../dialer/dialer.ts'
import { Originator } from './call/originator.ts'
import type { OriginateContext } from './call/originate-request.ts'
import { createKnowledgeRoutes } from './http/knowledge-routes.ts'
import { createCrmRoutes } from './http/crm-routes.ts'
import { OutboxStore } from '../crm/outbox/outbox-store.ts'
import { createBitrix24InstallRoute, type Bitrix24InstallRoute } from './http/bitrix24-install-route.ts'
import { OutboxWorker } from '../crm/outbox/outbox-worker.ts'
import { CAMPAIGN_WEBHOOK_STEP, WEBHOOK_STEP, WebhookConnector } from '../crm/outbox/webhook.ts'
import type { CampaignCrmTargets } from '../crm/outbox/campaign-outcome.ts'
import { CAMPAIGN_BITRIX24_STEP } from '../crm/bitrix24/bitrix24-campaign.ts'
import type { Bitrix24Client } from '../crm/bitrix24/bitrix24-client.ts'
import { openBitrix24 } from '../crm/bitrix24/open-bitrix24.ts'
import { BATCH_MAX } from '../crm/bitrix24/bitrix24-client.ts'
import { BITRIX24_STEP } from '../crm/bitrix24/bitrix24-connector.ts'
import type { Connector } from '../crm/outbox/outbox-worker.ts'
import type { OutboxStep } from '../crm/outbox/outbox-store.ts'
import { checkStorage } from './http/storage-health.ts'
import { createLogger } from './logger.ts'
import { Metrics } from './metrics.ts'
import { createProviders, type CallProviders } from './provider-factories.ts'
import { redact } from './provider-config.ts'
import { INTERNAL_RATE } from '../rtp/codec-pipeline.ts'
import { LocalMediaPlane } from './media/local-media.ts'
import { WorkerMediaPlane } from './media/worker-media-plane.ts'
import { SecurityMetrics } from './security-metrics.ts'
import { trustTrunkHost } from '../sip/security/trunk-trust.ts'
import { EspeakTts } from '../providers/tts/espeak-engine.ts'
import { PromptCache } from './tts/prompt-cache.ts'
import { Trunks } from './trunks.ts'
import { srtpPolicyFor } from './trunk-config.ts'

export interface RunningServer {
  sipPort: number
  httpPort: number
  /** Stops taking calls and waits for the live ones, up to DRAIN_TIMEOUT_S. */
  drain(why: string): Promise<void>
  /** Ends the wait of a drain now (a second SIGTERM). */
  skipDrain(): void
  stop(): Promise<void>
}

export interface ServerHooks {
  /** POST /api/drain: main.ts drains, stops and exits 0, as on SIGTERM. */
  onDrainRequested?: () => void
}

/** Wires the process together: providers, storage, knowledge, prompts, clock, SIP, calls, HTTP. */
export async function startServer(config: Config, hooks: ServerHooks = {}): Promise<RunningServer> {
  const logger = createLogger(config.logLevel)
  const metrics = new Metrics()
  const tts = new EspeakTts({ logger })
  // before any I/O: a provider its adapter rejects stops the start with nothing left open
  const providers = createProviders(config, { registry: metrics.registry, logger, espeak: tts })
  logger.info({ providers: redact(config.providers) }, 'providers')
  // a call may need eSpeak at once (a prompt naming the caller, a reply, a fallback): ready before the first
  if (config.providers.tts.some((e) => e.type === 'espeak')) tts.warm()
  // a default scenario that does not load stops the start (the log has its problems)
  const scenarios = await ScenarioRegistry.open({ dir: config.scenario.dir, logger: logger.child({ component: 'scenarios' }) })
  let pending = () => 0
  const store = await openDurableStore({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    logger,
    hooks: metrics.watchJournal(() => pending()),
    retryMaxMs: config.storage.journalRetryMaxMs,
  })
  pending = () => store.pending
  const knowledge = new KnowledgeBase(store.driver)
  // CRM delivery: each finished call enqueues its steps with its final record (CallStore.finishCall)
  const outbox = new OutboxStore(store.driver)
  const outboxHooks = metrics.watchOutbox(outbox)
  let crmWorker: OutboxWorker | undefined
  let callerLookup: CallDeps['callerLookup']
  let bitrix24Install: Bitrix24InstallRoute | undefined
  // campaign contacts' final states go to the same CRM targets as calls (crm/outbox/campaign-outcome.ts)
  const campaignCrm: CampaignCrmTargets = {}
  let leadSource: Bitrix24Client | undefined
  {
    const steps: OutboxStep[] = []
    const connectors: Record<string, Connector> = {}
    // LLM mode: the summary is written after the hang-up (at most 15 s), so delivery waits for it
    const delayMs = providers.llm ? 20_000 : 0
    campaignCrm.delayMs = delayMs
    const loadCall = (id: string) => store.getCall(id)
    const crm = config.crm
    if (crm.webhookUrl) {
      if (!crm.webhookSecret) logger.warn('CRM_WEBHOOK_SECRET is not set: the CRM webhook goes unsigned')
      steps.push({ step: WEBHOOK_STEP, target: crm.webhookUrl, delayMs })
      connectors[WEBHOOK_STEP] = connectors[CAMPAIGN_WEBHOOK_STEP] = new WebhookConnector({
        secret: crm.webhookSecret || undefined,
        loadCall,
        recordingBaseUrl: crm.recordingBaseUrl || undefined,
      })
      campaignCrm.webhookUrl = crm.webhookUrl
      logger.info({ url: new URL(crm.webhookUrl).origin }, 'CRM webhook on')
    }
    const bitrix24 = await openBitrix24(crm, store.driver, logger, loadCall)
    if (bitrix24) {
      steps.push({ step: BITRIX24_STEP, target: bitrix24.portal, delayMs })
      connectors[BITRIX24_STEP] = bitrix24.connector
      connectors[CAMPAIGN_BITRIX24_STEP] = bitrix24.campaignConnector
      campaignCrm.bitrix24Portal = bitrix24.portal
      leadSource = bitrix24.client
      callerLookup = (phone, log) => bitrix24.lookup.lookup(phone, log)
      // application mode: the portal's install event brings the tokens (POST /crm/bitrix24/install)
      if (bitrix24.oauth) bitrix24Install = createBitrix24InstallRoute({ oauth: bitrix24.oauth, portal: bitrix24.portal, logger })
    }
    if (steps.length) {
      store.outboxSteps = steps
      crmWorker = new OutboxWorker({
        db: store.driver,
        // the instance id survives restarts: rows this instance held when it stopped come back at once
        workerId: store.instanceId,
        connectors,
        maxAttempts: crm.outboxMaxAttempts,
        // Bitrix24 takes 50 commands per batch request: a claim that large drains a backlog in few requests
        batch: bitrix24 ? BATCH_MAX : undefined,
        logger,
        hooks: outboxHooks,
      })
      await crmWorker.start()
    }
  }
  // after the journal replay (in openDurableStore), before any call is taken; after the CRM steps are set, so crashed calls get theirs
  await closeCrashedCalls(store, config.dataDir, logger).catch((err) =>
    logger.error({ err }, 'calls left open by a crash could not be closed; the next start tries again'),
  )
  const prompts = new PromptLibrary(new PromptCache(tts, config.promptCacheDir), config.language, INTERNAL_RATE)
  await prompts.warm(logger)
  // The opening prompt of every scenario is synthesised before calls are taken, the others in the
  // background (a prompt not ready yet is synthesised at the call).
  const scenarioPrompts = new ScenarioPrompts(
    providers.tts,
    config.promptCacheDir,
    config.language,
    ScenarioPrompts.voiceOf(config.providers.tts, config.language),
    logger.child({ component: 'scenarios' }),
  )
  const loaded = () => scenarios.files.map((f) => scenarios.get(f)!)
  await scenarioPrompts.warm(loaded(), { opening: true })
  void scenarioPrompts.warm(loaded())
  scenarios.on('loaded', (file) => {
    const s = scenarios.get(file)
    if (s) void scenarioPrompts.warm([s])
  })
  const vad = await SileroVad.load({
    tickMs: config.vad.tickMs,
    gateDb: config.vad.gateDb,
    onError: (err) => logger.error({ err }, 'VAD inference failed'),
  })
  metrics.watchVad(vad.stats)

  const rtpRange = { portMin: config.rtp.portMin, portMax: config.rtp.portMax, host: config.sip.host }
  const media =
    config.mediaWorkers > 0
      ? await WorkerMediaPlane.start({ ...rtpRange, workers: config.mediaWorkers, realtime: config.mediaPriority === 'realtime', metrics, logger })
      : new LocalMediaPlane({
          ...rtpRange,
          metrics,
          clock: new PacingClock(MEDIA_CLOCK_MS, (lateMs) => metrics.pacingLateness.observe(Math.max(0, lateMs) / 1000)),
        })
  metrics.watchPorts(media)
  const trunks = new Trunks(config, logger.child({ component: 'trunks' }), metrics.registry)
  trunks.checkTransferTargets()
  // the banned-sources gauge reads the gate at scrape time, after both exist
  const security = new SecurityMetrics(metrics.registry, () => gate.bannedSources)
  // With REDIS_URL, made once SIP listens (its id may name the port); the gate's bans reach it then.
  let cluster: Cluster | undefined
  const gate = createInboundGate(config, logger.child({ component: 'sip-edge' }), security.inbound(), {
    onBan: (source, ms) => cluster?.banned(source, ms),
    mediaHasRoom: () => media.available > 0,
  })
  const { sip, registrar } = createSipBackend(config, { gate, outbound: trunks.guard, logger, stats: metrics.sipStats() })
  const campaigns = new CampaignStore(store.driver, campaignCrm)
  // a variable, not a literal: providers and knowledge reach the calls before CallDeps declares them
  const callDeps: CallDeps & { providers: CallProviders; knowledge: KnowledgeSearch } = {
    config,
    logger,
    metrics,
    store,
    prompts,
    media,
    vad,
    providers,
    knowledge,
    callerLookup,
    doNotCall: async (phone, callId) => {
      const number = normalizePhone(phone)
      if (number && (await campaigns.addDoNotCall(number, 'asked during a call', new Date(), callId)))
        logger.info({ callId, phone: number }, 'the number is on the do-not-call list: the other party asked')
    },
    scenarios,
    scenarioPrompts,
    srtpPolicy: srtpPolicyFor(config, (address) => gate.trust.match(address)),
  }
  // Rows of this instance without an end, for the invariant check; unknown while writes wait in the journal.
  const calls = new CallManager(sip, callDeps, async () => (store.pending ? null : store.openCalls(store.instanceId)))
  await sip.start()
  // nothing awaited between here and useCluster: no INVITE is handled before the cluster is wired
  let httpAddress = ''
  let draining = () => false
  if (config.redisUrl) {
    cluster = new Cluster({
      url: config.redisUrl,
      keyPrefix: config.cluster.keyPrefix,
      instanceId: config.cluster.instanceId || `${os.hostname()}:${sip.address.port}`,
      leaseMs: config.cluster.leaseS * 1000,
      heartbeatMs: config.cluster.heartbeatMs,
      limits: { maxCalls: config.inbound.maxCalls, maxCallsPerSource: config.inbound.maxCallsPerSource },
      isTrusted: (address) => Boolean(gate.trust.match(address)),
      applyBan: (source, ms) => gate.ban(source, ms),
      status: () => ({ sip: `${config.publicIp}:${sip.address.port}`, http: httpAddress, liveCalls: calls.liveCount, draining: draining() }),
      liveCalls: () => calls.liveSummaries(),
      logger: logger.child({ component: 'cluster' }),
      registry: metrics.registry,
    })
    calls.useCluster(cluster)
    trunks.guard.useShared(cluster)
  }
  if (registrar) trunks.start(registrar)
  // A trunk's signalling addresses are trusted (inbound calls from the carrier need no digest).
  for (const t of config.trunks) {
    void trustTrunkHost(gate.trust, t.name, t.host).catch((err) =>
      logger.warn({ err, trunk: t.name, host: t.host }, 'trunk host not resolved: its calls are not trusted by address'),
    )
  }
  const drainer = new Drainer({
    gate,
    liveCount: () => calls.liveCount,
    timeoutS: config.drainTimeoutS,
    logger,
    onChange: (d) => security.draining.set(d ? 1 : 0),
  })
  draining = () => drainer.active

  const originator = new Originator({ config, logger, metrics, store, media, sip, calls, draining: () => drainer.active })
  const originateContext: OriginateContext = {
    trunks: config.trunks,
    trunkFor: (uri) => trunks.guard.trunkFor(uri),
    scenarioFile: (name) => [name, `${name}.yaml`].find((f) => scenarios.get(f)),
  }
  const dialer = new Dialer({
    store: campaigns,
    callRecord: (id) => store.getCall(id),
    request: (campaign, contact, trunk) => campaignCall(campaign, contact, trunk, originateContext),
    originate: (req, opts) => originator.originate(req, opts),
    capacity: () => (config.inbound.maxCalls > 0 ? config.inbound.maxCalls - calls.liveCount - originator.count : Number.POSITIVE_INFINITY),
    slots: cluster,
    instanceId: store.instanceId,
    logger,
    registry: metrics.registry,
  })
  const http = createHttpServer({
    store,
    metrics,
    calls,
    logger,
    ready: async () => prompts.ready && loaded().every((s) => scenarioPrompts.ready(s)),
    storage: () => checkStorage({ store, recordingsDir: `${config.dataDir}/calls`, minFreeDiskMb: config.storage.minFreeDiskMb }),
    degradedStatus: config.storage.healthDegradedStatus,
    trunks: () => trunks.status(),
    originate: {
      route: createOriginateRoute(originator, originateContext, { maxBodyBytes: config.api.maxBodyBytes, logger: logger.child({ component: 'http' }) }),
      placed: (id) => originator.placed(id),
    },
    bitrix24Install,
    campaigns: createCampaignRoutes({
      store: campaigns,
      ctx: originateContext,
      logger: logger.child({ component: 'campaigns' }),
      maxUploadBytes: config.api.maxUploadBytes,
      kick: () => void dialer.tick(),
      leads: leadSource,
    }),
    recording: createRecordingRoute({ store, dataDir: config.dataDir, live: (id) => calls.liveCall(id) !== undefined }),
    crm: createCrmRoutes(outbox, { logger: logger.child({ component: 'crm' }), kick: () => crmWorker?.kick() }),
    knowledge: createKnowledgeRoutes(knowledge, { logger: logger.child({ component: 'knowledge' }), maxUploadBytes: config.api.maxUploadBytes }),
    guard: createApiGuard({ api: config.api, logger: logger.child({ component: 'http' }), onRefused: (r) => security.httpRefused.labels(r).inc() }),
    draining: () => drainer.active,
    cluster,
    drain: () => {
      if (hooks.onDrainRequested) hooks.onDrainRequested()
      else void drainer.drain('POST /api/drain')
      return { timeoutS: config.drainTimeoutS }
    },
  })
  applyHttpTimeouts(http, config.api)
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(config.httpPort, config.httpHost, () => resolve())
  })
  const httpPort = (http.address() as AddressInfo).port
  httpAddress = `${config.httpHost === '0.0.0.0' ? config.publicIp : config.httpHost}:${httpPort}`
  // joins the cluster: its record (with the HTTP address) and heartbeat; Redis down does not stop the start
  await cluster?.start()
  await dialer.start()
  if (!config.api.token)
    logger.warn(
      { http: httpPort },
      'API_TOKEN is not set: /api and the console answer 127.0.0.1 (loopback peers) only, others get 403; /health and /metrics stay open',
    )
  else logger.info('the API and the console require the bearer token (API_TOKEN)')
  logger.info(
    { sip: sip.address, http: httpPort, publicIp: config.publicIp, rtp: config.rtp, srtp: config.srtp, storage: config.databaseUrl ? 'postgres' : 'pglite' },
    'ready to take calls',
  )

  return {
    sipPort: sip.address.port,
    httpPort,
    drain: (why) => drainer.drain(why),
    skipDrain: () => drainer.skipWait(),
    async stop() {
      // Every call gets its BYE (or CANCEL) and its final record before SIP, the clock and storage stop.
      await dialer.stop()
      await originator.shutdown(3000)
      await calls.shutdown(3000)
      await trunks.stop()
      await sip.stop()
      await cluster?.stop()
      await dialer.settled() // the campaign attempts of the calls just ended
      await calls.settle() // LLM summaries of the last calls, before the providers and storage close
      await crmWorker?.stop()
      await media.close()
      scenarios.close()
      await new Promise((r) => http.close(r))
      await Promise.allSettled([providers.asr?.close(), providers.tts.close(), providers.llm?.close()])
      await tts.close()
      await vad.close()
      await knowledge.close()
      await store.close()
    },
  }
}
