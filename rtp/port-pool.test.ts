// The RTP port pool on real sockets: even pairs, least recently used first, a dead worker's ports
// last, a port held by another process skipped.
import dgram from 'node:dgram'
import t from 'tap'
import { RtpPortPool } from './port-pool.ts'

t.test('pairs are handed out least recently used first', async (t) => {
  const pool = new RtpPortPool(37001, 37008, '127.0.0.1') // an odd start rounds up to 37002
  t.equal(pool.available, 3)
  const a = (await pool.allocate())!
  const b = (await pool.allocate())!
  t.same([a.port, b.port], [37002, 37004])
  pool.release(a)
  pool.release(a) // twice: harmless
  t.equal(pool.available, 2)
  const c = (await pool.allocate())!
  t.equal(c.port, 37006, 'the pair released a moment ago waits behind the ones unused for longer')
  const d = (await pool.allocate())!
  t.equal(d.port, 37002)
  t.equal(await pool.allocate(), null, 'none left: the caller answers 503')
  for (const p of [b, c, d]) pool.release(p)
})

t.test("a dead predecessor's ports come last", async (t) => {
  const pool = new RtpPortPool(37010, 37017, '127.0.0.1', [37010, 37014])
  const pairs = []
  for (let i = 0; i < 4; i++) pairs.push((await pool.allocate())!)
  t.same(
    pairs.map((p) => p.port),
    [37012, 37016, 37010, 37014],
  )
  for (const p of pairs) pool.release(p)
})

t.test('a port bound by another process is skipped, and tried again later', async (t) => {
  const squatter = dgram.createSocket('udp4')
  await new Promise<void>((r) => squatter.bind(37021, '127.0.0.1', r)) // the RTCP half of the first pair
  const pool = new RtpPortPool(37020, 37023, '127.0.0.1')
  const a = (await pool.allocate())!
  t.equal(a.port, 37022, 'the pair whose RTCP port is taken is skipped')
  t.equal(await pool.allocate(), null)
  squatter.close()
  const b = (await pool.allocate())!
  t.equal(b.port, 37020, 'free again: handed out')
  pool.release(a)
  pool.release(b)
})
