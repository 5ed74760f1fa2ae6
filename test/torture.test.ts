// The RFC 4475 / RFC 5118 torture messages sent to a live server over UDP: each gets the
// handling its row in ../shared/testdata/rfc4475/README.md names, and the server still
// answers OPTIONS afterwards. Documentation addresses (192.0.2.x) are moved to loopback.
import dgram from 'node:dgram'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { startServerProcess } from './helpers/server-process.ts'
import { RFC4475_DIR } from './helpers/rfc4475.ts'

const DIR = RFC4475_DIR

/**
 * Final statuses a compliant UAS may send (100 Trying is ignored); [] means no response.
 * INVITEs that are accepted ring (180) and are answered later.
 */
const EXPECTED: Record<string, number[]> = {
  '3.1.1.1_wsinv': [481], // To carries a tag: a re-INVITE for a dialog we never had
  '3.1.1.2_intmeth': [501],
  '3.1.1.3_esc01': [180, 488],
  '3.1.1.4_escnull': [405],
  '3.1.1.5_esc02': [501],
  '3.1.1.6_lwsdisp': [200],
  '3.1.1.7_longreq': [180, 488],
  '3.1.1.8_dblreq': [405],
  '3.1.1.9_semiuri': [200],
  '3.1.1.10_transports': [200],
  '3.1.1.11_mpart01': [405],
  '3.1.1.12_unreason': [],
  '3.1.1.13_noreason': [],
  '3.1.2.1_badinv01': [400],
  '3.1.2.2_clerr': [400],
  '3.1.2.3_ncl': [400],
  '3.1.2.4_scalar02': [400],
  '3.1.2.5_scalarlg': [],
  '3.1.2.6_quotbal': [400],
  '3.1.2.7_ltgtruri': [400],
  '3.1.2.8_lwsruri': [400],
  '3.1.2.9_lwsstart': [400],
  '3.1.2.10_trws': [400],
  '3.1.2.11_escruri': [400],
  '3.1.2.12_baddate': [180, 488],
  '3.1.2.13_regbadct': [400],
  '3.1.2.14_badaspec': [400],
  '3.1.2.15_baddn': [400],
  '3.1.2.16_badvers': [505],
  '3.1.2.17_mismatch01': [400],
  '3.1.2.18_mismatch02': [501],
  '3.1.2.19_bigcode': [],
  '3.2.1_badbranch': [200],
  '3.3.1_insuf': [400],
  '3.3.2_unkscm': [416],
  '3.3.3_novelsc': [416], // same branch and sent-by as unkscm: answered as its retransmission
  '3.3.4_unksm2': [405],
  '3.3.5_bext01': [420],
  '3.3.6_invut': [415],
  '3.3.7_regaut01': [405],
  '3.3.8_multi01': [400],
  '3.3.9_mcl01': [400],
  '3.3.10_bcast': [],
  '3.3.11_zeromf': [200],
  '3.3.12_cparam01': [405],
  '3.3.13_cparam02': [405], // same branch and sent-by as cparam01: answered as its retransmission
  '3.3.14_regescrt': [405],
  '3.3.15_sdp01': [406],
  '3.4.1_inv2543': [180, 488],
}

t.test('RFC 4475 torture messages against a live server', async (t) => {
  const server = await startServerProcess({ RTP_PORT_MIN: '36000', RTP_PORT_MAX: '36099' })
  t.teardown(() => server.stop())
  const files = readdirSync(DIR).filter((f) => f.endsWith('.sip') && f.startsWith('3.'))
  t.equal(files.length, Object.keys(EXPECTED).length, 'every RFC 4475 file has an expectation')

  for (const file of files) {
    const name = file.replace(/\.sip$/, '')
    const raw = readFileSync(path.join(DIR, file))
    const msg = Buffer.from(raw.toString('latin1').replaceAll('192.0.2.', '127.0.0.'), 'latin1')
    const sock = dgram.createSocket('udp4')
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r))
    const statuses: number[] = []
    sock.on('message', (m) => {
      const code = /^SIP\/2\.0 (\d{3})/.exec(m.toString('latin1'))?.[1]
      if (code && code !== '100') statuses.push(Number(code))
    })
    sock.send(msg, server.sipPort, '127.0.0.1')
    await new Promise((r) => setTimeout(r, 300))
    sock.close()
    const first = statuses[0]
    const expected = EXPECTED[name]
    if (expected.length === 0) t.equal(statuses.length, 0, `${name}: no response (got ${statuses.join(',') || 'none'})`)
    else t.ok(expected.includes(first), `${name}: got ${first ?? 'no response'}, expected one of ${expected.join('/')}`)
  }

  const sock = dgram.createSocket('udp4')
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r))
  const port = sock.address().port
  const reply = new Promise<string>((r) => sock.once('message', (m) => r(m.toString())))
  sock.send(
    `OPTIONS sip:sales@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bKafter\r\nFrom: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:sales@127.0.0.1>\r\nCall-ID: after-torture\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`,
    server.sipPort,
    '127.0.0.1',
  )
  t.match(await reply, /^SIP\/2\.0 200 OK/, 'the server still answers OPTIONS')
  sock.close()
  const metrics = await fetch(`http://127.0.0.1:${server.httpPort}/metrics`).then((r) => r.text())
  t.match(metrics, /voice_sip_malformed_total\{action="rejected"\} \d+/)
  t.match(metrics, /voice_sip_malformed_total\{action="dropped"\} \d+/)
})
