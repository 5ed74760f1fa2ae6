// Inbound trust against real peers (issue 15, item 2): sipvicious (svmap, svwar) gets no answer
// while a SIPp call placed at the same time is answered; a SIPp caller from an untrusted address
// authenticates with digest (MD5, as SIPp 3.6 does it) and a raw client with SHA-256; without a
// token the API answers loopback peers only. The SIP part runs against both SIP backends; with
// drachtio-server in front OPTIONS also says 503 while the server is at capacity.
import { createHash } from 'node:crypto'
import t from 'tap'
import { firstNonLoopbackAddress } from '../media-server/config.ts'
import { REPO } from './helpers/server-process.ts'
import { SIP_BACKENDS, startServerWith } from './helpers/sip-backend.ts'
import { probe, sippFrom, sipvicious } from './helpers/sip-probe.ts'

const metric = async (port: number, name: string) => {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0)
}

for (const backend of SIP_BACKENDS)
  t.test(`scanners, digest, trust (${backend})`, async (t) => {
    const s = await startServerWith(backend, {
      // 127.0.0.1 is untrusted here; 127.0.0.2 plays the trunk
      SIP_TRUSTED_CIDRS: '127.0.0.2/32',
      SIP_INBOUND: 'auth',
      SIP_AUTH_USERS: 'alice:s3cret',
      // SIPp 3.6 answers only the first challenge and knows MD5 only
      SIP_AUTH_ALGORITHMS: 'MD5,SHA-256',
      HTTP_HOST: '0.0.0.0',
      RTP_PORT_MIN: '31000',
      RTP_PORT_MAX: '31999',
    })
    t.teardown(() => s.stop())
    const target = `127.0.0.1:${s.sipPort}`

    await t.test('sipvicious gets no answer; a SIPp call at the same time is answered', async (t) => {
      const [map, war, call] = await Promise.all([
        sipvicious('svmap', ['127.0.0.1', '-p', String(s.sipPort), '-t', '0.05']),
        sipvicious('svwar', ['127.0.0.1', '-p', String(s.sipPort), '-e', '100-199', '-m', 'INVITE']),
        sippFrom('127.0.0.2', ['-sn', 'uac', '-m', '3', '-l', '3', '-r', '1', '-d', '1500', '-p', '25061', '-mp', '36000', target]),
      ])
      t.match(map.out, /found nothing/, `svmap found nothing (${map.out.trim().split('\n').pop()})`)
      t.notMatch(map.out, /\|\s*127\.0\.0\.1/, 'svmap lists no device')
      t.match(war.out, /found nothing|timed out/, `svwar found nothing (${war.out.trim().split('\n').pop()})`)
      t.equal(call.successful, 3, call.successful === 3 ? 'every SIPp call answered' : call.out.slice(-600))
      t.equal(call.failed, 0)
      const dropped = await metric(s.httpPort, 'voice_sip_scanner_dropped_total')
      t.ok(dropped >= 2, `voice_sip_scanner_dropped_total ${dropped}`)
    })

    await t.test('an untrusted caller without credentials is challenged; with them the call goes through', async (t) => {
      const challenge = await probe({ from: '127.0.0.1', port: s.sipPort, method: 'INVITE' })
      t.match(challenge, /^SIP\/2\.0 401/, 'INVITE from an untrusted address: 401')
      t.match(challenge, /^WWW-Authenticate: Digest .*algorithm=MD5/m)
      const ok = await sippFrom(
        '127.0.0.1',
        ['-sf', `${REPO}/test/sipp/uac-auth.xml`, '-au', 'alice', '-ap', 's3cret', '-s', 'alice', '-m', '1', '-p', '25062', '-mp', '36100', target],
        60,
      )
      t.equal(ok.successful, 1, ok.successful === 1 ? 'SIPp with -au/-ap: authenticated and answered' : ok.out.slice(-600))
      const before = await metric(s.httpPort, 'voice_sip_auth_failures_total')
      if (backend === 'drachtio') {
        // SIPp ACKs an unexpected 401 with the wrong CSeq: drachtio-server (sofia) does not take that ACK and
        // retransmits the 401 until Timer H, and SIPp 3.6 does not stop at -timeout meanwhile; a raw client instead
        const bad = await probe({
          from: '127.0.0.1',
          port: s.sipPort,
          method: 'INVITE',
          headers: ['Authorization: Digest username="alice", realm="voice-agent", nonce="not-ours", uri="sip:sales@127.0.0.1", response="0123456789abcdef"'],
        })
        t.match(bad, /^SIP\/2\.0 401/, 'credentials that do not verify: 401')
        t.ok((await metric(s.httpPort, 'voice_sip_auth_failures_total')) > before, 'counted as an auth failure')
        return
      }
      const bad = await sippFrom(
        '127.0.0.1',
        ['-sf', `${REPO}/test/sipp/uac-auth.xml`, '-au', 'alice', '-ap', 'wrong', '-s', 'alice', '-m', '1', '-p', '25063', '-mp', '36200', target],
        15,
      )
      t.equal(bad.successful, 0, 'a wrong password: no call')
      t.ok((await metric(s.httpPort, 'voice_sip_auth_failures_total{reason="bad-response"}')) > before, 'counted as an auth failure')
    })

    // drachtio-srf sends one WWW-Authenticate: the first algorithm only (README, drachtio backend)
    if (backend === 'embedded')
      await t.test('SHA-256 digest from a raw client', async (t) => {
        const first = await probe({ from: '127.0.0.1', port: s.sipPort })
        t.match(first, /^SIP\/2\.0 401/)
        const line = /^WWW-Authenticate: (Digest .*algorithm=SHA-256.*)$/m.exec(first ?? '')?.[1]
        t.ok(line, 'a SHA-256 challenge is offered')
        const realm = /realm="([^"]+)"/.exec(line!)![1]
        const nonce = /nonce="([^"]+)"/.exec(line!)![1]
        const h = (x: string) => createHash('sha256').update(x).digest('hex')
        const uri = `sip:sales@127.0.0.1:${s.sipPort}`
        const authz = (password: string, nc: string) => {
          const response = h(`${h(`alice:${realm}:${password}`)}:${nonce}:${nc}:c0ffee:auth:${h(`OPTIONS:${uri}`)}`)
          return `Authorization: Digest username="alice", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=SHA-256, qop=auth, nc=${nc}, cnonce="c0ffee"`
        }
        t.match(await probe({ from: '127.0.0.1', port: s.sipPort, headers: [authz('s3cret', '00000001')] }), /^SIP\/2\.0 200/, 'the right SHA-256 answer: 200')
        t.match(
          await probe({ from: '127.0.0.1', port: s.sipPort, headers: [authz('s3cret', '00000001')] }),
          /^SIP\/2\.0 401/,
          'the same answer again (a replay): 401',
        )
        t.match(await probe({ from: '127.0.0.1', port: s.sipPort, headers: [authz('guess', '00000002')] }), /^SIP\/2\.0 401/, 'a wrong password: 401')
        t.match(await probe({ from: '127.0.0.2', port: s.sipPort }), /^SIP\/2\.0 200/, 'the trusted address needs no credentials')
      })

    if (backend === 'embedded')
      await t.test('without API_TOKEN the API answers loopback peers only', async (t) => {
        t.equal((await fetch(`http://127.0.0.1:${s.httpPort}/api/calls`)).status, 200, 'from 127.0.0.1: 200')
        const ip = firstNonLoopbackAddress()
        if (ip === '127.0.0.1') {
          t.comment('this machine has no non-loopback IPv4 address to call from: the 403 case is not run')
          return
        }
        const res = await fetch(`http://${ip}:${s.httpPort}/api/calls`)
        t.equal(res.status, 403, `from ${ip}: 403`)
        t.equal((await fetch(`http://${ip}:${s.httpPort}/health`)).status, 200, '/health stays open to it')
        t.equal((await fetch(`http://${ip}:${s.httpPort}/metrics`)).status, 200, 'and /metrics')
        t.ok(
          s.logs.some((l) => l.includes('API_TOKEN is not set')),
          'the start-up log says so',
        )
      })
  })

