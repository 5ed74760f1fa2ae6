// Digest responses checked against the published examples: RFC 2617 §3.5 (MD5, qop=auth) and
// RFC 7616 §3.9.1 (the same request with MD5 and with SHA-256).
import t from 'tap'
import { DigestSession, digestResponse, parseChallenge, pickChallenge } from './digest.ts'

t.test('RFC 2617 §3.5: Mufasa, MD5, qop=auth', async (t) => {
  const challenge = parseChallenge(
    'Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
  )
  t.ok(challenge)
  t.same(challenge!.qop, ['auth', 'auth-int'])
  const r = digestResponse({
    challenge: challenge!,
    credentials: { username: 'Mufasa', password: 'Circle Of Life' },
    method: 'GET',
    uri: '/dir/index.html',
    nc: 1,
    cnonce: '0a4f113b',
  })
  t.equal(r.response, '6629fae49393a05397450978507c4ef1')
  t.match(
    r.header,
    /^Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="\/dir\/index.html", response="6629fae49393a05397450978507c4ef1"/,
  )
  t.match(r.header, /opaque="5ccc069c403ebaf9f0171e9517f40e41"/)
  t.match(r.header, /qop=auth, nc=00000001, cnonce="0a4f113b"/)
})

t.test('RFC 7616 §3.9.1: MD5 and SHA-256 responses', async (t) => {
  const params =
    'realm="http-auth@example.org", qop="auth, auth-int", nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
  const sha = parseChallenge(`Digest ${params}, algorithm=SHA-256`)!
  const md5 = parseChallenge(`Digest ${params}, algorithm=MD5`)!
  const base = {
    credentials: { username: 'Mufasa', password: 'Circle of Life' },
    method: 'GET',
    uri: '/dir/index.html',
    nc: 1,
    cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
  }
  t.equal(digestResponse({ ...base, challenge: sha }).response, '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1')
  t.equal(digestResponse({ ...base, challenge: md5 }).response, '8ca523f5e9506fed4657c9700eebdbec')
  // Both offered (RFC 7616 §3.7): SHA-256 is taken.
  t.equal(pickChallenge([`Digest ${params}, algorithm=MD5`, `Digest ${params}, algorithm=SHA-256`])!.algorithm, 'SHA-256')
})

t.test('challenges as the SIP parser gives them, and what is not answered', async (t) => {
  const parsed = { scheme: 'Digest', realm: '"sip.example.ru"', nonce: '"abc"', qop: '"auth"', algorithm: 'MD5', stale: 'TRUE' }
  const c = pickChallenge([parsed])!
  t.same(c, { realm: 'sip.example.ru', nonce: 'abc', algorithm: 'MD5', qop: ['auth'], stale: true })
  t.equal(parseChallenge('Basic realm="x"'), null)
  t.equal(parseChallenge('Digest realm="x", nonce="y", algorithm=MD5-sess'), null)
  // RFC 2069 style (no qop): response = H(HA1:nonce:HA2)
  const old = digestResponse({
    challenge: parseChallenge('Digest realm="r", nonce="n"')!,
    credentials: { username: 'u', password: 'p' },
    method: 'REGISTER',
    uri: 'sip:r',
  })
  t.notMatch(old.header, /qop|cnonce/)
})

t.test('a session counts nc per nonce and gives up on a refused password unless stale', async (t) => {
  const s = new DigestSession({ username: 'u', password: 'p' })
  const res = (nonce: string, stale = false) => ({
    status: 401,
    headers: { 'www-authenticate': [`Digest realm="r", nonce="${nonce}", qop="auth"${stale ? ', stale=true' : ''}`] },
  })
  const a = s.answer(res('n1'), 'REGISTER', 'sip:r', false)!
  t.equal(a.name, 'authorization')
  t.equal(a.value.nc, '00000001')
  t.equal(s.answer(res('n1'), 'REGISTER', 'sip:r', true), null, 'same credentials refused: no retry')
  const b = s.answer(res('n1'), 'REGISTER', 'sip:r', false)!
  t.equal(b.value.nc, '00000002', 'the nonce is reused: nc counts on')
  const c = s.answer(res('n2', true), 'REGISTER', 'sip:r', true)!
  t.equal(c.value.nc, '00000001', 'stale: a new nonce, nc starts again')
  const p = s.answer({ status: 407, headers: { 'proxy-authenticate': ['Digest realm="r", nonce="n3"'] } }, 'INVITE', 'sip:1@r', false)!
  t.equal(p.name, 'proxy-authorization')
})
