// AMD accuracy on the labelled set under test/amd/ (made by test/amd/generate-set.ts): every
// clip goes the way an 8 kHz call's audio goes, 20 ms packets into the call's Listener (the line
// at 8 kHz for the real Silero VAD, upsampled to 16 kHz for the rest) and each VAD window with
// its probability from the Listener to the AmdDetector, on the clip's own timeline (0 = the
// answer). The confusion matrix and the decision times are printed.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { REALTIME, Resampler } from '../../codecs/resample.ts'
import { Listener } from '../../media-server/call/listener.ts'
import { SileroVad } from '../../vad/silero-vad.ts'
import { readClip, readLabels } from '../../test/amd/labels.ts'
import { AmdDetector, DEFAULTS, type AmdDecision } from './amd-detector.ts'

const RATE = 8000
const PACKET = RATE / 50
/** The floor asserted: the set's hard cases are meant to be missed (a person's whole sentence
 *  reads as a greeting), 4 of 72; a detector below 90% misses plain cases too. */
const MIN_ACCURACY = 0.9

async function decide(vad: SileroVad, pcm: Int16Array, clipDir: string): Promise<AmdDecision> {
  let nowMs = 0
  const listener = new Listener({
    vad,
    sampleRate: 16000,
    vadRate: RATE,
    turn: { minSpeechMs: 96, endSilenceMs: 700, maxUtteranceMs: 10000, noInputMs: 5000, interDigitMs: 3000 },
    bargeIn: { minSpeechMs: 200, confirmMs: 600 },
    clipDir,
    now: () => nowMs,
    onBargeIn: () => {},
    onLoudDb: () => {},
    onError: (err) => t.fail(err.message),
  })
  const amd = new AmdDetector(RATE)
  listener.watchWindows({ window: (w) => amd.push(w), transcript: (text, atMs) => amd.pushTranscript(text, atMs) })
  const up = new Resampler(RATE, 16000, REALTIME)
  for (let sent = 0; sent + PACKET <= pcm.length && !amd.decision; sent += PACKET) {
    const line = pcm.subarray(sent, sent + PACKET)
    nowMs = ((sent + PACKET) * 1000) / RATE
    listener.onAudio(up.process(line), true, line)
    await vad.tick()
  }
  listener.close()
  return amd.decision ?? amd.timeout(nowMs)
}

function percentile(xs: number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]
}

t.test('AMD on the labelled set: confusion matrix, decision times', async (t) => {
  const labels = await readLabels()
  const vad = await SileroVad.load({ tickMs: 1000 })
  const clipDir = await mkdtemp(join(tmpdir(), 'amd-'))
  t.teardown(async () => {
    await vad.close()
    await rm(clipDir, { recursive: true, force: true })
  })
  const matrix: Record<string, Record<string, number>> = { human: { human: 0, machine: 0, unknown: 0 }, machine: { human: 0, machine: 0, unknown: 0 } }
  const reasons: Record<string, number> = {}
  const times: number[] = []
  const misses: string[] = []
  for (const [file, label] of Object.entries(labels)) {
    const wav = await readClip(file)
    t.equal(wav.sampleRate, RATE, `${file} is 8 kHz`)
    const d = await decide(vad, wav.samples, clipDir)
    matrix[label.label][d.result]++
    reasons[`${d.result}/${d.reason}`] = (reasons[`${d.result}/${d.reason}`] ?? 0) + 1
    times.push(d.decisionMs)
    if (d.result !== label.label)
      misses.push(`${file} (${label.label}${label.hard ? ', hard' : ''}) -> ${d.result} ${d.reason} at ${d.decisionMs} ms: ${label.text}`)
    t.ok(d.decisionMs <= DEFAULTS.totalAnalysisMs, `${file}: decided at ${d.decisionMs} ms on the call timeline`)
  }
  const total = times.length
  const correct = matrix.human.human + matrix.machine.machine
  t.comment(`confusion matrix (rows: label, columns: decision), ${total} clips`)
  t.comment(`             human  machine  unknown`)
  for (const row of ['human', 'machine'])
    t.comment(`${row.padEnd(9)} ${['human', 'machine', 'unknown'].map((c) => String(matrix[row][c]).padStart(8)).join(' ')}`)
  t.comment(`accuracy ${correct}/${total} = ${((100 * correct) / total).toFixed(1)}%`)
  t.comment(`decision time ms: p50 ${percentile(times, 0.5)}, p95 ${percentile(times, 0.95)}, max ${Math.max(...times)}`)
  t.comment(`reasons: ${JSON.stringify(reasons)}`)
  for (const m of misses) t.comment(`missed: ${m}`)
  t.ok(correct / total >= MIN_ACCURACY, `accuracy ${((100 * correct) / total).toFixed(1)}% >= ${MIN_ACCURACY * 100}%`)
  t.ok(total >= 60, `${total} clips`)
})
