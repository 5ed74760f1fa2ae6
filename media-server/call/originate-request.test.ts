import t from 'tap'
import { testTrunk } from '../../test/helpers/trunk.ts'
import { parseOriginate, type OriginateContext } from './originate-request.ts'

const carrier = testTrunk({ name: 'carrier', host: '10.0.0.1', domain: 'carrier.ru' })
const pbx = testTrunk({ name: 'pbx', host: '10.0.0.5', domain: '10.0.0.5' })
const ctx: OriginateContext = {
  trunks: [carrier, pbx],
  trunkFor: (uri) => [carrier, pbx].find((tr) => uri.includes(`@${tr.domain}`)),
  scenarioFile: (name) => (name === 'sales' || name === 'sales.yaml' ? 'sales.yaml' : undefined),
}
const parse = (body: unknown) => parseOriginate(body, ctx)

t.test('a number goes through the named trunk, else the first, at its domain', async (t) => {
  t.same(parse({ to: '+7 (495) 123-45-67' }), { ok: true, request: { to: '+7 (495) 123-45-67', uri: 'sip:+74951234567@carrier.ru', trunk: 'carrier' } })
  t.match(parse({ to: '89161234567', trunk: 'pbx' }), { ok: true, request: { uri: 'sip:89161234567@10.0.0.5', trunk: 'pbx' } })
  t.match(parse({ to: '89161234567', trunk: 'nope' }), { ok: false, error: /no trunk named "nope"/ })
  t.match(parseOriginate({ to: '89161234567' }, { ...ctx, trunks: [] }), { ok: false, error: /no trunk is configured/ })
})

t.test('a sip: URI is taken as it is; a trunk given must be the one it names', async (t) => {
  t.same(parse({ to: 'sip:100@127.0.0.1:5099' }), { ok: true, request: { to: 'sip:100@127.0.0.1:5099', uri: 'sip:100@127.0.0.1:5099' } })
  t.match(parse({ to: 'sips:+7495@carrier.ru;transport=tls' }), { ok: true, request: { trunk: 'carrier' } })
  t.match(parse({ to: 'sip:100@127.0.0.1', trunk: 'carrier' }), { ok: false, error: /does not name trunk carrier/ })
})

t.test('scenario, caller id and variables are checked', async (t) => {
  t.match(parse({ to: '84951234567', scenario: 'sales', callerId: '+74950001122', variables: { name: 'Анна', vip: true, n: 3 } }), {
    ok: true,
    request: { scenario: 'sales.yaml', callerId: '+74950001122', variables: { name: 'Анна', vip: true, n: 3 } },
  })
  t.match(parse({ to: '84951234567', scenario: '../etc/passwd' }), { ok: false, error: /no scenario/ })
  t.match(parse({ to: '84951234567', callerId: 'admin' }), { ok: false, error: /callerId/ })
  t.match(parse({ to: '84951234567', variables: [] }), { ok: false, error: /must be an object/ })
  t.match(parse({ to: '84951234567', variables: { 'a-b': 1 } }), { ok: false, error: /not an identifier/ })
  t.match(parse({ to: '84951234567', variables: { a: { nested: 1 } } }), { ok: false, error: /must be a string/ })
  t.match(parse({ to: '84951234567', variables: { a: 'x'.repeat(1001) } }), { ok: false, error: /must be a string/ })
})

t.test('answering-machine detection: hang up, or leave a message', async (t) => {
  t.same(parse({ to: '84951234567', amd: { onMachine: 'hangup' } }), {
    ok: true,
    request: { to: '84951234567', uri: 'sip:84951234567@carrier.ru', trunk: 'carrier', amd: { onMachine: 'hangup' } },
  })
  t.match(parse({ to: '84951234567', amd: { onMachine: 'message', message: ' Перезвоните нам. ' } }), {
    ok: true,
    request: { amd: { onMachine: 'message', message: 'Перезвоните нам.' } },
  })
  t.notMatch(parse({ to: '84951234567' }), { request: { amd: {} } }, 'no amd asked: none')
  t.match(parse({ to: '84951234567', amd: true }), { ok: false, error: /"amd" must be an object/ })
  t.match(parse({ to: '84951234567', amd: { onMachine: 'voicemail' } }), { ok: false, error: /"amd.onMachine" must be/ })
  t.match(parse({ to: '84951234567', amd: { onMachine: 'message' } }), { ok: false, error: /"amd.message" must be the text/ })
  t.match(parse({ to: '84951234567', amd: { onMachine: 'message', message: '   ' } }), { ok: false, error: /"amd.message" must be the text/ })
  t.match(parse({ to: '84951234567', amd: { onMachine: 'message', message: 'x'.repeat(501) } }), { ok: false, error: /"amd.message" must be the text/ })
  t.match(parse({ to: '84951234567', amd: { onMachine: 'hangup', message: 'hi' } }), { ok: false, error: /only said when/ })
  t.match(parse({ to: '84951234567', amd: { onMachine: 'hangup', retry: 3 } }), { ok: false, error: /unknown field\(s\) in "amd": retry/ })
})

t.test('hostile or malformed input is refused', async (t) => {
  const bad: unknown[] = [
    null,
    [],
    'sip:1@x',
    {},
    { to: '' },
    { to: 42 },
    { to: '12' },
    { to: '+7495123456789012' },
    { to: '8495abc' },
    { to: 'tel:+74951234567' },
    { to: 'sip:100@host?Subject=x' },
    { to: 'sip:100@host>;x' },
    { to: '"Boss" <sip:100@host>' },
    { to: 'sip:100@host\r\nVia: x' },
    { to: 'sip:1 00@host' },
    { to: 'sip:100@host;maddr=10.0.0.1' },
    { to: 'sip:%2B7495@host' },
    { to: 'sip:100@-host' },
    { to: 'x'.repeat(300) },
    { to: '84951234567', extra: 1 },
    { to: '84951234567', trunk: '' },
    { to: '84951234567', callerId: '123\r\nX: y' },
  ]
  for (const b of bad) t.equal(parse(b).ok, false, JSON.stringify(b)?.slice(0, 60))
})
