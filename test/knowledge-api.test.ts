// The knowledge API of the running server: documents uploaded over HTTP land in the call store's
// database and are found by paraphrased questions.
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { REPO, startServerProcess } from './helpers/server-process.ts'

const FIXTURES = path.join(REPO, 'test/fixtures/knowledge')
const server = await startServerProcess()
t.teardown(() => server.stop())
const base = `http://127.0.0.1:${server.httpPort}`

async function request(method: string, p: string, body?: Buffer): Promise<{ status: number; body: any }> {
  const res = await fetch(base + p, { method, body: body && new Uint8Array(body) })
  return { status: res.status, body: await res.json() }
}

const markdown = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.md'))
  .sort()
const ids: Record<string, number> = {}

t.test('upload every Markdown fixture', async (t) => {
  t.ok(markdown.length >= 2, `fixtures: ${markdown.join(', ')}`)
  for (const name of markdown) {
    const res = await request('POST', `/api/knowledge?name=${encodeURIComponent(name)}`, readFileSync(path.join(FIXTURES, name)))
    t.equal(res.status, 201, name)
    t.match(res.body.document, { name, format: 'md' })
    t.ok(res.body.document.chunkCount > 1, `${name} is split by its headings`)
    ids[name] = res.body.document.id
  }
  const html = await request('POST', '/api/knowledge?name=price-list.html', readFileSync(path.join(FIXTURES, 'price-list.html')))
  t.equal(html.status, 400, 'an unsupported format is refused')
  t.match(html.body.error, /unsupported file type/)
})

t.test('list the documents', async (t) => {
  const res = await server.api('/api/knowledge')
  t.equal(res.status, 200)
  t.same(res.body.documents.map((d: { name: string }) => d.name).sort(), markdown)
})

t.test('a paraphrased question finds the right chunk', async (t) => {
  const cases: Array<[string, string]> = [
    ['Можно ли вернуть деньги, если программа не подошла?', 'Возврат денег'],
    ['When can I reach your support team?', 'Customer support'],
  ]
  for (const [q, heading] of cases) {
    const res = await server.api(`/api/knowledge/search?q=${encodeURIComponent(q)}&limit=2`)
    t.equal(res.status, 200)
    t.ok(res.body.hits.length <= 2, 'limit honoured')
    t.equal(res.body.hits[0]?.heading, heading, q)
  }
  t.equal((await server.api('/api/knowledge/search')).status, 400, 'no question: 400')
})

t.test('delete a document and its chunks', async (t) => {
  const id = ids['faq-en.md']
  t.same(await request('DELETE', `/api/knowledge/${id}`), { status: 200, body: { deleted: id } })
  t.equal((await request('DELETE', `/api/knowledge/${id}`)).status, 404, 'gone')
  const list = await server.api('/api/knowledge')
  t.notOk(list.body.documents.some((d: { id: number }) => d.id === id))
  const res = await server.api(`/api/knowledge/search?q=${encodeURIComponent('When can I reach your support team?')}`)
  t.notOk(
    res.body.hits.some((h: { documentId: number }) => h.documentId === id),
    'its chunks went with it',
  )
})

t.test('the rest of the API is read-only but for placing a call', async (t) => {
  t.equal((await request('PUT', '/api/calls')).status, 405)
  t.equal((await request('POST', '/api/calls/00000000-0000-0000-0000-000000000000')).status, 405)
  t.equal((await server.api('/api/calls')).status, 200)
  t.ok(
    server.logs.some((l) => l.includes('"msg":"providers"')),
    'the provider configuration is logged at start-up',
  )
})
