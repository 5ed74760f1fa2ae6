import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { openPgliteDriver } from '../../crm/drivers/pglite.ts'
import { migrate } from '../../crm/migrate.ts'
import { KnowledgeBase } from '../../dialog/knowledge/knowledge-base.ts'
import { createKnowledgeRoutes } from './knowledge-routes.ts'

const FIXTURES = new URL('../../test/fixtures/knowledge/', import.meta.url)

t.test('knowledge API over HTTP', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'kb-http-'))
  const db = await openPgliteDriver({ dataDir })
  await migrate(db)
  const kb = new KnowledgeBase(db)
  const routes = createKnowledgeRoutes(kb, { maxUploadBytes: 64 * 1024 })
  // The same call the server's handler makes: routes first, its own 404 when they decline.
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    routes(req, res, url).then(
      (handled) => {
        if (!handled) res.writeHead(404).end('not mine')
      },
      () => res.writeHead(503).end(),
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    await new Promise((resolve) => server.close(resolve))
    await kb.close()
    await db.close()
    await rm(dataDir, { recursive: true, force: true })
  })
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const call = async (method: string, path: string, body?: Uint8Array, headers: Record<string, string> = {}) => {
    const res = await fetch(base + path, { method, body: body && new Uint8Array(body), headers })
    const text = await res.text()
    return {
      status: res.status,
      allow: res.headers.get('allow'),
      body: res.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : text,
    }
  }

  const md = await call('POST', '/api/knowledge?name=faq-ru.md', await readFile(new URL('faq-ru.md', FIXTURES)))
  t.equal(md.status, 201)
  t.match(md.body.document, { name: 'faq-ru.md', format: 'md', title: 'Складно: вопросы и ответы', chunkCount: 7 })
  const pdf = await call('POST', '/api/knowledge', await readFile(new URL('price-list.pdf', FIXTURES)), {
    'x-file-name': encodeURIComponent('прайс.pdf'),
  })
  t.equal(pdf.status, 201)
  t.match(pdf.body.document, { name: 'прайс.pdf', format: 'pdf', chunkCount: 3 })

  const list = await call('GET', '/api/knowledge')
  t.same(list.body.documents.map((d: { name: string }) => d.name).sort(), ['faq-ru.md', 'прайс.pdf'])

  const search = await call('GET', `/api/knowledge/search?q=${encodeURIComponent('Сколько стоит тариф Бизнес?')}&limit=2`)
  t.equal(search.status, 200)
  t.equal(search.body.hits.length, 2)
  t.match(search.body.hits[0], { title: 'Складно: тарифы 2024', heading: 'Тариф Бизнес', content: /2490 рублей/ })

  t.same((await call('DELETE', `/api/knowledge/${pdf.body.document.id}`)).body, { deleted: pdf.body.document.id })
  t.equal((await call('DELETE', `/api/knowledge/${pdf.body.document.id}`)).status, 404)
  t.equal((await call('GET', '/api/knowledge')).body.documents.length, 1)

  // Bad requests get a clear 4xx and change nothing.
  t.match(await call('POST', '/api/knowledge', Buffer.from('x')), { status: 400, body: { error: /name the file/ } })
  t.match(await call('POST', '/api/knowledge?name=a.docx', Buffer.from('x')), { status: 400, body: { error: /unsupported file type/ } })
  t.match(await call('POST', '/api/knowledge?name=a.txt', Buffer.from([0xc3, 0x28])), { status: 400, body: { error: 'not UTF-8 text' } })
  t.match(await call('POST', '/api/knowledge?name=a.pdf', Buffer.from('not a pdf')), { status: 400, body: { error: /not a readable PDF/ } })
  t.match(await call('POST', '/api/knowledge?name=big.txt', Buffer.alloc(65 * 1024, 'a')), { status: 413 })
  t.match(await call('GET', '/api/knowledge/search'), { status: 400, body: { error: 'missing ?q=' } })
  t.match(await call('GET', '/api/knowledge/search?q=x&limit=0'), { status: 400 })
  t.match(await call('PUT', '/api/knowledge'), { status: 405, allow: 'GET, POST' })
  t.match(await call('DELETE', '/api/knowledge/abc'), { status: 400 })
  t.match(await call('GET', '/api/calls'), { status: 404, body: 'not mine' }, 'other paths are left to the server')
  t.equal((await call('GET', '/api/knowledge')).body.documents.length, 1)
})
