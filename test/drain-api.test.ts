// Admin API access (bearer token, body limits) and the drain (issue 15, items 5 and 6), against the
// real server process: SIGTERM with a call in progress leaves the call up until DRAIN_TIMEOUT_S while
// OPTIONS and new INVITEs get 503, then BYE, exit 0 and a complete record; POST /api/drain lets a call
// end on its own and the process exits as soon as it has.
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import net from 'node:net'
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { documentedRoutes } from '../media-server/http/openapi.ts'
import { readWav } from '../codecs/wav.ts'
import { openStore } from '../crm/open-store.ts'
import { caller, SCENARIO_DIR, T1, wait } from './helpers/fault-server.ts'
import { startServerProcess, type ServerHandle } from './helpers/server-process.ts'
import { probe } from './helpers/sip-probe.ts'

const TOKEN = 'test-token-7f3a9c'
const auth = { authorization: `Bearer ${TOKEN}` }

async function start(t: any, env: Record<string, string>): Promise<ServerHandle> {
  const s = await startServerProcess({
    SIP_T1_MS: String(T1),
    SCENARIO_DIR,
    RTP_PORT_MIN: '31000',
    RTP_PORT_MAX: '31999',
    API_TOKEN: TOKEN,
    // the bot waits for the caller's first answer rather than ending the call on its own
    LISTEN_NO_INPUT_MS: '60000',
    SIP_TRUSTED_CIDRS: '127.0.0.1/32',
    ...env,
  })
  t.teardown(() => s.stop())
  return s
}

const http = (s: ServerHandle, p: string, init: RequestInit = {}) => fetch(`http://127.0.0.1:${s.httpPort}${p}`, init)

async function storedCall(dataDir: string, sipCallId: string) {
  const store = await openStore({ dataDir })
  try {
    const summary = (await store.listCalls({ limit: 10 })).find((r) => r.sipCallId === sipCallId)
    return summary ? await store.getCall(summary.id) : undefined
  } finally {
    await store.close()
  }
}

