// What a test's TLS or TCP peer received, as SIP messages: the byte stream split at each start line,
// and a cursor-free next() that takes the first message matching (so retransmissions can be left).

const START_LINE = /(?=^(?:SIP\/2\.0 \d{3}|[A-Z]+ sips?:[^ ]+ SIP\/2\.0)\r$)/m

export class SipTextBuffer {
  private data = ''

  /** Feed it a connection's chunks (several connections may feed one buffer). */
  push = (chunk: Buffer): void => {
    this.data += chunk.toString('latin1')
  }

  messages(): string[] {
    return this.data.split(START_LINE).filter(Boolean)
  }

  /** The first message matching, taken out of the buffer; throws after `timeoutMs`. */
  async next(match: RegExp, timeoutMs = 2000): Promise<string> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const m = this.messages().find((x) => match.test(x))
      if (m) {
        this.data = this.data.replace(m, '')
        return m
      }
      await new Promise((r) => setTimeout(r, 5))
    }
    throw new Error(`no message matching ${match}; got ${this.data.slice(0, 500)}`)
  }
}
