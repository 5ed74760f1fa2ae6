// RFC 4733 telephone-event payload (section 2.3, Figure 1):
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |     event     |E|R| volume    |          duration             |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

export interface TelephoneEvent {
  /** Event code (RFC 4733 section 3.2 for DTMF: 0-9, 10 '*', 11 '#', 12-15 'A'-'D'). */
  event: number
  /** E bit: this packet reports the end of the event. */
  end: boolean
  /** Power level in -dBm0 (0..63; larger is quieter). */
  volume: number
  /** Duration so far in RTP timestamp units (0..65535). */
  duration: number
}

export const TELEPHONE_EVENT_BYTES = 4

/**
 * Reads the first event of a payload; null when shorter than 4 bytes. The R bit is ignored
 * as section 2.3.3 requires of receivers. When a payload carries several events
 * (section 2.5.1.5) the first is the current one.
 */
export function parseTelephoneEvent(payload: Uint8Array): TelephoneEvent | null {
  if (payload.length < TELEPHONE_EVENT_BYTES) return null
  const flags = payload[1]
  return {
    event: payload[0],
    end: (flags & 0x80) !== 0,
    volume: flags & 0x3f,
    duration: (payload[2] << 8) | payload[3],
  }
}

/** Writes one event (R bit zero) into `out`; returns the bytes written (4). */
export function writeTelephoneEvent(out: Uint8Array, ev: TelephoneEvent): number {
  if (out.length < TELEPHONE_EVENT_BYTES) throw new RangeError('telephone-event: output shorter than 4 bytes')
  if (!Number.isInteger(ev.event) || ev.event < 0 || ev.event > 255) {
    throw new RangeError(`telephone-event: event code ${ev.event} out of range 0..255`)
  }
  if (!Number.isInteger(ev.volume) || ev.volume < 0 || ev.volume > 63) {
    throw new RangeError(`telephone-event: volume ${ev.volume} out of range 0..63`)
  }
  if (!Number.isInteger(ev.duration) || ev.duration < 0 || ev.duration > 0xffff) {
    throw new RangeError(`telephone-event: duration ${ev.duration} out of range 0..65535`)
  }
  out[0] = ev.event
  out[1] = (ev.end ? 0x80 : 0) | ev.volume
  out[2] = ev.duration >> 8
  out[3] = ev.duration & 0xff
  return TELEPHONE_EVENT_BYTES
}

const DIGITS = '0123456789*#ABCD'

/** DTMF event code to its key ('0'-'9', '*', '#', 'A'-'D'); null for non-DTMF codes. */
export function eventToDigit(n: number): string | null {
  return Number.isInteger(n) && n >= 0 && n < DIGITS.length ? DIGITS[n] : null
}

/** DTMF key to its event code (letters in either case); null for anything else. */
export function digitToEvent(c: string): number | null {
  if (c.length !== 1) return null
  const i = DIGITS.indexOf(c.toUpperCase())
  return i < 0 ? null : i
}
