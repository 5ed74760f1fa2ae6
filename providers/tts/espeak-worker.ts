// Worker thread: runs eSpeak NG (synchronous WASM, hundreds of ms per sentence) off the media loop.
import { readFile } from 'node:fs/promises'
import { parentPort } from 'node:worker_threads'
import ESpeakNg from 'espeak-ng'
import { readWav } from '../../codecs/wav.ts'

export type Voice = 'ru' | 'en'

export interface SynthRequest {
  id: number
  text: string
  voice: Voice
  /** words per minute, eSpeak's -s */
  rate?: number
}

export type SynthReply = { id: number; sampleRate: number; pcm: Int16Array } | { id: number; error: string }

const VOICES: ReadonlySet<string> = new Set<Voice>(['ru', 'en'])

// Compiling 18 MB of WASM once; every request still gets a fresh instance, because the CLI's
// main() runs once per instance and leaves its state behind.
let compiled: Promise<WebAssembly.Module> | undefined
function wasmModule(): Promise<WebAssembly.Module> {
  compiled ??= readFile(new URL('espeak-ng.wasm', import.meta.resolve('espeak-ng'))).then((bytes) => WebAssembly.compile(bytes))
  return compiled
}

async function synthesize({ text, voice, rate }: SynthRequest): Promise<{ sampleRate: number; pcm: Int16Array }> {
  if (!VOICES.has(voice)) throw new Error(`unknown voice ${JSON.stringify(voice)}`)
  if (rate !== undefined && !(Number.isInteger(rate) && rate >= 80 && rate <= 450)) {
    throw new Error(`rate must be an integer 80..450 words per minute, got ${rate}`)
  }
  const mod = await wasmModule()
  const errors: string[] = []
  const exitCode = process.exitCode
  // The text goes in (as UTF-8, -b 1) through a file so that text starting with '-' is not read as an option.
  const args = ['-b', '1', '-v', voice, ...(rate !== undefined ? ['-s', String(rate)] : []), '-w', '/out.wav', '-f', '/in.txt']
  const es = await ESpeakNg({
    arguments: args,
    print() {},
    printErr: (line) => errors.push(line),
    preRun: [(m) => m.FS.writeFile('/in.txt', text)],
    instantiateWasm(imports, receive) {
      const instance = new WebAssembly.Instance(mod, imports)
      receive(instance, mod)
      return instance.exports
    },
  })
  // the Emscripten runtime records main()'s status in process.exitCode; this thread lives on
  process.exitCode = exitCode
  if (!es.FS.analyzePath('/out.wav').exists) throw new Error(`espeak-ng wrote no audio: ${errors.join(' ') || 'no message'}`)
  const out = es.FS.readFile('/out.wav')
  const wav = readWav(Buffer.from(out.buffer, out.byteOffset, out.byteLength))
  if (wav.channels !== 1) throw new Error(`espeak-ng wrote ${wav.channels} channels, expected mono`)
  return { sampleRate: wav.sampleRate, pcm: wav.samples }
}

const port = parentPort
if (!port) throw new Error('espeak-worker.ts must run as a worker thread')
// compiled as the thread starts (EspeakTts.warm), not in the first call's synthesis
void wasmModule().catch(() => undefined) // a failure is the first synthesis's error

// One synthesis at a time: each instance holds 32 MB, and the thread has one core anyway.
let queue = Promise.resolve()
port.on('message', (req: SynthRequest) => {
  queue = queue.then(async () => {
    try {
      const { sampleRate, pcm } = await synthesize(req)
      const reply: SynthReply = { id: req.id, sampleRate, pcm }
      port.postMessage(reply, [pcm.buffer as ArrayBuffer]) // readWav allocates a plain ArrayBuffer
    } catch (err) {
      const reply: SynthReply = { id: req.id, error: err instanceof Error ? err.message : String(err) }
      port.postMessage(reply)
    }
  })
})
