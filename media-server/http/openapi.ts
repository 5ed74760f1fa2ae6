// GET /api/openapi.json: every route of the HTTP API, as OpenAPI 3.1. The README's "HTTP API"
// section is the prose; this is what a client generator or an API gateway reads. The request and
// record shapes are the README's (linked per operation), kept as open objects here rather than
// a second copy of every field that could drift from the code.
import { readFileSync } from 'node:fs'

type Method = 'get' | 'post' | 'delete'

interface Operation {
  summary: string
  /** the README section that describes the fields (its heading) */
  section: string
  /** query parameters: name -> description */
  query?: Record<string, string>
  /** request body media types */
  body?: string[]
  /** status -> description; 401 and 403 (the token) are added to every /api route */
  responses: Record<number, string>
  /** no bearer token: the route is reachable without it */
  open?: boolean
  /** the response is not JSON */
  produces?: string
}

const ROUTES: Record<string, Partial<Record<Method, Operation>>> = {
  '/health': {
    get: {
      summary: 'Ready to take calls: SIP listens, prompts are ready, storage is sound',
      section: 'HTTP API',
      responses: { 200: 'ok (or degraded with HEALTH_DEGRADED_STATUS 200)', 503: 'starting, draining, or degraded' },
      open: true,
    },
  },
  '/metrics': {
    get: { summary: 'Prometheus metrics', section: 'HTTP API', responses: { 200: 'Prometheus text' }, open: true, produces: 'text/plain' },
  },
  '/': {
    get: {
      summary: 'The operator console: find a call, read its turns, hear its recording (a browser signs in with Basic, API_TOKEN as the password)',
      section: 'HTTP API',
      responses: { 200: 'HTML' },
      produces: 'text/html',
    },
  },
  '/api/openapi.json': { get: { summary: 'This document', section: 'HTTP API', responses: { 200: 'OpenAPI 3.1' } } },
  '/api/calls': {
    get: {
      summary: 'Calls, newest first (live ones marked; with REDIS_URL, the live calls of every instance)',
      section: 'HTTP API',
      query: { limit: 'at most 500 (default 50)', offset: 'rows to skip' },
      responses: { 200: '{"calls": [...]}' },
    },
    post: {
      summary: 'Place a call now',
      section: 'Placing calls',
      body: ['application/json'],
      responses: { 202: '{"id"}: the INVITE is out', 400: 'bad input', 403: "the toll-fraud guard's refusal", 503: 'draining or at capacity' },
    },
  },
  '/api/calls/{id}': {
    get: {
      summary: 'One call with its turns, DTMF, lead, RTP statistics and AMD decision',
      section: 'HTTP API',
      responses: { 200: 'the call', 404: 'no such call' },
    },
  },
  '/api/calls/{id}/recording': {
    get: {
      summary: "A finished call's recording (byte ranges served)",
      section: 'HTTP API',
      responses: {
        200: 'WAV',
        206: 'the range asked for',
        404: 'no such call or no recording',
        409: 'the call is in progress',
        416: 'the range is outside the file',
      },
      produces: 'audio/wav',
    },
  },
  '/api/leads': {
    get: {
      summary: 'Leads, newest first, each with its call (direction, times, recording)',
      section: 'HTTP API',
      query: { limit: 'at most 500 (default 50)', offset: 'rows to skip', outcome: 'only this outcome (qualified_lead, callback_booked, do_not_call, ...)' },
      responses: { 200: '{"leads": [...]}', 400: 'bad outcome' },
    },
  },
  '/api/cluster': {
    get: { summary: 'The instances sharing Redis', section: 'Many instances', responses: { 200: '{"enabled", "instances"}', 503: 'Redis does not answer' } },
  },
  '/api/trunks': {
    get: { summary: 'Trunks, their registration and outbound calls (never passwords)', section: 'Connecting a trunk', responses: { 200: '{"trunks"}' } },
  },
  '/api/drain': { post: { summary: 'Drain, then stop (as SIGTERM)', section: 'Drain', responses: { 202: '{"status": "draining", "timeoutS"}' } } },
  '/api/knowledge': {
    get: { summary: 'Documents in the knowledge base', section: 'Knowledge base', responses: { 200: '{"documents"}' } },
    post: {
      summary: 'Upload a document (the body is the file)',
      section: 'Knowledge base',
      query: { name: 'file name (or the x-file-name header)' },
      body: ['application/octet-stream', 'text/plain', 'text/markdown'],
      responses: { 201: 'stored', 400: 'unreadable', 413: 'too large' },
    },
  },
  '/api/knowledge/search': {
    get: {
      summary: 'Try a question against the knowledge base',
      section: 'Knowledge base',
      query: { q: 'the question', limit: 'passages (default 3)' },
      responses: { 200: 'passages' },
    },
  },
  '/api/knowledge/{id}': { delete: { summary: 'Remove a document', section: 'Knowledge base', responses: { 200: 'removed', 404: 'no such document' } } },
  '/api/crm/outbox': {
    get: {
      summary: 'CRM outbox rows, newest first',
      section: 'CRM',
      query: { state: 'queued, delivering, delivered, dead', callId: "one call's rows", limit: 'at most 1000 (default 100)' },
      responses: { 200: '{"rows"}' },
    },
  },
  '/api/crm/outbox/{id}': { get: { summary: 'One outbox row', section: 'CRM', responses: { 200: 'the row', 404: 'no such row' } } },
  '/api/crm/outbox/{id}/retry': {
    post: { summary: 'Put a dead row back to queued', section: 'CRM', responses: { 200: 'queued again', 404: 'no such row', 409: 'the row is not dead' } },
  },
  '/crm/bitrix24/install': {
    post: {
      summary: "Bitrix24 application mode: the portal's install event (checked by portal and application_token, not the bearer token)",
      section: 'Bitrix24',
      body: ['application/x-www-form-urlencoded'],
      responses: { 200: '{"installed": true}', 403: 'another portal or application' },
      open: true,
    },
  },
  '/api/campaigns': {
    get: {
      summary: 'Campaigns with their contact counts by state',
      section: 'Calling campaigns',
      query: { limit: 'at most 500' },
      responses: { 200: '{"campaigns"}' },
    },
    post: {
      summary: 'Create a campaign with its contacts (JSON: contacts, csv or fromBitrix24; or a text/csv upload with the settings in the query)',
      section: 'Calling campaigns',
      body: ['application/json', 'text/csv'],
      responses: {
        201: 'the campaign with added, errors, duplicates',
        400: 'bad settings or no contact',
        413: 'too large',
        502: 'Bitrix24 did not give the leads',
      },
    },
  },
  '/api/campaigns/{id}': {
    get: {
      summary: 'One campaign, its contact counts and its retry table',
      section: 'Calling campaigns',
      responses: { 200: 'the campaign', 404: 'no such campaign' },
    },
  },
  '/api/campaigns/{id}/{action}': {
    post: {
      summary: 'start, pause, resume or stop',
      section: 'Calling campaigns',
      responses: { 200: 'the campaign after', 404: 'no such campaign', 409: 'not from its state' },
    },
  },
  '/api/campaigns/{id}/contacts': {
    get: {
      summary: "Page through a campaign's contacts",
      section: 'Calling campaigns',
      query: { state: 'pending, dialing, done, failed, exhausted, do-not-call', limit: 'at most 1000', after: 'the last id of the previous page' },
      responses: { 200: '{"contacts", "next"}' },
    },
    post: {
      summary: 'Add contacts (the same forms as creating)',
      section: 'Calling campaigns',
      body: ['application/json', 'text/csv'],
      responses: { 200: '{"added", "errors", "duplicates"}', 409: 'the campaign is over' },
    },
  },
  '/api/campaigns/{id}/results.csv': {
    get: { summary: 'The results, one row per contact', section: 'Calling campaigns', responses: { 200: 'CSV' }, produces: 'text/csv' },
  },
  '/api/do-not-call': {
    get: {
      summary: 'The do-not-call list',
      section: 'Calling campaigns',
      query: { limit: 'at most 1000', offset: 'rows to skip' },
      responses: { 200: '{"numbers"}' },
    },
    post: {
      summary: 'Add a number',
      section: 'Calling campaigns',
      body: ['application/json'],
      responses: { 201: 'added', 200: 'already listed', 400: 'not a number' },
    },
  },
  '/api/do-not-call/{phone}': { delete: { summary: 'Remove a number', section: 'Calling campaigns', responses: { 200: 'removed', 404: 'not listed' } } },
}

