import { readFileSync } from 'node:fs'
import { RFC4475_DIR } from '../../test/helpers/rfc4475.ts'
import t from 'tap'
import { parseDatagram } from './parse.ts'
import { StreamFramer, type FramerLimits } from './stream-framer.ts'
import type { DropOutcome, ParseOutcome, RejectOutcome } from './types.ts'

const DIR = RFC4475_DIR + '/'
const file = (name: string): Buffer => readFileSync(DIR + name)

const message = (n: number, body = ''): Buffer =>
  Buffer.from(
    `OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK${n}\r\nFrom: <sip:a@example.com>;tag=a\r\n` +
      `To: <sip:bob@example.com>\r\nCall-ID: c${n}\r\nCSeq: ${n} OPTIONS\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    'latin1',
  )

function framer(limits?: FramerLimits) {
  const outcomes: ParseOutcome[] = []
  const errors: (RejectOutcome | DropOutcome)[] = []
  let pings = 0
  const f = new StreamFramer(
    (o) => outcomes.push(o),
    (e) => errors.push(e),
    () => pings++,
    limits,
  )
  return { f, outcomes, errors, pings: () => pings }
}

const callIds = (outcomes: ParseOutcome[]) => outcomes.map((o) => (o.kind === 'message' ? o.message.headers['call-id'] : o.kind))

t.test('two messages in one chunk', async (t) => {
  const { f, outcomes, errors } = framer()
  f.push(Buffer.concat([message(1, 'body one'), message(2)]))
  t.same(callIds(outcomes), ['c1', 'c2'])
  t.equal(outcomes[0].kind === 'message' && outcomes[0].message.content, 'body one')
  t.same(errors, [])
})

t.test('a message split at every byte gives the same message as the datagram parser', async (t) => {
  const whole = file('3.1.1.11_mpart01.sip') // binary body with CR, LF and NUL
  const expected = parseDatagram(whole)
  for (let at = 0; at <= whole.length; at++) {
    const { f, outcomes, errors } = framer()
    f.push(whole.subarray(0, at))
    f.push(whole.subarray(at))
    if (outcomes.length !== 1 || errors.length) {
      t.fail(`split at ${at}: ${JSON.stringify({ outcomes: outcomes.length, errors })}`)
      return
    }
    t.same(outcomes[0], expected, `split at ${at}`, { diagnostic: false })
  }
  const { f, outcomes } = framer()
  for (const byte of Buffer.concat([message(1, 'x'), message(2)])) f.push(Buffer.from([byte]))
  t.same(callIds(outcomes), ['c1', 'c2'], 'byte by byte')
})

t.test('CRLF keep-alives between messages', async (t) => {
  const { f, outcomes, errors, pings } = framer()
  f.push(Buffer.from('\r\n\r\n'))
  f.push(message(1))
  f.push(Buffer.from('\r\n\r'))
  f.push(Buffer.from('\n'))
  f.push(Buffer.from('\r\n')) // a lone CRLF (a pong) before the next message
  f.push(message(2))
  f.push(Buffer.from('\r\n\r\n\r\n\r\n'))
  t.same(callIds(outcomes), ['c1', 'c2'])
  t.equal(pings(), 4)
  t.same(errors, [])
})

t.test('missing Content-Length is fatal on a stream, answered 400', async (t) => {
  const { f, outcomes, errors } = framer()
  f.push(file('3.4.1_inv2543.sip'))
  f.push(message(2))
  t.same(outcomes, [])
  t.equal(errors.length, 1)
  t.same(errors[0].kind === 'reject' && [errors[0].status, errors[0].reason], [400, 'Content-Length is required on a stream transport'])
})

t.test('duplicate Content-Length (RFC 4475 3.3.9) is fatal', async (t) => {
  const { f, outcomes, errors } = framer()
  f.push(file('3.3.9_mcl01.sip'))
  t.same(outcomes, [])
  t.same(
    errors.map((e) => (e.kind === 'reject' ? e.status : e.kind)),
    [400],
  )
})

t.test('a broken message with a sound Content-Length is answered and the stream goes on', async (t) => {
  const { f, outcomes, errors } = framer()
  f.push(file('3.1.2.17_mismatch01.sip'))
  f.push(message(2))
  t.same(
    outcomes.map((o) => (o.kind === 'reject' ? `${o.status}` : o.kind)),
    ['400', 'message'],
  )
  t.same(errors, [])
})

t.test('garbage is fatal and later input is ignored', async (t) => {
  const { f, outcomes, errors } = framer()
  f.push(Buffer.from('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n'))
  f.push(message(1))
  t.same(outcomes, [])
  t.same(
    errors.map((e) => e.kind),
    ['drop'],
  )
})

t.test('limits', async (t) => {
  const head = framer()
  head.f.push(Buffer.from(`OPTIONS sip:bob@example.com SIP/2.0\r\nSubject: ${'x'.repeat(16 * 1024)}`))
  t.same(
    head.errors.map((e) => e.kind),
    ['drop'],
    'header section over 16 KiB without an end',
  )

  const longHead = framer()
  longHead.f.push(message(1, '').subarray(0, 60))
  longHead.f.push(Buffer.from(`X: ${'y'.repeat(16 * 1024)}\r\n\r\n`))
  t.same(
    longHead.errors.map((e) => e.kind),
    ['drop'],
    'header section over 16 KiB with an end',
  )

  const body = framer()
  body.f.push(
    Buffer.from(
      message(1)
        .toString('latin1')
        .replace('Content-Length: 0', `Content-Length: ${64 * 1024 + 1}`),
      'latin1',
    ),
  )
  t.same(
    body.errors.map((e) => (e.kind === 'reject' ? e.status : e.kind)),
    [400],
    'body over 64 KiB',
  )

  const atLimit = framer({ maxBody: 10 })
  atLimit.f.push(message(1, '0123456789'))
  t.same(callIds(atLimit.outcomes), ['c1'], 'a body exactly at the limit is fine')
})
