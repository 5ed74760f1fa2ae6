// The trunks as the server holds them: transfer targets checked against the prefixes at start,
// the API view (no password), and the refused-dial and registration-state metrics.
import pino from 'pino'
import client from 'prom-client'
import t from 'tap'
import { loadConfig } from './config.ts'
import { Trunks } from './trunks.ts'

const logger = pino({ level: 'silent' })

t.test('transfer targets outside the prefixes are named at start; the API view has no password', async (t) => {
  const config = loadConfig({
    TRUNK_HOST: 'sip.operator.ru',
    TRUNK_USERNAME: '74951234567',
    TRUNK_PASSWORD: 'secret',
    OUTBOUND_ALLOW_PREFIXES: '+79,89',
    TRANSFER_TARGET: '89161234567',
    TRANSFER_TARGETS: 'intl=+441234567890,pbx=sip:sales@10.0.0.5,boss=sip:89160000000@sip.operator.ru',
  })
  t.equal(config.transfer.domain, 'sip.operator.ru', 'a bare number is dialled at the trunk')
  const registry = new client.Registry()
  const trunks = new Trunks(config, logger, registry)
  t.same(trunks.checkTransferTargets(), ['+441234567890', 'sip:sales@10.0.0.5'])
  const [view] = trunks.status()
  t.match(view, { name: 'trunk', host: 'sip.operator.ru:5060', callerId: '74951234567', allowPrefixes: ['+79', '89'], register: true, outboundCalls: 0 })
  t.notOk(JSON.stringify(trunks.status()).includes('secret'))

  t.equal(trunks.guard.check('sip:+441234567890@sip.operator.ru').ok, false)
  const text = await registry.metrics()
  t.match(text, /^voice_outbound_dials_refused_total\{reason="prefix",trunk="trunk"\} 1$/m)
  t.match(text, /^voice_trunk_registration_state\{trunk="trunk",state="unregistered"\} 1$/m)
  t.match(text, /^voice_trunk_outbound_calls\{trunk="trunk"\} 0$/m)
})
