import t from 'tap'
import { DialError } from '../../sip/ua/call-control.ts'
import { dialOutcome, recordedOutcome } from './sip-outcome.ts'

const how = { aborted: false, ringTimeoutS: 30 }
const answered = (status: number, phrase: string) => new DialError(status, `sip:1@h answered ${status} ${phrase}`)

t.test('final responses map to the SIP result with their status', async (t) => {
  t.same(dialOutcome(answered(486, 'Busy Here'), how), { result: 'busy', status: 486, reason: '486 Busy Here' })
  t.same(dialOutcome(answered(600, 'Busy Everywhere'), how), { result: 'busy', status: 600, reason: '600 Busy Everywhere' })
  t.match(dialOutcome(answered(480, 'Temporarily Unavailable'), how), { result: 'no-answer', status: 480 })
  t.match(dialOutcome(answered(408, 'Request Timeout'), how), { result: 'no-answer', status: 408 })
  for (const s of [403, 404, 484, 603, 604, 401, 407]) t.match(dialOutcome(answered(s, 'x'), how), { result: 'rejected', status: s }, String(s))
  for (const s of [500, 502, 503]) t.match(dialOutcome(answered(s, 'x'), how), { result: 'failed', status: s }, String(s))
})

t.test('our CANCEL: the ring timeout is no answer, a shutdown is a failure; silence is a failure', async (t) => {
  t.same(dialOutcome(new DialError('cancelled', 'x', true), how), { result: 'no-answer', status: 487, reason: '487 ring timeout (30 s)' })
  t.same(dialOutcome(new DialError('timeout', 'x', true), how), { result: 'no-answer', reason: 'ring timeout (30 s)' })
  t.match(dialOutcome(new DialError('cancelled', 'x'), { ...how, aborted: true }), { result: 'failed', status: 487 })
  t.match(dialOutcome(new DialError('timeout', 'no response (Timer B)'), how), { result: 'failed', status: undefined, reason: /^timeout/ })
  t.match(dialOutcome(new Error('ENOTFOUND'), how), { result: 'failed', reason: /ENOTFOUND/ })
})

t.test('the record gives the result back', async (t) => {
  t.same(recordedOutcome({ answeredAt: '2026-01-01T00:00:00Z', result: 'completed', endReason: 'remote-bye' }), { sipResult: 'answered', sipStatus: 200 })
  t.same(recordedOutcome({ answeredAt: null, result: 'busy', endReason: '486 Busy Here' }), { sipResult: 'busy', sipStatus: 486 })
  t.same(recordedOutcome({ answeredAt: null, result: 'failed', endReason: 'timeout: no response' }), { sipResult: 'failed', sipStatus: null })
})
