import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { Journal } from './journal.ts'

t.test('appends survive a reopen, in order, with their sequence numbers', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'journal-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const j = await Journal.open(dir)
  const writes = [j.append('createCall', [{ id: 'a' }]), j.append('updateCall', ['a', { result: 'completed' }]), j.append('saveLead', ['a', { outcome: 'x' }])]
  t.equal(j.size, 3, 'counted as pending while being written')
  t.same(
    (await Promise.all(writes)).map((e) => e.seq),
    [1, 2, 3],
  )
  const id = j.journalId
  await j.close() // no ack, no rotate: as if the process died here

  const again = await Journal.open(dir)
  t.equal(again.journalId, id, 'same generation')
  t.equal(again.size, 3)
  const seen: string[] = []
  let e
  while ((e = again.peek())) {
    seen.push(`${e.seq}:${e.op}`)
    again.ack(e.seq)
  }
  t.same(seen, ['1:createCall', '2:updateCall', '3:saveLead'])
  t.same((await again.append('addDtmf', ['a', {}])).seq, 4, 'numbering goes on after a reopen')
  t.throws(() => again.ack(99), /out of order/)
  await again.close()
})

t.test('a torn last line (crash during an append) is dropped and cut off the file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'journal-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const j = await Journal.open(dir)
  await j.append('createCall', [{ id: 'a' }])
  await j.close()
  await appendFile(join(dir, 'journal.ndjson'), '{"seq":2,"op":"upd')
  const again = await Journal.open(dir)
  t.equal(again.size, 1)
  t.equal((await again.append('updateCall', ['a', {}])).seq, 2)
  await again.close()
  const lines = (await readFile(join(dir, 'journal.ndjson'), 'utf8')).split('\n').filter(Boolean)
  t.equal(lines.length, 3, 'header and two whole entries')
  for (const l of lines) JSON.parse(l)
})

t.test('rotate starts an empty generation only when nothing is pending', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'journal-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const j = await Journal.open(dir)
  t.equal(await j.rotate(), undefined, 'nothing ever written: nothing to rotate')
  const first = j.journalId
  const e = await j.append('createCall', [{ id: 'a' }])
  t.equal(await j.rotate(), undefined, 'an entry is pending')
  j.ack(e.seq)
  t.equal(await j.rotate(), first, 'returns the old generation')
  t.not(j.journalId, first)
  t.equal((await j.append('createCall', [{ id: 'b' }])).seq, 1, 'the new generation numbers from 1')
  await j.close()
  const again = await Journal.open(dir)
  t.equal(again.size, 1)
  t.equal(again.peek()?.args[0] && (again.peek()!.args[0] as { id: string }).id, 'b')
  await again.close()
})
