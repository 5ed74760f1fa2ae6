import t from 'tap'
import { digitToEvent, eventToDigit, parseTelephoneEvent, writeTelephoneEvent } from './telephone-event.ts'

// Byte vectors are built from RFC 4733 section 2.3, Figure 1: event (8 bits), E (1), R (1),
// volume (6), duration (16, network order), with event codes from section 3.2 (the DTMF table,
// also the IANA audio/telephone-event registry): '0'-'9' = 0-9, '*' = 10, '#' = 11, 'A'-'D' =
// 12-15. Durations are in 8 kHz timestamp units (section 2.3.5), so 160 = one 20 ms packet.

t.test('parses the payload fields', async (t) => {
  // Digit '9', first packet of the event: E clear, -10 dBm0, 20 ms so far.
  t.same(parseTelephoneEvent(Uint8Array.from([0x09, 0x0a, 0x00, 0xa0])), {
    event: 9,
    end: false,
    volume: 10,
    duration: 160,
  })
  // Same digit, final packet: E set, total 160 ms.
  t.same(parseTelephoneEvent(Uint8Array.from([0x09, 0x8a, 0x05, 0x00])), {
    event: 9,
    end: true,
    volume: 10,
    duration: 1280,
  })
  // '#' at the extremes of the fields.
  t.same(parseTelephoneEvent(Uint8Array.from([0x0b, 0xbf, 0xff, 0xff])), {
    event: 11,
    end: true,
    volume: 63,
    duration: 65535,
  })
})

t.test('the reserved R bit is ignored on receipt (section 2.3.3)', async (t) => {
  t.same(parseTelephoneEvent(Uint8Array.from([0x05, 0xca, 0x03, 0x20])), {
    event: 5,
    end: true,
    volume: 10,
    duration: 800,
  })
})

t.test('short payloads yield null; multi-event payloads yield the first event', async (t) => {
  t.equal(parseTelephoneEvent(new Uint8Array(0)), null)
  t.equal(parseTelephoneEvent(Uint8Array.from([1, 2, 3])), null)
  // Section 2.5.1.5 allows several 4-byte blocks in one payload.
  const two = Uint8Array.from([0x01, 0x80, 0x03, 0x20, 0x02, 0x0a, 0x00, 0xa0])
  t.same(parseTelephoneEvent(two), { event: 1, end: true, volume: 0, duration: 800 })
})

t.test('writes the payload bytes and round-trips', async (t) => {
  const out = new Uint8Array(4)
  t.equal(writeTelephoneEvent(out, { event: 9, end: false, volume: 10, duration: 160 }), 4)
  t.same([...out], [0x09, 0x0a, 0x00, 0xa0])
  t.equal(writeTelephoneEvent(out, { event: 9, end: true, volume: 10, duration: 1280 }), 4)
  t.same([...out], [0x09, 0x8a, 0x05, 0x00])
  for (const ev of [
    { event: 0, end: false, volume: 0, duration: 0 },
    { event: 15, end: true, volume: 63, duration: 65535 },
    { event: 10, end: false, volume: 7, duration: 4000 },
  ]) {
    writeTelephoneEvent(out, ev)
    t.same(parseTelephoneEvent(out), ev)
  }
})

t.test('writeTelephoneEvent rejects values the fields cannot hold', async (t) => {
  const out = new Uint8Array(4)
  t.throws(() => writeTelephoneEvent(new Uint8Array(3), { event: 1, end: false, volume: 0, duration: 0 }), RangeError)
  t.throws(() => writeTelephoneEvent(out, { event: 256, end: false, volume: 0, duration: 0 }), RangeError)
  t.throws(() => writeTelephoneEvent(out, { event: 1, end: false, volume: 64, duration: 0 }), RangeError)
  t.throws(() => writeTelephoneEvent(out, { event: 1, end: false, volume: 0, duration: 65536 }), RangeError)
  t.throws(() => writeTelephoneEvent(out, { event: 1, end: false, volume: 0, duration: -1 }), RangeError)
})

t.test('DTMF digits and event codes map both ways', async (t) => {
  const table = '0123456789*#ABCD'
  for (let n = 0; n < 16; n++) {
    t.equal(eventToDigit(n), table[n])
    t.equal(digitToEvent(table[n]), n)
  }
  t.equal(digitToEvent('d'), 15, 'letters in either case')
  t.equal(eventToDigit(16), null, 'event 16 is not a DTMF digit')
  t.equal(eventToDigit(-1), null)
  t.equal(eventToDigit(1.5), null)
  t.equal(digitToEvent('E'), null)
  t.equal(digitToEvent(''), null)
  t.equal(digitToEvent('12'), null)
})
