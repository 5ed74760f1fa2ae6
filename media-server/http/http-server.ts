import http from 'node:http'
import type { Logger } from 'pino'
import { DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, type CallStore, type CallSummary } from '../../crm/call-store.ts'
import { pageOf } from './paging.ts'
import { openApiDocument } from './openapi.ts'
import type { RecordingRoute } from './recording-route.ts'
import { readFileSync } from 'node:fs'
import type { InstanceRecord, LiveCallSummary } from '../../cluster/types.ts'
import type { CallManager } from '../call/call-manager.ts'
import type { Metrics } from '../metrics.ts'
import type { ApiGuard } from './api-guard.ts'
import type { CrmRoutes } from './crm-routes.ts'
import type { Bitrix24InstallRoute } from './bitrix24-install-route.ts'
import type { OriginateRoute } from './originate-route.ts'
import type { CampaignRoutes } from './campaign-routes.ts'
import type { PlacedCallView } from '../call/originator.ts'
import { recordedOutcome } from '../call/sip-outcome.ts'
import type { KnowledgeRoutes } from './knowledge-routes.ts'
import type { StorageHealth } from './storage-health.ts'

export interface HttpDeps {
  store: CallStore
  metrics: Metrics
  calls: CallManager
  logger: Logger
  /** True once SIP listens and the prompts are ready. */
  ready: () => Promise<boolean>
  /** The storage checks (database, journal, recordings folder, disk space). */
  storage: () => Promise<StorageHealth>
  /** The status code of a degraded /health (HEALTH_DEGRADED_STATUS). */
  degradedStatus: number
  /** /api/knowledge (upload, list, search, delete), when the knowledge base is on */
  knowledge?: KnowledgeRoutes
  /** /api/crm/outbox (list, one row, retry of a dead row) */
  crm?: CrmRoutes
  /** POST /crm/bitrix24/install (application mode): the portal calls it, so no bearer token */
  bitrix24Install?: Bitrix24InstallRoute
  /** POST /api/calls: place a call; `placed` shows one still ringing */
  originate?: { route: OriginateRoute; placed(id: string): PlacedCallView | undefined }
  /** /api/campaigns (create, control, contacts, results) and /api/do-not-call */
  campaigns?: CampaignRoutes
  /** GET /api/calls/:id/recording: a finished call's WAV */
  recording?: RecordingRoute
  /** GET /api/trunks: each trunk, its registration and its outbound calls (passwords never). */
  trunks?: () => unknown[]
  /** Bearer token / loopback check and body limits (api-guard.ts) */
  guard?: ApiGuard
  /** POST /api/drain starts a drain; draining() makes /health say so with 503 */
  drain?: () => { timeoutS: number }
  draining?: () => boolean
  /** With REDIS_URL: the live calls and the instances of the whole cluster (null: Redis did not answer). */
  cluster?: { id: string; liveCalls(): Promise<LiveCallSummary[] | null>; instances(): Promise<InstanceRecord[] | null> }
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

/** The operator console (console/index.html): find a call, read its turns, hear its recording. */
let consoleHtml: string | undefined
const consolePage = () => (consoleHtml ??= readFileSync(new URL('./console/index.html', import.meta.url), 'utf8'))
// its own inline script and style only, and nothing from elsewhere
const CONSOLE_CSP = "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; media-src 'self'; frame-ancestors 'none'"

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

const CALL_LIST_PAGE = { default: DEFAULT_LIST_LIMIT, max: MAX_LIST_LIMIT }

/** /health, /metrics, the read-only call API of the design's contract and the knowledge API. */
export function createHttpServer(deps: HttpDeps): http.Server {
  // headersTimeout and requestTimeout are enforced on this interval (node's default: 30 s)
  return http.createServer({ connectionsCheckingInterval: 1000 }, (req, res) => {
    handle(deps, req, res).catch((err) => {
      deps.logger.error({ err, url: req.url }, 'HTTP handler failed')
      // the log has the error; a client gets no database text (it names tables and values)
      if (!res.headersSent) json(res, 503, { error: 'storage unavailable' })
      else res.end()
    })
  })
}

async function handle(deps: HttpDeps, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost')
  // Bitrix24 calls the install handler itself: it checks the portal and application_token, not API_TOKEN
  if (deps.bitrix24Install && (await deps.bitrix24Install(req, res, url))) return
  if (deps.guard?.(req, res, url)) return
  if (url.pathname === '/api/drain' && deps.drain) {
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST')
      return json(res, 405, { error: 'method not allowed' })
    }
    req.resume()
    return json(res, 202, { status: 'draining', ...deps.drain() })
  }
  // the knowledge API takes uploads and deletes, so it goes before the read-only rest
  if (deps.knowledge && (await deps.knowledge(req, res, url))) return
  if (deps.crm && (await deps.crm(req, res, url))) return
  if (deps.originate && (await deps.originate.route(req, res, url))) return
  if (deps.campaigns && (await deps.campaigns(req, res, url))) return
  if (deps.recording && (await deps.recording(req, res, url))) return
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD')
    return json(res, 405, { error: 'method not allowed' })
  }
  if (url.pathname === '/health') {
    const ready = await deps.ready().catch(() => false)
    const { ok, checks } = await deps.storage()
    if (!ready) return json(res, 503, { status: 'starting', checks, activeCalls: deps.calls.liveCount })
    // a load balancer stops sending here; the live calls go on
    if (deps.draining?.()) return json(res, 503, { status: 'draining', checks, activeCalls: deps.calls.liveCount })
    // Degraded still takes calls (unrecorded, or journalled): the status code is the operator's call.
    return json(res, ok ? 200 : deps.degradedStatus, { status: ok ? 'ok' : 'degraded', checks, activeCalls: deps.calls.liveCount })
  }
  if (url.pathname === '/metrics') {
    const body = await deps.metrics.registry.metrics()
    res.writeHead(200, { 'content-type': deps.metrics.registry.contentType })
    res.end(body)
    return
  }
  if (url.pathname === '/api/cluster') {
    if (!deps.cluster) return json(res, 200, { enabled: false, instances: [] })
    const instances = await deps.cluster.instances()
    return json(res, instances ? 200 : 503, { enabled: true, instance: deps.cluster.id, redis: instances ? 'up' : 'down', instances: instances ?? [] })
  }
  if (url.pathname === '/api/trunks') return json(res, 200, { trunks: deps.trunks?.() ?? [] })
  if (url.pathname === '/') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': CONSOLE_CSP })
    res.end(consolePage())
    return
  }
  if (url.pathname === '/api/openapi.json') return json(res, 200, openApiDocument())
  if (url.pathname === '/api/leads') {
    const outcome = url.searchParams.get('outcome')
    if (outcome !== null && !/^[a-z_-]{1,40}$/.test(outcome)) return json(res, 400, { error: 'outcome must be an outcome name such as qualified_lead' })
    const { limit, offset } = pageOf(url, CALL_LIST_PAGE)
    return json(res, 200, { leads: await deps.store.listLeads({ limit, offset, ...(outcome && { outcome }) }) })
  }
  if (url.pathname === '/api/calls') {
    const { limit, offset } = pageOf(url, CALL_LIST_PAGE)
    const calls = (await deps.store.listCalls({ limit, offset })).map((c) => withOutbound(deps, c))
    if (!deps.cluster) return json(res, 200, { calls: calls.map((c) => ({ ...c, live: c.live ?? deps.calls.liveCall(c.id) !== undefined })) })
    return json(res, 200, { calls: await withClusterCalls(deps, deps.cluster, calls, offset) })
  }
  const m = /^\/api\/calls\/([^/]+)$/.exec(url.pathname)
  if (m) {
    const id = m[1]
    // Call ids are UUIDs: anything else (%00, a quote, a path) is no call and never reaches SQL.
    if (!UUID.test(id)) return json(res, 404, { error: 'no such call' })
    const call = await deps.store.getCall(id)
    if (!call) {
      // a call in progress on another instance whose rows are in that instance's own database
      const elsewhere = (await deps.cluster?.liveCalls())?.find((c) => c.id === id)
      return elsewhere ? json(res, 200, elsewhere) : json(res, 404, { error: `no call ${id}` })
    }
    const live = deps.calls.liveCall(id)
    const detail = withOutbound(deps, call)
    return json(res, 200, live ? { ...detail, ...live.liveView() } : { live: false, ...detail })
  }
  json(res, 404, { error: 'not found' })
}

