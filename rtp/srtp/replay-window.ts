// The replay list of RFC 3711 §3.3.2: the highest authenticated index and a sliding window of
// the WINDOW indices below it. Indices are SRTP's 48-bit or SRTCP's 31-bit: exact in a double.

/** RFC 3711 asks for at least 64. */
export const REPLAY_WINDOW = 128

export class ReplayWindow {
  private highest = -1
  /** seen[i % REPLAY_WINDOW] for the indices within the window below `highest` */
  private readonly seen = new Uint8Array(REPLAY_WINDOW)

  /** Whether a packet with this index may be accepted: newer than the window, or in it and unseen. */
  check(index: number): boolean {
    if (index > this.highest) return true
    if (this.highest - index >= REPLAY_WINDOW) return false
    return this.seen[index % REPLAY_WINDOW] === 0
  }

  /** Records an index whose packet authenticated. */
  accept(index: number): void {
    if (index > this.highest) {
      // the slots that slide into the window are free again
      const from = Math.max(this.highest + 1, index - REPLAY_WINDOW + 1)
      for (let i = from; i <= index; i++) this.seen[i % REPLAY_WINDOW] = 0
      this.highest = index
    }
    this.seen[index % REPLAY_WINDOW] = 1
  }
}
