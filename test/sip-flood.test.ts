// SIPp floods (issue 15, item 2): OPTIONS at -r 5000 from one address and INVITEs never ACKed from
// another, while a trusted peer (127.0.0.2, the "trunk") places legitimate calls. The flooders are
// banned and dropped; every legitimate call is answered; afterwards no call, RTP port or memory is
// left held. The figure printed here is the README's flood figure.
import t from 'tap'
import { REPO, startServerProcess } from './helpers/server-process.ts'
import { sippFrom } from './helpers/sip-probe.ts'

const RATE = Number(process.env.FLOOD_RATE ?? 5000)
const OPTIONS_TOTAL = RATE * 4

async function metrics(port: number): Promise<(name: string) => number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  return (name) =>
    text
      .split('\n')
      .filter((l) => l.startsWith(name))
      .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0)
}

t.test("floods from two sources are banned while a trusted peer's calls are all answered", async (t) => {
  const s = await startServerProcess({
    SIP_INBOUND: 'open', // the flooders get as far as they can: only the limits stop them
    SIP_TRUSTED_CIDRS: '127.0.0.2/32',
    SIP_RATE_MAX: '60',
    SIP_RATE_WINDOW_S: '2',
    SIP_BAN_S: '120',
    SIP_MAX_CALLS_PER_SOURCE: '5',
    SIP_T1_MS: '50', // unACKed 200s are given up after 64*T1 = 3.2 s
    RTP_PORT_MIN: '31000',
    RTP_PORT_MAX: '31999',
  })
  t.teardown(() => s.stop())
  const target = `127.0.0.1:${s.sipPort}`
  const before = await metrics(s.httpPort)
  const rssBefore = before('process_resident_memory_bytes')
  const portsIdle = before('voice_rtp_ports_free')

  const started = performance.now()
  const [options, invites, legit] = await Promise.all([
    sippFrom(
      '127.0.0.1',
      ['-sf', `${REPO}/test/sipp/flood-options.xml`, '-r', String(RATE), '-m', String(OPTIONS_TOTAL), '-l', String(RATE), '-p', '25071', target],
      60,
    ).then((r) => ({ ...r, seconds: (performance.now() - started) / 1000 })),
    sippFrom('127.0.0.3', ['-sf', `${REPO}/test/sipp/flood-invite-no-ack.xml`, '-r', '500', '-m', '2000', '-p', '25072', '-mp', '36300', target], 60),
    sippFrom('127.0.0.2', ['-sn', 'uac', '-r', '2', '-m', '12', '-l', '6', '-d', '1500', '-p', '25073', '-mp', '36400', target], 120),
  ])
  const during = await metrics(s.httpPort)
  const offered = OPTIONS_TOTAL / options.seconds
  const received = during('voice_sip_messages_total{direction="in",kind="OPTIONS"}') - before('voice_sip_messages_total{direction="in",kind="OPTIONS"}')
  t.comment(
    `flood: ${OPTIONS_TOTAL} OPTIONS sent in ${options.seconds.toFixed(1)} s (${Math.round(offered)}/s offered), ${received} reached the server (${Math.round(received / options.seconds)}/s parsed and screened), + 2000 INVITEs at 500/s; legitimate calls: ${legit.successful} of 12 answered`,
  )
  t.equal(options.code, 0, 'the OPTIONS flood ran')
  t.equal(legit.successful, 12, legit.successful === 12 ? 'every legitimate call answered during the flood' : legit.out.slice(-800))
  t.equal(legit.failed, 0)
  t.ok(during('voice_sip_rate_limited_total{action="banned"}') >= 2, 'both flooding sources banned')
  t.ok(
    during('voice_sip_rate_limited_total{action="dropped"}') > received / 2,
    `most of the flood dropped unanswered (${during('voice_sip_rate_limited_total{action="dropped"}')})`,
  )
  t.ok(during('voice_sip_inbound_refused_total{reason="call_limit_source"}') > 0, 'the INVITE flooder met its concurrent call limit (503)')
  t.ok(during('voice_sip_messages_total{direction="out",kind="2xx"}') < 400, 'the flood was not answered message for message')
  t.ok(invites.code !== null)

  // back to idle: the unACKed calls end by their ACK timeout, their ports come back
  const deadline = Date.now() + 60_000
  let after = await metrics(s.httpPort)
  while (Date.now() < deadline && (after('voice_active_calls') !== 0 || after('voice_rtp_ports_free') !== portsIdle)) {
    await new Promise((r) => setTimeout(r, 500))
    after = await metrics(s.httpPort)
  }
  t.equal(after('voice_active_calls'), 0, 'no call left live')
  t.equal(after('voice_rtp_ports_free'), portsIdle, 'every RTP port pair back in the pool')
  t.equal(after('voice_call_invariant_violations'), 0, 'no invariant broken')
  const grown = (after('process_resident_memory_bytes') - rssBefore) / 1048576
  t.comment(
    `RSS ${(rssBefore / 1048576).toFixed(0)} MB before, ${(after('process_resident_memory_bytes') / 1048576).toFixed(0)} MB after (${grown.toFixed(0)} MB)`,
  )
  t.ok(grown < 100, `memory back near idle: ${grown.toFixed(0)} MB more than before the flood`)
  // the banned flooder is still refused silently; the trusted peer still served
  const again = await sippFrom('127.0.0.2', ['-sn', 'uac', '-m', '1', '-d', '500', '-p', '25074', '-mp', '36500', target], 60)
  t.equal(again.successful, 1, 'a call after the flood is answered')
})
