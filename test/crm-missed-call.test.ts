// End to end: the real server with Bitrix24 (inbound-webhook mode, the local test portal). Inbound
// calls that rang and were never answered (cancelled while ringing, with an offer or a delayed
// offer; refused at capacity) each become one "call back" to-do on the caller's lead through the
// outbox; a call refused for having no common codec (488) makes no outbox row.
import dgram from 'node:dgram'
import t from 'tap'
import { FakePortal } from '../crm/bitrix24/fake-portal.ts'
import { startServerProcess } from './helpers/server-process.ts'
import { waitFor } from './helpers/storage-call.ts'

const RTP_MIN = 32600 + 2 * Math.floor(Math.random() * 200) // this file's share: 32600-32999 (37000-37799 is cluster.test's)

function invite(callId: string, port: number, from: string, media: { payloads: string; rtpmaps: string } | null): string {
  const sdp = media && `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP ${media.payloads}\r\n${media.rtpmaps}`
  return [
    'INVITE sip:sales@127.0.0.1 SIP/2.0',
    `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK${callId};rport`,
    `From: <sip:${from}@127.0.0.1>;tag=${callId}`,
    'To: <sip:sales@127.0.0.1>',
    `Call-ID: ${callId}`,
    'CSeq: 1 INVITE',
    `Contact: <sip:${from}@127.0.0.1:${port}>`,
    'Max-Forwards: 70',
    ...(sdp ? ['Content-Type: application/sdp', `Content-Length: ${sdp.length}`, '', sdp] : ['Content-Length: 0', '', '']),
  ].join('\r\n')
}

function cancel(callId: string, port: number, from: string): string {
  return [
    'CANCEL sip:sales@127.0.0.1 SIP/2.0',
    `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK${callId};rport`,
    `From: <sip:${from}@127.0.0.1>;tag=${callId}`,
    'To: <sip:sales@127.0.0.1>',
    `Call-ID: ${callId}`,
    'CSeq: 1 CANCEL',
    'Max-Forwards: 70',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n')
}

const PCMU = { payloads: '0', rtpmaps: 'a=rtpmap:0 PCMU/8000\r\n' }

t.test('missed inbound calls become one "call back" to-do each in Bitrix24', async (t) => {
  const portal = new FakePortal()
  await portal.start()
  t.teardown(() => portal.stop())
  // one RTP port pair: a second call while the first rings is refused at capacity
  const server = await startServerProcess({
    RTP_PORT_MIN: String(RTP_MIN),
    RTP_PORT_MAX: String(RTP_MIN + 1),
    ANSWER_DELAY_MS: '8000',
    BITRIX24_WEBHOOK_URL: portal.url,
    BITRIX24_CALLBACK_MIN: '30',
  })
  t.teardown(() => server.stop())
  const sock = dgram.createSocket('udp4')
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r))
  t.teardown(() => sock.close())
  const port = sock.address().port
  const finals = new Map<string, string[]>()
  sock.on('message', (m) => {
    const text = m.toString('latin1')
    const status = /^SIP\/2\.0 (\d{3})/.exec(text)?.[1]
    const callId = /^Call-ID: (.*)$/m.exec(text)?.[1]?.trim()
    if (status && callId && /^CSeq: 1 INVITE/m.test(text)) finals.set(callId, [...(finals.get(callId) ?? []), status])
  })
  const send = (text: string) => sock.send(Buffer.from(text, 'latin1'), server.sipPort, '127.0.0.1')
  const got = (callId: string, status: string) => waitFor(`${status} for ${callId}`, async () => finals.get(callId)?.includes(status), 5000)

  send(invite('nocodec', port, '79990000001', { payloads: '18', rtpmaps: 'a=rtpmap:18 G729/8000\r\n' }))
  await got('nocodec', '488')
  send(invite('ringing', port, '79990000002', PCMU))
  await got('ringing', '180')
  send(invite('capacity', port, '79990000003', PCMU))
  await got('capacity', '503')
  send(cancel('ringing', port, '79990000002'))
  await got('ringing', '487')
  send(invite('delayed', port, '79990000004', null))
  await got('delayed', '180')
  send(cancel('delayed', port, '79990000004'))
  await got('delayed', '487')

  const ids = await waitFor(
    'the four calls ended',
    async () => {
      const calls = (await server.api('/api/calls')).body.calls as Array<{ id: string; sipCallId: string; endedAt: string | null }>
      const by = Object.fromEntries(calls.filter((c) => c.endedAt).map((c) => [c.sipCallId, c.id]))
      return ['nocodec', 'ringing', 'capacity', 'delayed'].every((k) => by[k]) ? by : undefined
    },
    15_000,
  )
  const todosOf = (id: string) => portal.todos.filter((a) => a.DESCRIPTION.includes(`[voice call ${id}]`))
  for (const [name, from] of [
    ['ringing', '79990000002'],
    ['capacity', '79990000003'],
    ['delayed', '79990000004'],
  ] as const) {
    const id = ids[name]
    const rows = await waitFor(
      `${name} delivered`,
      async () => {
        const r = (await server.api(`/api/crm/outbox?callId=${id}`)).body.rows as Array<{ step: string; state: string }>
        return r.length && r.every((x) => x.state === 'delivered') ? r : undefined
      },
      20_000,
    )
    t.same(
      rows.map((r) => r.step),
      ['bitrix24.lead'],
      `${name}: one outbox row`,
    )
    const todos = todosOf(id)
    t.equal(todos.length, 1, `${name}: one to-do`)
    const lead = portal.leads.find((l) => String(l.ID) === String(todos[0]?.OWNER_ID))
    t.match(lead, { PHONE: [{ VALUE: from }], SOURCE_ID: 'CALL', ORIGIN_ID: id }, `${name}: on the caller's lead`)
    const call = (await server.api(`/api/calls/${id}`)).body
    t.equal(call.answeredAt ?? null, null, `${name}: never answered`)
    t.match(todos[0], { SUBJECT: 'Call back', DESCRIPTION: /missed call/, RESPONSIBLE_ID: 1 })
    t.equal(Date.parse(todos[0].DEADLINE) - Date.parse(call.endedAt), 30 * 60_000, `${name}: due BITRIX24_CALLBACK_MIN after the call`)
  }
  t.same((await server.api(`/api/crm/outbox?callId=${ids.nocodec}`)).body.rows, [], '488: no outbox row')
  t.equal(todosOf(ids.nocodec).length, 0)
  // delivered once: a worker poll later, still one to-do each
  await new Promise((r) => setTimeout(r, 1500))
  t.equal(portal.count('crm.activity.todo.add'), 3, 'three to-dos, none twice')
})
