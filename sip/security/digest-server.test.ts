import { createHash } from 'node:crypto'
import t from 'tap'
import type { SipRequest } from '../message/types.ts'
import { DigestServer, parseUsers } from './digest-server.ts'

const h = (alg: string, s: string) =>
  createHash(alg === 'MD5' ? 'md5' : 'sha256')
    .update(s)
    .digest('hex')
const q = (s: string) => `"${s}"`
const unq = (s: string) => s.slice(1, -1)

function answer(
  challenge: Record<string, string>,
  user: string,
  password: string,
  method: string,
  uri: string,
  nc: string,
  alg = challenge.algorithm,
): Record<string, string> {
  const realm = unq(challenge.realm)
  const nonce = unq(challenge.nonce)
  const cnonce = 'abcdef'
  const ha1 = h(alg, `${user}:${realm}:${password}`)
  const ha2 = h(alg, `${method}:${uri}`)
  return {
    scheme: 'Digest',
    username: q(user),
    realm: challenge.realm,
    nonce: challenge.nonce,
    uri: q(uri),
    qop: 'auth',
    nc,
    cnonce: q(cnonce),
    algorithm: alg,
    response: q(h(alg, `${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`)),
  }
}

const request = (auth?: Record<string, string>): SipRequest => ({
  method: 'INVITE',
  uri: 'sip:sales@192.0.2.1:5060',
  version: '2.0',
  content: '',
  headers: { authorization: auth ? [auth] : undefined } as any,
})

t.test('digest: SHA-256 and MD5 answers verify, wrong ones do not', async (t) => {
  let now = 1_000_000
  const ds = new DigestServer({ realm: 'voice', users: parseUsers('alice:s3:cret'), nonceTtlMs: 60_000, now: () => now })
  const [sha, md5] = ds.challenge()
  t.equal(sha.nonce, md5.nonce, 'one nonce for both algorithms')
  t.equal(sha.algorithm, 'SHA-256', 'SHA-256 offered first (RFC 8760)')
  t.equal(md5.algorithm, 'MD5')
  t.same(ds.verify(request()), { ok: false, reason: 'missing', stale: false })
  t.same(ds.verify(request(answer(sha, 'alice', 's3:cret', 'INVITE', 'sip:sales@192.0.2.1:5060', '00000001'))), { ok: true, user: 'alice' })
  const md5b = ds.challenge()[1]
  t.same(
    ds.verify(request(answer(md5b, 'alice', 's3:cret', 'INVITE', 'sip:192.0.2.1:5060', '00000001'))),
    { ok: true, user: 'alice' },
    'MD5; a uri without the user part (SIPp) names the same host',
  )
  t.match(ds.verify(request(answer(sha, 'alice', 'wrong', 'INVITE', 'sip:sales@192.0.2.1:5060', '00000002'))), { ok: false, reason: 'bad-response' })
  t.match(ds.verify(request(answer(sha, 'bob', 's3:cret', 'INVITE', 'sip:sales@192.0.2.1:5060', '00000002'))), { ok: false, reason: 'unknown-user' })
  t.match(
    ds.verify(request(answer(sha, 'alice', 's3:cret', 'INVITE', 'sip:sales@198.51.100.9', '00000002'))),
    { ok: false, reason: 'malformed' },
    'a digest made for another host',
  )
  t.match(
    ds.verify(request(answer(sha, 'alice', 's3:cret', 'BYE', 'sip:sales@192.0.2.1:5060', '00000002'))),
    { ok: false, reason: 'bad-response' },
    'a digest made for another method',
  )
  t.match(
    ds.verify(request(answer(sha, 'alice', 's3:cret', 'INVITE', 'sip:sales@192.0.2.1:5060', '00000001'))),
    { ok: false, reason: 'replay' },
    'the same nonce count again is a replay',
  )
  t.same(
    ds.verify(request(answer(sha, 'alice', 's3:cret', 'INVITE', 'sip:sales@192.0.2.1:5060', '00000002'))),
    { ok: true, user: 'alice' },
    'the next nonce count is fine',
  )
  const forged = { ...sha, nonce: q(`${now.toString(36)}.AAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA`) }
  t.match(
    ds.verify(request(answer(forged, 'alice', 's3:cret', 'INVITE', 'sip:sales@192.0.2.1:5060', '00000001'))),
    { ok: false, reason: 'bad-nonce' },
    'a nonce we did not make',
  )
  now += 61_000
  t.same(
    ds.verify(request(answer(sha, 'alice', 's3:cret', 'INVITE', 'sip:sales@192.0.2.1:5060', '00000003'))),
    { ok: false, reason: 'stale', stale: true },
    'right password, expired nonce: stale',
  )
  t.equal(ds.challenge(true)[0].stale, 'true')
  const noQop = answer(ds.challenge()[0], 'alice', 's3:cret', 'INVITE', 'sip:sales@192.0.2.1:5060', '00000001')
  delete noQop.qop
  t.match(ds.verify(request(noQop)), { ok: false, reason: 'unsupported' }, 'qop=auth is required (nc and cnonce stop replays)')
})

t.test('digest: only the configured algorithms are accepted', async (t) => {
  const ds = new DigestServer({ realm: 'voice', users: parseUsers('alice:pw'), algorithms: ['SHA-256'] })
  const [sha] = ds.challenge()
  t.equal(ds.challenge().length, 1)
  t.match(ds.verify(request(answer(sha, 'alice', 'pw', 'INVITE', 'sip:sales@192.0.2.1:5060', '00000001', 'MD5'))), { ok: false, reason: 'unsupported' })
})

t.test('parseUsers', async (t) => {
  t.same(
    [...parseUsers(' a:1 , b:x:y ')],
    [
      ['a', '1'],
      ['b', 'x:y'],
    ],
  )
  t.throws(() => parseUsers('nopassword'))
})
