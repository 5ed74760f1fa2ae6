import t from 'tap'
import { byteRange } from './recording-route.ts'

t.test('Range headers as players send them (RFC 9110 §14.1.2)', async (t) => {
  const size = 1000
  t.equal(byteRange(undefined, size), undefined, 'none: the whole file')
  t.same(byteRange('bytes=0-43', size), [0, 43], 'the WAV header')
  t.same(byteRange('bytes=500-', size), [500, 999], 'from an offset to the end (a seek)')
  t.same(byteRange('bytes=-100', size), [900, 999], 'the last 100 bytes')
  t.same(byteRange('bytes=900-5000', size), [900, 999], 'an end past the file is cut to it')
  t.same(byteRange('bytes=-5000', size), [0, 999], 'a suffix longer than the file is the file')
  t.equal(byteRange('bytes=1000-', size), 'unsatisfiable', 'a start at the end')
  t.equal(byteRange('bytes=50-10', size), 'unsatisfiable', 'an end before the start')
  t.equal(byteRange('bytes=0-1,5-9', size), undefined, 'several ranges: the whole file (allowed by the RFC)')
  t.equal(byteRange('items=0-1', size), undefined, 'another unit: ignored')
  t.equal(byteRange('bytes=-', size), undefined)
})
