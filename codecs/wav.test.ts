import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { alawToLinear, ulawToLinear } from './g711.ts'
import { appendWavFile, encodeWav, encodeWavCoded, readWav, repairWavHeader, WavFileWriter } from './wav.ts'

// Header layout: the canonical 44-byte RIFF/WAVE header of Microsoft's "Multimedia Programming
// Interface and Data Specifications 1.0" (RIFF, size, WAVE, 16-byte fmt chunk, data chunk);
// format tags from mmreg.h: WAVE_FORMAT_PCM = 1, WAVE_FORMAT_ALAW = 6, WAVE_FORMAT_MULAW = 7,
// WAVE_FORMAT_EXTENSIBLE = 0xFFFE.

function chunk(id: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8)
  head.write(id, 0, 'latin1')
  head.writeUInt32LE(body.length, 4)
  return Buffer.concat([head, body, Buffer.alloc(body.length & 1)])
}

function riff(...chunks: Buffer[]): Buffer {
  const body = Buffer.concat([Buffer.from('WAVE', 'latin1'), ...chunks])
  const head = Buffer.alloc(8)
  head.write('RIFF', 0, 'latin1')
  head.writeUInt32LE(body.length, 4)
  return Buffer.concat([head, body])
}

function fmtBody(tag: number, channels: number, rate: number, bits: number): Buffer {
  const b = Buffer.alloc(16)
  b.writeUInt16LE(tag, 0)
  b.writeUInt16LE(channels, 2)
  b.writeUInt32LE(rate, 4)
  b.writeUInt32LE((rate * channels * bits) / 8, 8)
  b.writeUInt16LE((channels * bits) / 8, 12)
  b.writeUInt16LE(bits, 14)
  return b
}

t.test('encodeWav writes the canonical 44-byte header', async (t) => {
  const wav = encodeWav(Int16Array.from([1, -2, 0x1234]), 16000, 1)
  const expected = Buffer.from([
    ...Buffer.from('RIFF'),
    42,
    0,
    0,
    0, // 36 + 6 data bytes
    ...Buffer.from('WAVE'),
    ...Buffer.from('fmt '),
    16,
    0,
    0,
    0,
    1,
    0,
    1,
    0, // PCM, mono
    0x80,
    0x3e,
    0,
    0, // 16000 Hz
    0x00,
    0x7d,
    0,
    0, // 32000 bytes/s
    2,
    0,
    16,
    0, // block align 2, 16 bits
    ...Buffer.from('data'),
    6,
    0,
    0,
    0,
    1,
    0,
    0xfe,
    0xff,
    0x34,
    0x12, // little-endian samples
  ])
  t.same([...wav], [...expected])
})

t.test('PCM round trip, mono and stereo', async (t) => {
  const mono = new Int16Array(1000)
  for (let i = 0; i < mono.length; i++) mono[i] = ((i * 7919) % 65536) - 32768
  const m = readWav(encodeWav(mono, 8000, 1))
  t.same([m.sampleRate, m.channels, m.format], [8000, 1, 'pcm16'])
  t.same(m.samples, mono)

  const stereo = Int16Array.from([1, -1, 32767, -32768, 0, 5])
  const s = readWav(encodeWav(stereo, 48000, 2))
  t.same([s.sampleRate, s.channels, s.format], [48000, 2, 'pcm16'])
  t.same(s.samples, stereo)

  t.throws(() => encodeWav(Int16Array.from([1, 2, 3]), 8000, 2), RangeError, 'partial stereo frame')
  t.throws(() => encodeWav(new Int16Array(2), 0, 1), RangeError, 'zero rate')
})

