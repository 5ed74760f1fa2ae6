// Writes the AMD labelled set: human and machine openings of an answered call, as 8 kHz mono
// 16-bit WAV files, and labels.json (file -> label, text, how it was made).
//
//   node --import tsx test/amd/generate-set.ts
//
// Speech is eSpeak NG (the repo's embedded TTS), Russian and English, at several speeds; each
// voice is also "taped" faster or slower (the synthesis declared at another rate before it is
// resampled to 8 kHz), which moves its pitch and tempo together, so the set has more voices
// than eSpeak's two. Every choice comes from a fixed-seed generator and the noise is seeded:
// the same files on every run.
import { rm, mkdir, writeFile } from 'node:fs/promises'
import { resample } from '../../codecs/resample.ts'
import { encodeWav } from '../../codecs/wav.ts'
import { EspeakTts, type Voice } from '../../providers/tts/espeak-engine.ts'
import { CLIPS_DIR, LABELS_FILE, type ClipLabel } from './labels.ts'
import { CLIP_RATE, concat, fit, mix, noise, silence, tones } from './signals.ts'

/** A clip covers the detector's whole analysis (3.5 s) and a little more. */
const CLIP_MS = 3600

type Part = { say: string } | { pauseMs: number } | { beepHz: number; ms: number }

interface Spec {
  name: string
  label: 'human' | 'machine'
  voice: Voice
  parts: Part[]
  hard?: string
}

const HUMAN: Record<Voice, string[]> = {
  ru: ['Алло?', 'Да?', 'Да, слушаю.', 'Алло, слушаю.', 'Слушаю вас.', 'Да, говорите.'],
  en: ['Hello?', 'Yes?', 'Hello, who is this?', 'Yes, speaking.', 'Hi.', 'Hello.'],
}
const HUMAN_AGAIN: Record<Voice, string[]> = {
  ru: ['Алло, вас не слышно.', 'Говорите!', 'Алло?'],
  en: ['Hello? I can’t hear you.', 'Anyone there?', 'Hello?'],
}
const HUMAN_LONG: Record<Voice, string[]> = {
  ru: ['Да, здравствуйте, я вас слушаю, а кто это звонит?', 'Алло, добрый день, это Сергей, я сейчас за рулём.'],
  en: ['Hello, this is John speaking, how can I help you today?', 'Yes hello, good afternoon, who am I speaking with please?'],
}
const MACHINE: Record<Voice, string[]> = {
  ru: [
    'Здравствуйте, вы позвонили в компанию Ромашка. Оставьте сообщение после сигнала.',
    'Абонент не может ответить на ваш звонок. Оставьте сообщение после звукового сигнала.',
    'Здравствуйте! Вы позвонили в службу поддержки. Для связи с оператором нажмите ноль.',
    'Привет, это Иван. Я сейчас не могу ответить, перезвоните позже или оставьте сообщение.',
    'Добрый день, вы дозвонились до автоответчика компании Альфа. Говорите после сигнала.',
  ],
  en: [
    'Hi, you have reached John Smith. I can’t take your call right now, please leave a message after the tone.',
    'Thank you for calling Acme Corporation. Our office is currently closed.',
    'The person you are calling is not available. Please leave a message after the beep.',
    'Hello, you have reached the voicemail of Mary. Please leave your name and number.',
    'Welcome to Globex. For sales press one, for support press two.',
  ],
}
const MACHINE_SHORT: Record<Voice, string[]> = {
  ru: ['Оставьте сообщение.', 'Говорите.', 'Это Анна, оставьте сообщение.'],
  en: ['Leave a message.', 'Hi, it’s Anna.', 'Speak after the tone.'],
}

const WPM = [140, 165, 190, 220]
/** Rates the 22050 Hz synthesis is declared at before resampling: x0.87 to x1.13 pitch and tempo. */
const TAPE = [19200, 20000, 22050, 24000, 25000]
const NOISE_DB = [null, null, -50, -40, -35]
const BEEP_HZ = [440, 850, 1000, 1400, 2000]

function rng(seed: number): <T>(xs: readonly T[]) => T {
  let s = seed >>> 0
  return (xs) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return xs[Math.floor((s / 2 ** 32) * xs.length)]
  }
}

