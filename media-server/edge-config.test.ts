import t from 'tap'
import { loadConfig } from './config.ts'

t.test('edge settings: secure defaults, environment overrides, bad values named', async (t) => {
  const d = loadConfig({})
  t.equal(d.inbound.mode, 'auth')
  t.equal(d.inbound.trustedCidrs, '127.0.0.0/8,::1', 'only loopback is trusted out of the box')
  t.equal(d.api.token, '')
  t.equal(d.drainTimeoutS, 300)
  const c = loadConfig({
    SIP_INBOUND: 'trusted-only',
    SIP_TRUSTED_CIDRS: '10.0.0.0/8, 2001:db8::/32',
    SIP_AUTH_USERS: 'a:b',
    API_TOKEN: 'x',
    DRAIN_TIMEOUT_S: '3',
    SIP_RATE_MAX: '10',
    KNOWLEDGE_MAX_UPLOAD_BYTES: '1000',
  })
  t.equal(c.inbound.mode, 'trusted-only')
  t.equal(c.inbound.rateMax, 10)
  t.equal(c.api.maxUploadBytes, 1000)
  t.equal(c.drainTimeoutS, 3)
  t.throws(() => loadConfig({ SIP_INBOUND: 'yes' }), /SIP_INBOUND must be one of/)
  t.throws(() => loadConfig({ SIP_TRUSTED_CIDRS: '10.0.0.0/40' }), /SIP_TRUSTED_CIDRS/)
  t.throws(() => loadConfig({ SIP_AUTH_USERS: 'nopassword' }), /SIP_AUTH_USERS/)
  t.throws(() => loadConfig({ SIP_AUTH_ALGORITHMS: 'SHA-1' }), /SIP_AUTH_ALGORITHMS/)
  t.throws(() => loadConfig({ DRAIN_TIMEOUT_S: '-1' }), /DRAIN_TIMEOUT_S/)
  t.throws(() => loadConfig({ HEALTH_OPEN: 'maybe' }), /HEALTH_OPEN/)
  t.throws(() => loadConfig({ HTTP_REQUEST_TIMEOUT_MS: '5', HTTP_HEADERS_TIMEOUT_MS: '10' }), /HTTP_REQUEST_TIMEOUT_MS/)
})