t.test('G.711 WAV for SIPp: payload bytes right after a 44-byte header', async (t) => {
  const payload = Uint8Array.from([0xff, 0x00, 0x80, 0x7f, 0xd5])
  for (const [format, tag, decode] of [
    ['ulaw', 7, ulawToLinear],
    ['alaw', 6, alawToLinear],
  ] as const) {
    const wav = encodeWavCoded(payload, format)
    t.equal(wav.readUInt16LE(20), tag, `${format} format tag`)
    t.equal(wav.readUInt32LE(24), 8000, 'sample rate')
    t.equal(wav.readUInt16LE(34), 8, 'bits per sample')
    t.equal(wav.readUInt32LE(40), 5, 'data size excludes the pad byte')
    t.equal(wav.length, 44 + 6, 'odd data chunk is padded to even length')
    t.same([...wav.subarray(44, 49)], [...payload])
    const back = readWav(wav)
    t.same([back.sampleRate, back.channels, back.format], [8000, 1, format])
    t.same([...back.samples], [...payload].map(decode))
  }
})

t.test('chunks are walked: LIST before fmt, odd-sized chunks, chunks after data', async (t) => {
  const data = Buffer.alloc(4)
  data.writeInt16LE(-300, 0)
  data.writeInt16LE(300, 2)
  const wav = riff(
    chunk('LIST', Buffer.from('INFOISFT\x03\x00\x00\x00ab\x00', 'latin1')), // 15 bytes: padded
    chunk('fmt ', fmtBody(1, 1, 22050, 16)),
    chunk('fact', Buffer.alloc(4)),
    chunk('data', data),
    chunk('id3 ', Buffer.alloc(3)),
  )
  const r = readWav(wav)
  t.same([r.sampleRate, r.channels, r.format], [22050, 1, 'pcm16'])
  t.same([...r.samples], [-300, 300])
})

t.test('WAVE_FORMAT_EXTENSIBLE with a mu-law SubFormat', async (t) => {
  const fmt = Buffer.alloc(40)
  fmtBody(0xfffe, 1, 8000, 8).copy(fmt)
  fmt.writeUInt16LE(22, 16) // cbSize
  fmt.writeUInt16LE(8, 18) // valid bits
  fmt.writeUInt16LE(7, 24) // SubFormat GUID starts with the format tag
  const r = readWav(riff(chunk('fmt ', fmt), chunk('data', Buffer.from([0x80, 0x00]))))
  t.equal(r.format, 'ulaw')
  t.same([...r.samples], [32124, -32124])
})

t.test('a data chunk longer than the file (unfinished recording) is read to the end', async (t) => {
  const wav = encodeWav(Int16Array.from([10, 20, 30]), 8000, 1)
  wav.writeUInt32LE(0xffffffff, 40)
  t.same([...readWav(wav).samples], [10, 20, 30])
  // A torn final sample is dropped rather than misread.
  t.same([...readWav(wav.subarray(0, wav.length - 1)).samples], [10, 20])
})

t.test('garbage and unsupported formats are rejected with clear errors', async (t) => {
  t.throws(() => readWav(Buffer.alloc(0)), /not a RIFF\/WAVE file/)
  t.throws(() => readWav(Buffer.from('this is not a wav file at all')), /not a RIFF\/WAVE file/)
  t.throws(() => readWav(riff().fill(0x41, 8, 12)), /not a RIFF\/WAVE file/, 'RIFF but not WAVE')
  const random = Buffer.alloc(512)
  for (let i = 0; i < random.length; i++) random[i] = (i * 1103515245 + 12345) >>> 16
  t.throws(() => readWav(random), /not a RIFF\/WAVE file/)
  t.throws(() => readWav(riff(chunk('data', Buffer.alloc(4)))), /no fmt chunk/)
  t.throws(() => readWav(riff(chunk('fmt ', fmtBody(1, 1, 8000, 16)))), /no data chunk/)
  t.throws(() => readWav(riff(chunk('fmt ', Buffer.alloc(8)), chunk('data', Buffer.alloc(2)))), /fmt chunk too short/)
  t.throws(() => readWav(riff(chunk('fmt ', fmtBody(1, 1, 8000, 8)), chunk('data', Buffer.alloc(2)))), /unsupported format tag 1 with 8 bits/)
  t.throws(() => readWav(riff(chunk('fmt ', fmtBody(1, 1, 8000, 24)), chunk('data', Buffer.alloc(6)))), /unsupported format tag 1 with 24 bits/)
  t.throws(() => readWav(riff(chunk('fmt ', fmtBody(3, 1, 8000, 32)), chunk('data', Buffer.alloc(4)))), /unsupported format tag 3/)
  t.throws(() => readWav(riff(chunk('fmt ', fmtBody(1, 0, 8000, 16)), chunk('data', Buffer.alloc(4)))), /zero channels/)
  const badAlign = fmtBody(1, 2, 8000, 16)
  badAlign.writeUInt16LE(2, 12)
  t.throws(() => readWav(riff(chunk('fmt ', badAlign), chunk('data', Buffer.alloc(4)))), /block align 2/)
})

