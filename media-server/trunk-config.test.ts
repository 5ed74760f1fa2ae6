// The trunks and outbound sections: file, TRUNK_* variables, and the errors an operator sees.
import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { ConfigError, loadConfig } from './config.ts'
import { srtpPolicyFor } from './trunk-config.ts'

const dir = mkdtempSync(path.join(os.tmpdir(), 'trunk-config-'))
let n = 0
function configFile(body: unknown): string {
  const file = path.join(dir, `c${n++}.json`)
  writeFileSync(file, JSON.stringify(body))
  return file
}

t.test('defaults: no trunk, nothing may be dialled, 60 calls an hour', async (t) => {
  const cfg = loadConfig({})
  t.same(cfg.trunks, [])
  t.same(cfg.outbound, { allowPrefixes: [], maxCallsPerHour: 60, ringTimeoutS: 30 })
})

t.test('the one-trunk case from TRUNK_* variables', async (t) => {
  const cfg = loadConfig({
    TRUNK_HOST: 'sip.carrier.ru:5080',
    TRUNK_USERNAME: '74951234567',
    TRUNK_PASSWORD: 's3cret',
    TRUNK_CALLER_ID: '+74951234567',
    OUTBOUND_ALLOW_PREFIXES: '+7, 8',
    OUTBOUND_MAX_CALLS_PER_HOUR: '20',
  })
  t.match(cfg.trunks, [
    {
      name: 'trunk',
      host: 'sip.carrier.ru',
      port: 5080,
      transport: 'udp',
      username: '74951234567',
      password: 's3cret',
      domain: 'sip.carrier.ru',
      callerId: '+74951234567',
      register: true,
      expires: 300,
    },
  ])
  t.same(cfg.outbound, { allowPrefixes: ['+7', '8'], maxCallsPerHour: 20, ringTimeoutS: 30 })
  t.equal(loadConfig({ TRUNK_HOST: '10.0.0.1' }).trunks[0].register, false, 'no username: an IP-authenticated trunk, no REGISTER')
})

t.test('a trunks list in the file, and the TRUNK_* trunk replacing the one of its name', async (t) => {
  const file = configFile({
    sip: { port: 5070 },
    outbound: { allowPrefixes: ['+7', '8'], maxCallsPerHour: 10 },
    trunks: [
      {
        name: 'main',
        host: 'sip.carrier.ru',
        username: '74951234567',
        password: 'a',
        transport: 'tcp',
        realm: 'carrier.ru',
        allowPrefixes: ['+79'],
        channels: 4,
        cps: 1,
        outboundProxy: 'sbc.carrier.ru:5060',
        expires: 120,
      },
      { name: 'backup', host: '192.0.2.10', register: false },
    ],
  })
  const cfg = loadConfig({ CONFIG_FILE: file })
  t.equal(cfg.sip.port, 5070)
  t.same(cfg.outbound, { allowPrefixes: ['+7', '8'], maxCallsPerHour: 10, ringTimeoutS: 30 })
  t.match(cfg.trunks, [
    {
      name: 'main',
      transport: 'tcp',
      realm: 'carrier.ru',
      allowPrefixes: ['+79'],
      channels: 4,
      cps: 1,
      outboundProxy: 'sbc.carrier.ru:5060',
      expires: 120,
      register: true,
    },
    { name: 'backup', host: '192.0.2.10', register: false },
  ])
  const env = loadConfig({ CONFIG_FILE: file, TRUNK_NAME: 'backup', TRUNK_HOST: '192.0.2.11', OUTBOUND_ALLOW_PREFIXES: '8' })
  t.same(
    env.trunks.map((x) => `${x.name}@${x.host}`),
    ['main@sip.carrier.ru', 'backup@192.0.2.11'],
  )
  t.same(env.outbound.allowPrefixes, ['8'], 'the variable wins over the file')
})

t.test('errors name the key and what is wrong', async (t) => {
  t.throws(
    () => loadConfig({ TRUNK_HOST: 'sip.carrier.ru', TRUNK_TRANSPORT: 'tls' }),
    new ConfigError('trunk trunk: transport tls needs SIP_TLS_PORT (with SIP_TLS_CERT and SIP_TLS_KEY)'),
  )
  t.throws(() => loadConfig({ TRUNK_HOST: 'sip.carrier.ru', TRUNK_TRANSPORT: 'sctp' }), /transport must be udp, tcp or tls/)
  t.throws(() => loadConfig({ CONFIG_FILE: configFile({ trunks: [{ username: 'x' }] }) }), /trunks\[0\]: host is required/)
  t.throws(() => loadConfig({ CONFIG_FILE: configFile({ trunks: [{ host: 'a', pasword: 'x' }] }) }), /unknown key "pasword"/)
  t.throws(() => loadConfig({ CONFIG_FILE: configFile({ trunks: [{ host: 'a' }, { host: 'b', name: 'trunk' }] }) }), /two trunks are named "trunk"/)
  t.throws(() => loadConfig({ TRUNK_HOST: 'a', TRUNK_USERNAME: 'u', TRUNK_EXPIRES: '5' }), /expires must be an integer from 30/)
  t.throws(() => loadConfig({ OUTBOUND_MAX_CALLS_PER_HOUR: 'lots' }), /OUTBOUND_MAX_CALLS_PER_HOUR must be an integer/)
})

t.test('SRTP: the SRTP variable, and a trunk own srtp for calls from its addresses', async (t) => {
  t.equal(loadConfig({}).srtp, 'optional', 'SRTP defaults to optional')
  t.equal(loadConfig({ SRTP: 'required' }).srtp, 'required')
  t.throws(() => loadConfig({ SRTP: 'yes' }), new ConfigError('SRTP must be off, optional or required, got "yes"'))
  t.equal(loadConfig({ TRUNK_HOST: '10.0.0.5', TRUNK_SRTP: 'required' }).trunks[0].srtp, 'required')
  t.equal(loadConfig({ TRUNK_HOST: '10.0.0.5' }).trunks[0].srtp, undefined, 'unset: SRTP applies')
  const file = configFile({ trunks: [{ host: '10.0.0.6', srtp: 'off' }] })
  t.equal(loadConfig({ CONFIG_FILE: file }).trunks[0].srtp, 'off')
  t.throws(
    () => loadConfig({ CONFIG_FILE: configFile({ trunks: [{ host: '10.0.0.6', srtp: 'sdes' }] }) }),
    /trunks\[0\]: srtp must be off, optional or required, got "sdes"/,
  )
})

t.test("a call's SRTP by its source: its trunk's srtp, else SRTP", async (t) => {
  const cfg = loadConfig({
    CONFIG_FILE: configFile({
      trunks: [
        { name: 'secure', host: '10.0.0.7', srtp: 'required' },
        { name: 'plain', host: '10.0.0.8' },
      ],
    }),
  })
  const trust = new Map([
    ['10.0.0.7', 'trunk:secure'],
    ['10.0.0.8', 'trunk:plain'],
    ['127.0.0.1', 'config'],
  ])
  const policy = srtpPolicyFor(cfg, (a) => trust.get(a))
  t.equal(policy('10.0.0.7'), 'required', 'the trunk with srtp')
  t.equal(policy('10.0.0.8'), 'optional', 'a trunk without: SRTP')
  t.equal(policy('127.0.0.1'), 'optional', 'trusted by the config list')
  t.equal(policy('192.0.2.9'), 'optional', 'untrusted (digest)')
})
