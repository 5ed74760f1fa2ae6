// The AMD labelled set as the tests read it: labels.json and the clips it names.
import { readFile } from 'node:fs/promises'
import { readWav } from '../../codecs/wav.ts'

export interface ClipLabel {
  label: 'human' | 'machine'
  text: string
  /** why the clip is hard, when it is one of the deliberately hard cases */
  hard?: string
  /** how generate-set.ts made it: voice, speed, silences, beep, noise */
  provenance: string
}

export const LABELS_FILE = new URL('./labels.json', import.meta.url)
export const CLIPS_DIR = new URL('./clips/', import.meta.url)

export async function readLabels(): Promise<Record<string, ClipLabel>> {
  return JSON.parse(await readFile(LABELS_FILE, 'utf8'))
}

/** A clip's samples and rate. */
export async function readClip(file: string): Promise<{ samples: Int16Array; sampleRate: number }> {
  return readWav(await readFile(new URL(file, CLIPS_DIR)))
}
