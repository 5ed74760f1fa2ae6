// The recording through a bridged transfer: relayed PCMU packets of both phones, decoded into the
// call's stereo WAV, the caller left and the seller right, one frame per clock tick.
import { mkdtempSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { linearToUlaw } from '../../codecs/g711.ts'
import { readWav, WavFileWriter } from '../../codecs/wav.ts'
import { toneAmplitude } from '../../test/helpers/tone.ts'
import { RTP_HEADER_BYTES, writeRtpHeader } from '../../rtp/packet.ts'
import { BridgeRecording } from './bridge-recording.ts'
import { CallRecorder } from './recorder.ts'

/** 20 ms of a tone at 8 kHz as one PCMU packet (or, with another payload type, a non-audio one). */
function packet(freq: number, seq: number, payloadType = 0): Buffer {
  const b = Buffer.alloc(RTP_HEADER_BYTES + 160)
  writeRtpHeader(b, { marker: false, payloadType, sequenceNumber: seq, timestamp: seq * 160, ssrc: freq })
  for (let i = 0; i < 160; i++) b[RTP_HEADER_BYTES + i] = linearToUlaw(Math.round(8000 * Math.sin((2 * Math.PI * freq * (seq * 160 + i)) / 8000)))
  return b
}

t.test('both phones are recorded through the bridge; telephone-events are not audio', async (t) => {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'bridge-rec-')), 'call.wav')
  const recorder = new CallRecorder(await WavFileWriter.open(file, 16000, 2), 16000)
  const recording = new BridgeRecording(recorder, { name: 'PCMU', payloadType: 0 }, 320)
  for (let seq = 0; seq < 50; seq++) {
    recording.relayed(packet(440, seq), 'caller')
    recording.relayed(packet(1000, seq), 'seller')
    recording.relayed(packet(2000, seq, 101), 'seller') // telephone-event: a 2 kHz tone if it were decoded as PCMU
    recording.onTick()
  }
  await recorder.close()
  const wav = readWav(readFileSync(file))
  t.equal(wav.channels, 2)
  t.equal(wav.samples.length, 50 * 320 * 2, 'one 20 ms frame per tick, both channels')
  const channel = (c: number) => wav.samples.filter((_, i) => i % 2 === c).subarray(1600) // past the filters' start
  const [left, right] = [channel(0), channel(1)]
  t.ok(toneAmplitude(left, 440, 16000) > 5000, `the caller's 440 Hz on the left (${Math.round(toneAmplitude(left, 440, 16000))})`)
  t.ok(toneAmplitude(left, 1000, 16000) < 300, 'and not the seller')
  t.ok(toneAmplitude(right, 1000, 16000) > 5000, `the seller's 1 kHz on the right (${Math.round(toneAmplitude(right, 1000, 16000))})`)
  t.ok(toneAmplitude(right, 440, 16000) < 300, 'and not the caller')
  t.ok(toneAmplitude(right, 2000, 16000) < 300, 'nor the telephone-event packets')
})
