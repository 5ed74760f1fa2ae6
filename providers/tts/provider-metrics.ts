// Per-provider latency and error metrics, on the registry the caller injects. Several adapters share
// one registry, so each metric is created once per registry and then looked up.
import client, { type Registry } from 'prom-client'
import type { ProviderErrorKind } from '../types.ts'

export type ProviderType = 'tts' | 'llm'

const FIRST_OUTPUT: Record<ProviderType, { name: string; help: string }> = {
  tts: { name: 'voice_tts_first_audio_seconds', help: 'From the TTS request to its first audio chunk, by provider' },
  llm: { name: 'voice_llm_first_token_seconds', help: 'From the chat request to its first streamed event, by provider' },
}

function metric<T extends client.Metric>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make()
}

export class ProviderMetrics {
  private readonly firstOutput: client.Histogram
  private readonly errors: client.Counter

  constructor(registry: Registry, type: ProviderType) {
    const first = FIRST_OUTPUT[type]
    this.firstOutput = metric(
      registry,
      first.name,
      () =>
        new client.Histogram({
          name: first.name,
          help: first.help,
          labelNames: ['provider'],
          buckets: [0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5],
          registers: [registry],
        }),
    )
    const errors = `voice_${type}_errors_total`
    this.errors = metric(
      registry,
      errors,
      () =>
        new client.Counter({
          name: errors,
          help: `${type.toUpperCase()} requests that failed, by provider and kind (cancelled = barge-in)`,
          labelNames: ['provider', 'kind'],
          registers: [registry],
        }),
    )
  }

  /**
   * Passes `source` through, timing its first item from now and counting its ProviderError by kind.
   * A consumer that stops early (return()) is not an error.
   */
  async *measure<T>(provider: string, source: AsyncIterable<T>): AsyncGenerator<T> {
    const started = performance.now()
    let first = true
    try {
      for await (const item of source) {
        if (first) {
          first = false
          this.firstOutput.labels(provider).observe((performance.now() - started) / 1000)
        }
        yield item
      }
    } catch (err) {
      const kind: ProviderErrorKind | 'unknown' = (err as { kind?: ProviderErrorKind }).kind ?? 'unknown'
      this.errors.labels(provider, kind).inc()
      throw err
    }
  }
}
