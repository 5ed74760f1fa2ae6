// Message framing on a stream transport (TCP): RFC 3261 §18.3, RFC 5626 §3.5.1.

import { parseHead, refuse, type HeadResult } from './parse.ts'
import type { DropOutcome, ParseOutcome, RejectOutcome } from './types.ts'

export interface FramerLimits {
  /** Longest header section accepted, in octets (default 16 KiB). */
  maxHeader?: number
  /** Largest Content-Length accepted, in octets (default 64 KiB). */
  maxBody?: number
}

/**
 * Splits a byte stream into SIP messages, validated as parseDatagram validates them.
 *
 * `onOutcome` gets every framed message: a sound one, or one that failed validation but
 * whose length was still known (exactly one valid Content-Length), so the stream stays in
 * step: answer a 'reject' and carry on. `onError` gets the rest: no Content-Length (it is
 * mandatory on streams), a limit exceeded, or a header section whose length cannot be
 * trusted. The stream cannot be resynchronised then, so the transport should answer a
 * 'reject' if it gets one and close the connection; the framer ignores further input.
 * `onPing` is called for each RFC 5626 "\r\n\r\n" keep-alive, to be answered "\r\n".
 */
export class StreamFramer {
  private buf = ''
  /** Where to resume looking for the end of the header section. */
  private scanFrom = 0
  private pending?: { head: HeadResult; length: number }
  private closed = false
  private readonly maxHeader: number
  private readonly maxBody: number

  constructor(
    private readonly onOutcome: (outcome: ParseOutcome) => void,
    private readonly onError: (outcome: RejectOutcome | DropOutcome) => void,
    private readonly onPing?: () => void,
    limits: FramerLimits = {},
  ) {
    this.maxHeader = limits.maxHeader ?? 16 * 1024
    this.maxBody = limits.maxBody ?? 64 * 1024
  }

  push(chunk: Buffer): void {
    if (this.closed) return
    this.buf += chunk.toString('latin1')
    while (!this.closed && (this.pending ? this.takeBody() : this.takeHead()));
  }

  /** Consume keep-alives and one header section; false when more input is needed. */
  private takeHead(): boolean {
    while (this.buf.startsWith('\r\n')) {
      if (this.buf.startsWith('\r\n\r\n')) {
        this.consume(4)
        this.onPing?.()
      } else if (this.buf.length < 4 && '\r\n\r\n'.startsWith(this.buf)) {
        return false // perhaps the first half of a ping
      } else {
        this.consume(2) // §7.5: CRLFs before a start line are ignored (also a peer's pong)
      }
    }
    const end = this.buf.indexOf('\r\n\r\n', this.scanFrom)
    if (end < 0) {
      if (this.buf.length > this.maxHeader + 3) return this.fail({ kind: 'drop', reason: 'header section exceeds the limit' })
      this.scanFrom = Math.max(0, this.buf.length - 3)
      return false
    }
    if (end > this.maxHeader) return this.fail({ kind: 'drop', reason: 'header section exceeds the limit' })
    const head = parseHead(this.buf.slice(0, end))
    const length = head.contentLength
    if (head.kind === 'head') {
      if (length === undefined) return this.fail(refuse(head.message, 'Content-Length is required on a stream transport'))
      if (length > this.maxBody) return this.fail(refuse(head.message, 'body exceeds the limit'))
    } else if (length === undefined || length > this.maxBody) {
      return this.fail(head.outcome)
    }
    this.consume(end + 4)
    this.pending = { head, length }
    return true
  }

  private takeBody(): boolean {
    const { head, length } = this.pending!
    if (this.buf.length < length) return false
    const content = this.buf.slice(0, length)
    this.consume(length)
    this.pending = undefined
    if (head.kind === 'bad') {
      this.onOutcome(head.outcome)
    } else {
      head.message.content = content
      this.onOutcome({ kind: 'message', message: head.message })
    }
    return true
  }

  private consume(n: number): void {
    this.buf = this.buf.slice(n)
    this.scanFrom = 0
  }

  private fail(outcome: RejectOutcome | DropOutcome): false {
    this.closed = true
    this.buf = ''
    this.pending = undefined
    this.onError(outcome)
    return false
  }
}