t.test('API access, then SIGTERM drains a live call until DRAIN_TIMEOUT_S', async (t) => {
  const s = await start(t, {
    DRAIN_TIMEOUT_S: '3',
    KNOWLEDGE_MAX_UPLOAD_BYTES: '1000',
    HTTP_MAX_BODY_BYTES: '100',
    HTTP_HEADERS_TIMEOUT_MS: '1000',
    HTTP_REQUEST_TIMEOUT_MS: '2000',
  })

  // --- item 5: the API needs the token, /health and /metrics do not
  t.equal((await http(s, '/api/calls')).status, 401, '/api/calls without a token: 401')
  t.equal((await http(s, '/api/calls', { headers: { authorization: 'Bearer wrong' } })).status, 401, 'a wrong token: 401')
  t.equal((await http(s, '/')).status, 401, 'the console too')
  t.equal((await http(s, '/api/calls', { headers: auth })).status, 200, 'with the token: 200')
  t.equal((await http(s, '/health')).status, 200, '/health is open')
  t.equal((await http(s, '/metrics')).status, 200, '/metrics is open')
  const upload = await http(s, '/api/knowledge?name=big.md', { method: 'POST', headers: auth, body: 'x'.repeat(2000) })
  t.equal(upload.status, 413, 'a knowledge upload over KNOWLEDGE_MAX_UPLOAD_BYTES: 413')
  const bigDrain = await http(s, '/api/drain', { method: 'POST', headers: auth, body: 'x'.repeat(200) })
  t.equal(bigDrain.status, 413, 'any other body over HTTP_MAX_BODY_BYTES: 413')
  t.equal((await http(s, '/health')).status, 200, 'and that refused request started no drain')
  const metrics = await (await http(s, '/metrics')).text()
  t.match(metrics, /voice_http_refused_total\{reason="no_token"\} 2/)
  t.match(metrics, /voice_http_refused_total\{reason="bad_token"\} 1/)
  t.match(metrics, /voice_http_refused_total\{reason="body_too_large"\} 2/)

  // the OpenAPI document lists every route, and every route it lists is served (no generic 404 or 405)
  const doc = await (await http(s, '/api/openapi.json', { headers: auth })).json()
  t.equal(doc.openapi, '3.1.0')
  t.same(Object.keys(doc.paths).sort(), [...new Set(documentedRoutes().map((r) => r.path))].sort())
  t.equal((await http(s, '/api/openapi.json')).status, 401, 'the document needs the token too')
  const served: string[] = []
  for (const r of documentedRoutes()) {
    // the drain stops this server (it is tried above); the install handler exists in Bitrix24 application mode only
    if (r.path === '/api/drain' || r.path === '/crm/bitrix24/install') continue
    const id = /^\/api\/(campaigns|calls)\//.test(r.path) ? randomUUID() : '1'
    const p = r.path.replace('{id}', id).replace('{action}', 'pause').replace('{phone}', '+79990000000')
    const res = await http(s, p, { method: r.method.toUpperCase(), headers: auth })
    const text = await res.text()
    if (res.status === 405 || (res.status === 404 && /"error":"not found"/.test(text))) served.push(`${r.method} ${p}: ${res.status} ${text.slice(0, 80)}`)
  }
  t.same(served, [], 'each documented route answers as itself')

  // the console: a browser is challenged for Basic credentials, API_TOKEN as the password
  const noCreds = await http(s, '/')
  t.match(noCreds.headers.get('www-authenticate'), /Basic realm="voice-agent"/, 'a browser is asked for Basic credentials')
  const basic = (password: string) => ({ authorization: `Basic ${Buffer.from(`seller:${password}`).toString('base64')}` })
  const page = await http(s, '/', { headers: basic(TOKEN) })
  t.equal(page.status, 200, 'the console with the token as the Basic password')
  t.match(await page.text(), /<title>Звонки/)
  t.equal((await http(s, '/api/calls', { headers: basic(TOKEN) })).status, 200, 'and the API it reads')
  t.equal((await http(s, '/', { headers: basic('wrong') })).status, 401, 'a wrong password: 401')

  // a client that never finishes its headers (slowloris) is cut off at HTTP_HEADERS_TIMEOUT_MS, not node's 60 s
  const slow = net.connect(s.httpPort, '127.0.0.1')
  slow.write('GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ')
  const openedAt = Date.now()
  let reply = ''
  slow.on('data', (d) => (reply += d))
  const closed = await Promise.race([once(slow, 'close').then(() => true), wait(10_000).then(() => false)])
  slow.destroy()
  t.ok(closed, `the half-sent request was closed after ${((Date.now() - openedAt) / 1000).toFixed(1)} s`)
  t.match(reply, /^HTTP\/1\.1 408/, 'with 408')

  // --- item 2 in its strictest form: a source outside SIP_TRUSTED_CIDRS with no users configured
  const untrusted = await probe({ from: '127.0.0.3', port: s.sipPort })
  t.match(untrusted, /^SIP\/2\.0 403/, 'OPTIONS from an untrusted address: 403')
  t.match(await probe({ from: '127.0.0.1', port: s.sipPort }), /^SIP\/2\.0 200/, 'from the trusted one: 200')

  // --- item 6: the drain
  const c = await caller(t, s)
  c.invite()
  await c.next(/^SIP\/2\.0 200/, 15_000)
  c.ack()
  c.startRtp()
  await wait(1000)
  const termAt = Date.now()
  const killed = s.kill('SIGTERM')
  await wait(300)
  const options = await probe({ from: '127.0.0.1', port: s.sipPort })
  t.match(options, /^SIP\/2\.0 503/, 'OPTIONS while draining: 503 (a dispatcher stops sending)')
  const invite = await probe({ from: '127.0.0.1', port: s.sipPort, method: 'INVITE' })
  t.match(invite, /^SIP\/2\.0 503/, 'a new INVITE while draining: 503')
  t.match(invite, /^Retry-After: \d+/m, 'with Retry-After')
  const health = await http(s, '/health')
  t.equal(health.status, 503, '/health while draining: 503')
  t.equal((await health.json()).status, 'draining')
  const rtpBefore = c.rtpIn
  while (Date.now() - termAt < 2500) await wait(100)
  t.equal(c.count(/^BYE /), 0, 'no BYE within the drain timeout')
  t.ok(c.rtpIn > rtpBefore, `the call still streams while draining (${c.rtpIn - rtpBefore} packets)`)
  await c.next(/^BYE /, 15_000)
  const byeAfter = (Date.now() - termAt) / 1000
  t.ok(byeAfter >= 2.9, `BYE ${byeAfter.toFixed(1)} s after SIGTERM (DRAIN_TIMEOUT_S=3)`)
  await killed
  t.equal(await s.exitCode, 0, 'the process exits 0')

  const rec = await storedCall(s.dataDir, c.callId)
  t.ok(rec?.endedAt, 'the record is closed')
  t.equal(rec?.result, 'shutdown')
  t.ok(rec?.recordingPath, 'the recording is named')
  const file = readFileSync(rec!.recordingPath!)
  t.equal(file.readUInt32LE(40), file.length - 44, 'the WAV header declares the whole file: the recording was finished')
  const seconds = readWav(file).samples.length / 2 / readWav(file).sampleRate
  t.ok(seconds > 3, `the recording covers the drain too: ${seconds.toFixed(1)} s`)
})