for (const backend of SIP_BACKENDS)
  t.test(`OPTIONS: 200 with what we allow, 503 at capacity (${backend})`, async (t) => {
    const s = await startServerWith(backend, { SIP_MAX_CALLS: '1', RTP_PORT_MIN: '31000', RTP_PORT_MAX: '31999', LISTEN_NO_INPUT_MS: '60000' })
    t.teardown(() => s.stop())
    const idle = await probe({ from: '127.0.0.1', port: s.sipPort })
    t.match(idle, /^SIP\/2\.0 200/, 'OPTIONS with no call: 200')
    t.match(idle, /^Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, INFO/m, 'with Allow')
    t.equal(await probe({ from: '127.0.0.1', port: s.sipPort, userAgent: 'friendly-scanner' }), undefined, 'a scanner gets no answer')
    // one call up (never ACKed: it lives until the ACK timeout) fills SIP_MAX_CALLS=1
    t.match(await probe({ from: '127.0.0.1', port: s.sipPort, method: 'INVITE', waitMs: 5000 }), /^SIP\/2\.0 200/, 'the one call allowed is answered')
    const full = await probe({ from: '127.0.0.1', port: s.sipPort })
    t.match(full, /^SIP\/2\.0 503/, 'OPTIONS while at capacity: 503')
    t.match(full, /^Retry-After: 30/m)
    t.match(await probe({ from: '127.0.0.1', port: s.sipPort, method: 'INVITE' }), /^SIP\/2\.0 503/, 'and a second INVITE: 503')
  })