/** The paths and methods the document lists (for the test that calls each of them). */
export function documentedRoutes(): Array<{ path: string; method: Method; open: boolean }> {
  return Object.entries(ROUTES).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method: method as Method, open: !!op.open })))
}

let cached: object | undefined

export function openApiDocument(): object {
  cached ??= build()
  return cached
}

function build(): object {
  const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
  const paths: Record<string, Record<string, object>> = {}
  for (const [path, ops] of Object.entries(ROUTES)) {
    const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }))
    paths[path] = {}
    for (const [method, op] of Object.entries(ops)) {
      const responses: Record<string, object> = {}
      for (const [status, description] of Object.entries(op.responses)) {
        responses[status] = {
          description,
          ...(status < '300' && { content: { [op.produces ?? 'application/json']: { schema: { type: op.produces ? 'string' : 'object' } } } }),
        }
      }
      if (!op.open) responses['401'] = { description: 'no bearer token, or a wrong one (with no API_TOKEN: 403 to a peer that is not on loopback)' }
      paths[path][method] = {
        summary: op.summary,
        description: `The fields: README, "${op.section}".`,
        ...(op.open && { security: [] }),
        parameters: [
          ...params,
          ...Object.entries(op.query ?? {}).map(([name, description]) => ({ name, in: 'query', description, schema: { type: 'string' } })),
        ],
        ...(op.body && {
          requestBody: {
            required: true,
            content: Object.fromEntries(op.body.map((t) => [t, { schema: t === 'application/json' ? { type: 'object' } : { type: 'string' } }])),
          },
        }),
        responses,
      }
    }
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Voice agent HTTP API', version, description: 'Health, metrics, calls, leads, campaigns, CRM outbox and knowledge base. See the README.' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'API_TOKEN' } } },
    security: [{ bearer: [] }],
    paths,
  }
}