t.test('POST /api/drain: the call ends on its own, the process exits 0 without waiting out the timeout', async (t) => {
  const s = await start(t, { DRAIN_TIMEOUT_S: '120' })
  const c = await caller(t, s)
  c.invite()
  await c.next(/^SIP\/2\.0 200/, 15_000)
  c.ack()
  c.startRtp()
  t.equal((await http(s, '/api/drain', { method: 'POST' })).status, 401, 'POST /api/drain needs the token')
  const res = await http(s, '/api/drain', { method: 'POST', headers: auth })
  t.equal(res.status, 202)
  t.same(await res.json(), { status: 'draining', timeoutS: 120 })
  await wait(1000)
  t.equal(c.count(/^BYE /), 0, 'the live call is left alone')
  c.bye()
  await c.next(/^SIP\/2\.0 200[\s\S]*CSeq: \d+ BYE/)
  const byeAt = Date.now()
  const code = await Promise.race([s.exitCode, wait(30_000).then(() => 'still running')])
  t.equal(code, 0, `exit 0, ${((Date.now() - byeAt) / 1000).toFixed(1)} s after the last call ended`)
  const rec = await storedCall(s.dataDir, c.callId)
  t.equal(rec?.result, 'caller-hangup', 'the call ended as the caller chose')
  t.ok(rec?.endedAt)
})

t.test('a second SIGTERM skips the wait', async (t) => {
  const s = await start(t, { DRAIN_TIMEOUT_S: '120' })
  const c = await caller(t, s)
  c.invite()
  await c.next(/^SIP\/2\.0 200/, 15_000)
  c.ack()
  c.startRtp()
  const killed = s.kill('SIGTERM')
  await wait(1000)
  t.equal(c.count(/^BYE /), 0, 'draining: no BYE yet')
  const again = Date.now()
  void s.kill('SIGTERM') // the second one
  await c.next(/^BYE /, 15_000)
  t.ok(Date.now() - again < 10_000, `BYE ${((Date.now() - again) / 1000).toFixed(1)} s after the second SIGTERM, not after 120 s`)
  await killed
  t.equal(await s.exitCode, 0)
  t.equal((await storedCall(s.dataDir, c.callId))?.result, 'shutdown')
})
