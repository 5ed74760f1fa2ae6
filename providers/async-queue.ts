// A push-to-pull bridge: callbacks (socket events) push, one consumer iterates with for-await.
export class AsyncQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = []
  private waiter?: () => void
  private ended = false
  private error?: unknown

  push(item: T): void {
    if (this.ended) return
    this.items.push(item)
    this.wake()
  }

  end(): void {
    this.ended = true
    this.wake()
  }

  /** Ends the queue with an error, thrown after the items before it, or at once with `discard`. */
  fail(err: unknown, discard = false): void {
    if (this.ended) return
    if (discard) this.items.length = 0
    this.error = err
    this.end()
  }

  get done(): boolean {
    return this.ended
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      if (this.items.length) {
        yield this.items.shift() as T
        continue
      }
      if (this.ended) {
        if (this.error !== undefined) throw this.error
        return
      }
      await new Promise<void>((resolve) => (this.waiter = resolve))
    }
  }

  private wake(): void {
    const waiter = this.waiter
    this.waiter = undefined
    waiter?.()
  }
}