function specs(): Spec[] {
  const out: Spec[] = []
  const add = (label: Spec['label'], voice: Voice, parts: Part[], hard?: string) =>
    out.push({ name: `${label}-${voice}-${String(out.length + 1).padStart(2, '0')}`, label, voice, parts, ...(hard && { hard }) })
  const pick = rng(18)
  for (const voice of ['ru', 'en'] as const) {
    for (const say of HUMAN[voice]) for (let v = 0; v < 2; v++) add('human', voice, [{ pauseMs: pick([150, 300, 500, 800]) }, { say }])
    for (const again of HUMAN_AGAIN[voice])
      add('human', voice, [{ pauseMs: pick([200, 400]) }, { say: pick(HUMAN[voice].slice(0, 2)) }, { pauseMs: pick([1000, 1300]) }, { say: again }])
    for (const say of HUMAN_LONG[voice]) add('human', voice, [{ pauseMs: 300 }, { say }], 'a person who answers with a whole sentence')
    for (const say of MACHINE[voice]) {
      for (let v = 0; v < 3; v++) {
        const lead = pick([0, 0, 300, 700, 1200])
        add('machine', voice, [{ pauseMs: lead }, { say }, { pauseMs: 300 }, { beepHz: pick(BEEP_HZ), ms: pick([400, 800]) }])
      }
    }
    for (const say of MACHINE_SHORT[voice]) {
      add(
        'machine',
        voice,
        [{ pauseMs: pick([100, 400]) }, { say }, { pauseMs: pick([250, 450]) }, { beepHz: pick(BEEP_HZ), ms: pick([300, 600]) }],
        'a short greeting, then the beep',
      )
    }
    add('machine', voice, [{ pauseMs: pick([400, 900]) }, { beepHz: pick(BEEP_HZ), ms: 500 }], 'a beep alone')
  }
  return out
}

async function render(tts: EspeakTts, spec: Spec, pick: <T>(xs: readonly T[]) => T, seed: number): Promise<{ pcm: Int16Array; provenance: string }> {
  const wpm = pick(WPM)
  const tape = pick(TAPE)
  const noiseDb = pick(NOISE_DB)
  const pieces: Int16Array[] = []
  const made: string[] = []
  for (const p of spec.parts) {
    if ('say' in p) {
      const s = await tts.synthesize(p.say, spec.voice, wpm)
      pieces.push(resample(s.pcm, tape, CLIP_RATE))
      made.push(`"${p.say}"`)
    } else if ('pauseMs' in p) {
      pieces.push(silence(p.pauseMs))
      made.push(`${p.pauseMs} ms silence`)
    } else {
      pieces.push(tones([p.beepHz], p.ms, 8000))
      made.push(`beep ${p.beepHz} Hz ${p.ms} ms`)
    }
  }
  let pcm = fit(concat(...pieces), CLIP_MS)
  if (noiseDb !== null) pcm = mix(pcm, noise(pcm.length, noiseDb, seed))
  const voice = `eSpeak NG ${spec.voice} ${wpm} wpm, 22050 Hz synthesis played at ${tape} Hz`
  const provenance = `${voice}; ${made.join(', ')}; white noise ${noiseDb === null ? 'none' : `${noiseDb} dBFS seed ${seed}`}; cut or padded to ${CLIP_MS} ms at ${CLIP_RATE} Hz`
  return { pcm, provenance }
}

const tts = new EspeakTts()
try {
  await rm(CLIPS_DIR, { recursive: true, force: true })
  await mkdir(CLIPS_DIR, { recursive: true })
  const pick = rng(2026)
  const labels: Record<string, ClipLabel> = {}
  for (const [i, spec] of specs().entries()) {
    const { pcm, provenance } = await render(tts, spec, pick, 1000 + i)
    const file = `${spec.name}.wav`
    await writeFile(new URL(file, CLIPS_DIR), encodeWav(pcm, CLIP_RATE, 1))
    const text = spec.parts.flatMap((p) => ('say' in p ? [p.say] : [])).join(' … ')
    labels[file] = { label: spec.label, text, ...(spec.hard && { hard: spec.hard }), provenance }
  }
  await writeFile(LABELS_FILE, JSON.stringify(labels, null, 2) + '\n')
  console.log(`${Object.keys(labels).length} clips in ${CLIPS_DIR.pathname}`)
} finally {
  await tts.close()
}