t.test('WavFileWriter streams samples and patches the sizes on close', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'wav-test-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const path = join(dir, 'rec.wav')
  const w = await WavFileWriter.open(path, 16000, 2)
  const expected: number[] = []
  const frame = new Int16Array(640) // 20 ms of 16 kHz stereo, reused like a real caller does
  for (let n = 0; n < 50; n++) {
    for (let i = 0; i < frame.length; i++) frame[i] = ((n * 1000 + i * 13) % 60000) - 30000
    w.write(frame) // must copy: the frame is overwritten right after
    expected.push(...frame)
  }
  await w.close()
  const file = await readFile(path)
  t.equal(file.readUInt32LE(4), 36 + expected.length * 2, 'RIFF size')
  t.equal(file.readUInt32LE(40), expected.length * 2, 'data size')
  const r = readWav(file)
  t.same([r.sampleRate, r.channels, r.format], [16000, 2, 'pcm16'])
  t.same([...r.samples], expected)
  t.throws(() => w.write(frame), /write after close/)
  await t.rejects(w.close(), /already closed/)
})

t.test('WavFileWriter with no samples leaves a valid empty file; bad frames rejected', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'wav-test-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const path = join(dir, 'empty.wav')
  const w = await WavFileWriter.open(path, 8000, 2)
  t.throws(() => w.write(new Int16Array(3)), RangeError, 'half a stereo frame')
  await w.close()
  const r = readWav(await readFile(path))
  t.equal(r.samples.length, 0)
  await t.rejects(WavFileWriter.open(join(dir, 'missing-dir', 'x.wav'), 8000, 1), { code: 'ENOENT' })
})

t.test('WavFileWriter keeps the header current while it writes: a killed process leaves a readable file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'wav-test-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const path = join(dir, 'live.wav')
  const w = await WavFileWriter.open(path, 8000, 2)
  const second = new Int16Array(8000 * 2).fill(1000)
  for (let s = 0; s < 5; s++) {
    w.write(second)
    await w.flush()
  }
  // Read while the writer is still open, as after a kill -9: the header must announce the audio.
  const file = await readFile(path)
  const declared = file.readUInt32LE(40) / (8000 * 2 * 2)
  t.ok(declared >= 3 && declared <= 5, `the open file declares ${declared} s of the 5 s written (at most 2 s behind)`)
  t.equal(file.readUInt32LE(4), 36 + file.readUInt32LE(40), 'RIFF size matches')
  await w.close()
})

t.test('repairWavHeader sets the sizes from the data a crashed writer left', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'wav-test-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const path = join(dir, 'crashed.wav')
  const samples = new Int16Array(16000 * 2 * 1.5 + 1).map((_, i) => (i % 200) - 100) // 1.5 s stereo, and half a frame torn off
  const whole = encodeWav(samples.subarray(0, samples.length - 1), 16000, 2)
  const torn = Buffer.concat([whole, Buffer.from([7, 0])])
  torn.writeUInt32LE(36, 4) // what the writer puts down at open: zero frames
  torn.writeUInt32LE(0, 40)
  await writeFile(path, torn)
  t.equal(readWav(await readFile(path)).samples.length, 0, 'before: a 0-frame header hides the audio')
  t.same(await repairWavHeader(path), { seconds: 1.5, repaired: true })
  const r = readWav(await readFile(path))
  t.equal(r.samples.length, 16000 * 2 * 1.5, 'after: the whole frames are declared')
  t.same([...r.samples.subarray(0, 4)], [...samples.subarray(0, 4)])
  t.same(await repairWavHeader(path), { seconds: 1.5, repaired: false }, 'a sound file is left alone')
  await writeFile(join(dir, 'not.wav'), 'hello')
  t.equal(await repairWavHeader(join(dir, 'not.wav')), null)
})