/**
 * An outbound call's SIP side: while it rings, the placer's view (live); after, what its record
 * says (answered, else busy, no-answer, rejected or failed with the final status code).
 */
function withOutbound<C extends CallSummary>(deps: HttpDeps, c: C): C & { live?: true; outbound?: object } {
  if (c.direction !== 'outbound') return c
  const placed = deps.originate?.placed(c.id)
  if (placed)
    return {
      ...c,
      live: true,
      outbound: { target: placed.target, trunk: placed.trunk, sipResult: placed.state, sipStatus: placed.sipStatus, earlyMedia: placed.earlyMedia },
    }
  // answered and talking: the row gets its answer time when the call is finished
  const talking = deps.calls.liveCall(c.id) !== undefined
  return { ...c, outbound: { target: c.callerId, ...(talking ? { sipResult: 'answered', sipStatus: 200 } : recordedOutcome(c)) } }
}

/**
 * The call list with the live calls of every instance: a row of this database that some instance
 * carries now is live with that instance's name; live calls whose rows are elsewhere (another
 * instance's embedded database) join the first page (all of them), by start time. Redis down: this instance's own.
 */
async function withClusterCalls(deps: HttpDeps, cluster: NonNullable<HttpDeps['cluster']>, rows: CallSummary[], offset: number): Promise<object[]> {
  const live = await cluster.liveCalls()
  const local = (c: CallSummary) => deps.calls.liveCall(c.id) !== undefined
  if (!live) return rows.map((c) => (local(c) ? { ...c, live: true, instance: cluster.id } : { ...c, live: false }))
  const byId = new Map(live.map((c) => [c.id, c]))
  const out: Array<CallSummary & { live: boolean; instance?: string }> = rows.map((c) => {
    const l = byId.get(c.id)
    byId.delete(c.id)
    // the row is the fuller record (lead outcome, turns written); live and instance come from the cluster
    if (l) return { ...c, answeredAt: c.answeredAt ?? l.answeredAt, live: true, instance: l.instance }
    return local(c) ? { ...c, live: true, instance: cluster.id } : { ...c, live: false }
  })
  if (offset > 0 || !byId.size) return out
  return [...out, ...byId.values()].sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0))
}
