/** Bitrix24's error body: `{"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}`. */
export class Bitrix24Error extends Error {
  override readonly name = 'Bitrix24Error'
  constructor(
    readonly status: number,
    readonly code: string,
    readonly description: string,
    readonly method: string,
  ) {
    super(`${method}: HTTP ${status} ${code}${description ? `: ${description}` : ''}`)
  }
}

export interface Bitrix24ClientOptions {
  /** BITRIX24_WEBHOOK_URL: `https://<portal>/rest/<user>/<code>/` */
  webhookUrl: string
  /** BITRIX24_RATE_PER_S: the portal allows 2 requests/s (more on Enterprise) */
  ratePerS?: number
  now?: () => number
}

/**
 * A small typed client for Bitrix24's REST API in inbound-webhook mode: POST
 * `<webhook>/<method>.json` with a JSON body, `{"result": ...}` back, errors as Bitrix24Error.
 * A leaky bucket spaces requests at 1/ratePerS so the portal never has to refuse them.
 */
export class Bitrix24Client {
  private readonly base: string
  private readonly intervalMs: number
  private nextSlot = 0
  private readonly now: () => number

  constructor(opts: Bitrix24ClientOptions) {
    this.base = opts.webhookUrl.endsWith('/') ? opts.webhookUrl : `${opts.webhookUrl}/`
    this.intervalMs = 1000 / (opts.ratePerS ?? 2)
    this.now = opts.now ?? Date.now
  }

  /** Waits for the bucket's next slot (a request leaks out every 1/ratePerS s). */
  private async slot(signal?: AbortSignal): Promise<void> {
    const now = this.now()
    const at = Math.max(now, this.nextSlot)
    this.nextSlot = at + this.intervalMs
    if (at > now)
      await new Promise((r, j) => {
        const timer = setTimeout(r, at - now)
        signal?.addEventListener('abort', () => (clearTimeout(timer), j(signal.reason)), { once: true })
      })
  }

  async call<T>(method: string, params: Record<string, unknown>, signal?: AbortSignal): Promise<T> {
    await this.slot(signal)
    const res = await fetch(`${this.base}${method}.json`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(params),
      signal,
    })
    const text = await res.text()
    let body: { result?: T; error?: string; error_description?: string } = {}
    try {
      body = JSON.parse(text)
    } catch {
      // an HTML error page from a proxy: keep its start as the description
      if (!res.ok) throw new Bitrix24Error(res.status, 'HTTP_ERROR', text.slice(0, 300), method)
      throw new Bitrix24Error(res.status, 'BAD_RESPONSE', `not JSON: ${text.slice(0, 300)}`, method)
    }
    if (!res.ok || body.error) throw new Bitrix24Error(res.status, body.error ?? 'HTTP_ERROR', body.error_description ?? '', method)
    return body.result as T
  }
}