t.test('appendWavFile joins a second recording (another writer, a LIST chunk, an unpatched header) onto the first', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'wav-test-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const first = new Int16Array(16000 * 2).map((_, i) => i % 100) // 1 s stereo
  const second = new Int16Array(8000 * 2 + 1).map((_, i) => -(i % 50)) // 0.5 s, and half a frame torn off
  const target = join(dir, 'call.wav')
  const source = join(dir, 'bridge.wav')
  await writeFile(target, encodeWav(first, 16000, 2))
  const data = Buffer.alloc(second.length * 2)
  second.forEach((v, i) => data.writeInt16LE(v, 2 * i))
  const unpatched = chunk('data', data)
  unpatched.writeUInt32LE(0, 4) // a writer killed before it patched its sizes
  await writeFile(source, riff(chunk('fmt ', fmtBody(1, 2, 16000, 16)), chunk('LIST', Buffer.from('INFOISFT')), unpatched))
  t.equal(await appendWavFile(target, source), 0.5, 'the whole frames of the second, in seconds')
  const joined = readWav(await readFile(target))
  t.equal(joined.samples.length, first.length + second.length - 1)
  t.same([...joined.samples.subarray(first.length - 2, first.length + 2)], [first.at(-2), first.at(-1), second[0], second[1]], 'end to end')

  await writeFile(source, encodeWav(new Int16Array(80), 8000, 1))
  await t.rejects(appendWavFile(target, source), /1 channels at 8000 Hz cannot join 2 at 16000 Hz/, 'another layout is refused')
  t.equal(readWav(await readFile(target)).samples.length, first.length + second.length - 1, 'and the target is left as it was')
})

t.test('WavFileWriter on a disk that fills: stops, and the header declares what reached the disk', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'wav-test-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'ignore' })
  } catch {
    t.pass('skipped', { skip: 'cannot mount a tmpfs here (needs root): disk-full case covered by test/storage-faults.test.ts only when it can' })
    return
  }
  t.teardown(() => execFileSync('umount', [dir]))
  const path = join(dir, 'full.wav')
  const w = await WavFileWriter.open(path, 8000, 1)
  const second = new Int16Array(8000).fill(-5)
  for (let s = 0; s < 10 && !w.failure; s++) {
    w.write(second)
    await w.flush()
  }
  t.match(w.failure, { code: 'ENOSPC' }, 'the write error is kept')
  await t.rejects(w.close(), { code: 'ENOSPC' })
  const file = await readFile(path)
  t.equal(file.readUInt32LE(40), file.length - 44 - ((file.length - 44) % 2), 'the data size is what is in the file')
  const r = readWav(file)
  t.ok(r.samples.length > 8000 && r.samples.length < 64 * 512, `${(r.samples.length / 8000).toFixed(2)} s kept`)
  t.ok(r.samples.every((x) => x === -5))
})

t.test('samples are little-endian in the file, from any view (a subarray, shared memory)', async (t) => {
  const whole = new Int16Array(new SharedArrayBuffer(16))
  whole.set([7, 1, -2, 32767, -32768, 9])
  const wav = encodeWav(whole.subarray(1, 5), 8000, 1)
  t.same([...wav.subarray(44)], [0x01, 0x00, 0xfe, 0xff, 0xff, 0x7f, 0x00, 0x80])
})
