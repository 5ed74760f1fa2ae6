// The toll-fraud guard's rules, decided without any network: prefixes, the hourly cap, channels
// and calls per second. The clock is a counter the test moves, not a timer.
import pino from 'pino'
import t from 'tap'
import { testTrunk } from '../../test/helpers/trunk.ts'
import { OutboundGuard, parsePrefixes } from './outbound-guard.ts'
import type { TrunkConfig } from './trunk.ts'

const logger = pino({ level: 'silent' })
const trunk = (over: Partial<TrunkConfig> = {}): TrunkConfig =>
  testTrunk({ name: 'mts', host: 'sip.carrier.ru', domain: 'sip.carrier.ru', username: '74950001122', password: 'x', register: true, ...over })

t.test('nothing may be dialled when no prefixes are configured', async (t) => {
  const refused: string[] = []
  const g = new OutboundGuard({ trunks: [trunk()], allowPrefixes: [], maxCallsPerHour: 100, logger, onRefused: (r, n) => refused.push(`${r}:${n}`) })
  const d = g.check('sip:89990001122@sip.carrier.ru')
  t.equal(d.ok, false)
  t.match(d.ok ? '' : d.message, /no allowed prefixes are configured/)
  t.same(refused, ['prefix:mts'])
  t.equal(g.check('sip:seller@127.0.0.1:5070').ok, false, 'a URI that names no trunk is refused as well')
})

t.test('prefixes: the global list, and a trunk list that replaces it', async (t) => {
  const g = new OutboundGuard({
    trunks: [trunk(), trunk({ name: 'intl', host: '10.0.0.9', domain: '10.0.0.9', allowPrefixes: ['+375'] })],
    allowPrefixes: parsePrefixes('+7, 8'),
    maxCallsPerHour: 100,
    logger,
  })
  t.equal(g.check('sip:+79990001122@sip.carrier.ru').ok, true)
  t.equal(g.check('sip:8 (999) 000-11-22@sip.carrier.ru').ok, true, 'visual separators do not matter')
  t.equal(g.check('sip:79990001122@sip.carrier.ru').ok, false, '"7..." is not "+7..."')
  t.equal(g.check('sip:+88216000000@sip.carrier.ru').ok, false, 'a satellite premium number')
  t.equal(g.check('sip:+37529000000@10.0.0.9').ok, true, 'the trunk list applies on its trunk')
  t.equal(g.check('sip:+79990001122@10.0.0.9').ok, false, '... and only it')
  t.equal(g.trunkFor('sip:+79990001122@sip.carrier.ru;user=phone')?.name, 'mts')
  t.equal(g.allows('89990001122'), true, 'a bare number is matched too (start-up check of transfer targets)')
})

t.test('a trunk chosen by name: two accounts at one carrier share its domain, each call goes through the one asked for', async (t) => {
  const second = trunk({ name: 'mts-2', username: '74950003344', allowPrefixes: ['+7999'] })
  const g = new OutboundGuard({ trunks: [trunk(), second], allowPrefixes: ['+7'], maxCallsPerHour: 100, logger })
  t.equal(g.check('sip:+79990001122@sip.carrier.ru').trunk?.name, 'mts', 'by the domain alone: the first')
  const named = g.check('sip:+79990001122@sip.carrier.ru', 'mts-2')
  t.equal(named.trunk?.name, 'mts-2')
  t.equal(g.check('sip:+74950001122@sip.carrier.ru', 'mts-2').ok, false, "and that trunk's own prefixes apply")
})

t.test('the hourly cap counts over all trunks and frees up as the hour slides', async (t) => {
  let now = 0
  const refused: string[] = []
  const g = new OutboundGuard({ trunks: [trunk()], allowPrefixes: ['8'], maxCallsPerHour: 3, logger, now: () => now, onRefused: (r) => refused.push(r) })
  for (let i = 0; i < 3; i++) {
    const d = g.check('sip:89990001122@sip.carrier.ru')
    t.equal(d.ok, true)
    if (d.ok) d.release()
    now += 60_000
  }
  t.equal(g.check('sip:89990001122@sip.carrier.ru').ok, false, 'the fourth in an hour')
  now = 3_600_001
  t.equal(g.check('sip:89990001122@sip.carrier.ru').ok, true, 'the first has left the window')
  t.same(refused, ['hourly_cap'])
  const zero = new OutboundGuard({ trunks: [], allowPrefixes: ['8'], maxCallsPerHour: 0, logger })
  t.equal(zero.check('sip:89990001122@pbx').ok, false, 'cap 0 forbids all')
})

t.test('channels and calls per second per trunk', async (t) => {
  let now = 0
  const g = new OutboundGuard({ trunks: [trunk({ channels: 2, cps: 2 })], allowPrefixes: ['8'], maxCallsPerHour: 100, logger, now: () => now })
  const a = g.check('sip:81@sip.carrier.ru')
  const b = g.check('sip:82@sip.carrier.ru')
  const c = g.check('sip:83@sip.carrier.ru')
  t.equal(c.ok ? '' : c.reason, 'channels')
  if (a.ok) a.release()
  if (a.ok) a.release() // twice is once
  t.equal(g.liveCalls('mts'), 1)
  const d = g.check('sip:84@sip.carrier.ru')
  t.equal(d.ok ? '' : d.reason, 'cps', 'a third call in the same second')
  now += 1001
  const e = g.check('sip:85@sip.carrier.ru')
  t.equal(e.ok, true)
  t.ok(b.ok)
})
