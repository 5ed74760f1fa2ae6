import t from 'tap'
import { parseCidr, TrustList } from './cidr.ts'
import { RateLimiter } from './rate-limit.ts'
import { scannerMatcher } from './scanners.ts'

t.test('trust list: IPv4, IPv6, IPv4-mapped, per-source replacement', async (t) => {
  const trust = new TrustList()
  trust.setSource('config', ['127.0.0.0/8', '::1', '10.1.0.0/16'])
  t.equal(trust.match('127.0.0.2'), 'config')
  t.equal(trust.match('::ffff:127.0.0.1'), 'config', 'a dual-stack socket reports IPv4 peers mapped')
  t.equal(trust.match('::1'), 'config')
  t.equal(trust.match('10.1.255.3'), 'config')
  t.equal(trust.match('10.2.0.1'), undefined)
  t.equal(trust.match('not an address'), undefined)
  trust.setSource('trunk:mts', ['198.51.100.7', '2001:db8:10::/48'])
  t.equal(trust.match('198.51.100.7'), 'trunk:mts')
  t.equal(trust.match('198.51.100.8'), undefined)
  t.equal(trust.match('2001:db8:10:ffff::1'), 'trunk:mts')
  t.equal(trust.match('2001:db8:11::1'), undefined)
  trust.setSource('trunk:mts', ['198.51.100.9'])
  t.equal(trust.match('198.51.100.7'), undefined, 'a trunk that moved: its old address is no longer trusted')
  t.equal(trust.match('198.51.100.9'), 'trunk:mts')
  t.throws(() => parseCidr('10.0.0.0/33'))
  t.throws(() => parseCidr('example.com'))
  t.same(trust.describe().config, ['127.0.0.0/8', '::1/128', '10.1.0.0/16'])
})

t.test('rate limiter: over the limit bans, the ban ends', async (t) => {
  let now = 0
  const rl = new RateLimiter({ windowMs: 1000, max: 3, banMs: 5000, now: () => now })
  t.same([rl.hit('a'), rl.hit('a'), rl.hit('a')], ['ok', 'ok', 'ok'])
  t.equal(rl.hit('a'), 'banned-now')
  t.equal(rl.hit('b'), 'ok', 'another source is not affected')
  now = 2000
  t.equal(rl.hit('a'), 'banned', 'still banned in the next window')
  t.equal(rl.banned, 1)
  now = 5001
  t.equal(rl.hit('a'), 'ok', 'the ban is over')
  const small = new RateLimiter({ windowMs: 1000, max: 1, banMs: 1000, maxSources: 2, now: () => now })
  small.hit('x')
  small.hit('y')
  t.equal(small.hit('z'), 'ok')
  t.equal(small.hit('z'), 'ok', 'beyond maxSources a new source is not tracked (memory stays bounded)')
})

t.test('scanner User-Agents', async (t) => {
  const isScanner = scannerMatcher(['evil-dialer'])
  for (const ua of ['friendly-scanner', 'sipvicious 0.3.4', 'sipcli/v1.8', 'VaxSIPUserAgent/3.1', 'Evil-Dialer 2']) t.ok(isScanner(ua), ua)
  for (const ua of ['Asterisk PBX 18.0', 'baresip v2.0', 'SIPp', 'Yealink SIP-T46S']) t.notOk(isScanner(ua), ua)
})

t.test('trunk hosts: an address as it is, a name as it resolves', async (t) => {
  const { trustTrunkHost } = await import('./trunk-trust.ts')
  const trust = new TrustList()
  t.same(await trustTrunkHost(trust, 'a', '198.51.100.7:5060'), ['198.51.100.7'])
  t.equal(trust.match('198.51.100.7'), 'trunk:a')
  const resolved = (await (await import('node:dns/promises')).lookup('localhost', { all: true })).map((a) => a.address)
  t.same(await trustTrunkHost(trust, 'b', 'localhost'), resolved)
  t.equal(trust.match('127.0.0.1') ?? trust.match('::1'), 'trunk:b')
})
