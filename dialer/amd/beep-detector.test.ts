import t from 'tap'
import { readClip, readLabels } from '../../test/amd/labels.ts'
import { concat, mix, noise, silence, tones } from '../../test/amd/signals.ts'
import { BeepDetector, type Beep } from './beep-detector.ts'

/** The detector over `pcm` in 20 ms packets, as a call feeds it. */
function run(pcm: Int16Array, rate: 8000 | 16000 = 8000): Beep | null {
  const d = new BeepDetector(rate)
  const packet = rate / 50
  let found: Beep | null = null
  for (let i = 0; i < pcm.length && !found; i += packet) found = d.push(pcm.subarray(i, i + packet))
  return found
}

t.test('a steady pure tone in the band is a beep, at its frequency, once it has lasted 120 ms', async (t) => {
  for (const hz of [440, 1000, 1400, 2400]) {
    for (const rate of [8000, 16000] as const) {
      const beep = run(concat(silence(300, rate), tones([hz], 400, 6000, rate), silence(300, rate)), rate)
      t.ok(beep, `${hz} Hz at ${rate} Hz found`)
      t.ok(beep && Math.abs(beep.hz - hz) <= 32, `${hz} Hz measured as ${beep?.hz} Hz`)
      t.ok(beep && beep.atMs >= 300 + 100 && beep.atMs <= 300 + 200, `reported at ${beep?.atMs} ms, 100-200 ms into the tone`)
    }
  }
  t.ok(run(concat(silence(200), tones([1000], 150, 6000))), 'a 150 ms tone is a beep')
  t.ok(run(mix(concat(silence(200), tones([850], 500, 4000), silence(200)), noise(7200, -40, 3))), 'a beep over noise at -40 dBFS is found')
  t.ok(run(concat(silence(200), tones([1000], 500, 400))), 'a quiet beep (-38 dBFS peak) is found')
})

t.test('not a beep: too short, out of band, gliding, two tones (DTMF), noise, silence', async (t) => {
  t.equal(run(concat(silence(200), tones([1000], 60, 6000), silence(200))), null, 'a 60 ms blip')
  t.equal(run(concat(silence(200), tones([250], 500, 6000))), null, '250 Hz (hum, below the band)')
  t.equal(run(concat(silence(200), tones([3000], 500, 6000))), null, '3000 Hz (above the band)')
  const glide = new Int16Array(4000).map((_, i) => Math.round(6000 * Math.sin(2 * Math.PI * (500 * (i / 8000) + 2000 * (i / 8000) ** 2))))
  t.equal(run(glide), null, 'a sweep from 500 to 2500 Hz')
  for (const [row, col] of [
    [697, 1209],
    [770, 1336],
    [852, 1477],
    [941, 1633],
  ]) {
    t.equal(run(concat(silence(100), tones([row, col], 300, 5000), silence(100))), null, `DTMF ${row}+${col} Hz`)
  }
  t.equal(run(noise(16000, -20, 9)), null, 'white noise at -20 dBFS')
  t.equal(run(silence(1000)), null, 'silence')
  t.equal(run(concat(silence(200), tones([1000], 500, 100))), null, 'a tone below the minimum level (-50 dBFS)')
})

t.test('speech is not a beep: every clip of the AMD set without one', async (t) => {
  const speech = Object.entries(await readLabels()).filter(([, l]) => !/beep \d+ Hz/.test(l.provenance))
  t.ok(speech.length >= 30, `${speech.length} clips of speech only`)
  for (const [file] of speech) t.equal(run((await readClip(file)).samples), null, file)
})

t.test('a beep is reported once while it sounds; sounding tells when it has stopped', async (t) => {
  const d = new BeepDetector(8000)
  const audio = concat(silence(200), tones([1000], 600, 6000), silence(300), tones([1000], 300, 6000), silence(100))
  const beeps: number[] = []
  let stoppedAtMs: number | undefined
  for (let i = 0; i < audio.length; i += 160) {
    const b = d.push(audio.subarray(i, i + 160))
    if (b) beeps.push(b.atMs)
    if (beeps.length === 1 && !d.sounding && stoppedAtMs === undefined) stoppedAtMs = ((i + 160) * 1000) / 8000
  }
  t.equal(beeps.length, 2, `two beeps, one report each: ${beeps.join(', ')} ms`)
  t.ok(stoppedAtMs !== undefined && stoppedAtMs >= 800 && stoppedAtMs <= 840, `the first stopped sounding at ${stoppedAtMs} ms (it ends at 800)`)
})
