import t from 'tap'
import { EchoGate } from './echo-gate.ts'

function tone(db: number, n = 320): Int16Array {
  const amp = 32768 * 10 ** (db / 20) * Math.SQRT2 // sine: rms = amp / sqrt(2)
  return Int16Array.from({ length: n }, (_, i) => Math.round(amp * Math.sin((2 * Math.PI * 440 * i) / 16000)))
}

t.test('echo of the bot at -10 dB is not near-end speech; a caller at the bot level is', async (t) => {
  const gate = new EchoGate({ tailMs: 400, marginDb: 6, frameMs: 20 })
  t.ok(gate.isNearEnd(-50), 'bot silent: any audio is the caller')
  for (let i = 0; i < 10; i++) gate.onBotFrame(tone(-12))
  t.ok(Math.abs(gate.referenceDb + 12) < 0.1, `reference ${gate.referenceDb.toFixed(2)} dBFS`)
  t.notOk(gate.isNearEnd(-22), 'the bot at -10 dB is echo')
  t.notOk(gate.isNearEnd(-18.5), 'still echo 6.5 dB down')
  t.ok(gate.isNearEnd(-15), 'a caller 3 dB below the bot talks over it')
})

t.test('the reference forgets the bot after the echo tail', async (t) => {
  const gate = new EchoGate({ tailMs: 100, marginDb: 6, frameMs: 20 })
  gate.onBotFrame(tone(-10))
  for (let i = 0; i < 4; i++) gate.onBotFrame(new Int16Array(320))
  t.notOk(gate.isNearEnd(-20), 'within the tail: echo')
  gate.onBotFrame(new Int16Array(320))
  t.equal(gate.referenceDb, -120, 'the loud frame left the tail')
  t.ok(gate.isNearEnd(-20))
})
