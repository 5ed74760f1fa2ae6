import type { DeliveryOutcome } from '../outbox/outbox-worker.ts'
import { BATCH_MAX, Bitrix24Error, type Bitrix24Client, type BatchCommand, type BatchError } from './bitrix24-client.ts'

/** One outbox row's work in a delivery: set `outcome` when it failed, and it takes no further part. */
export interface BatchJob {
  outcome?: DeliveryOutcome
}

/**
 * Sends the jobs' commands (named `<name><job index>`) in as few batches as fit, and hands each
 * job its results; a job with a failed command gets its outcome and takes no further part.
 */
export async function runJobs<J extends BatchJob>(
  client: Bitrix24Client,
  jobs: J[],
  signal: AbortSignal,
  commands: (job: J) => Record<string, BatchCommand>,
  take: (job: J, results: Record<string, unknown>) => void | Promise<void>,
): Promise<void> {
  let chunk: Array<{ job: J; names: string[] }> = []
  let cmd: Record<string, BatchCommand> = {}
  const flush = async () => {
    if (!chunk.length) return
    const sent = chunk
    const batch = cmd
    chunk = []
    cmd = {}
    try {
      const answer = await client.batch(batch, signal)
      for (const { job, names } of sent) {
        const failed = names.find((n) => answer.errors[n])
        if (failed) job.outcome = outcomeOf(answer.errors[failed], failed)
        else await take(job, Object.fromEntries(names.map((n) => [n.replace(/\d+$/, ''), answer.result[n]])))
      }
    } catch (err) {
      const outcome = thrownOutcome(err)
      for (const { job } of sent) job.outcome = outcome
    }
  }
  for (const [i, job] of jobs.entries()) {
    if (job.outcome) continue
    const own = commands(job)
    const names = Object.keys(own)
    if (!names.length) continue
    if (Object.keys(cmd).length + names.length > BATCH_MAX) await flush()
    // one job's commands go in one batch: they refer to each other with $result[...]
    for (const [n, c] of Object.entries(own)) cmd[`${n}${i}`] = resolveRefs(c, i)
    chunk.push({ job, names: names.map((n) => `${n}${i}`) })
  }
  await flush()
}

/** `$result[add]` in a job's command names that job's own `add<i>`. */
function resolveRefs(c: BatchCommand, i: number): BatchCommand {
  return JSON.parse(JSON.stringify(c).replace(/\$result\[(\w+)\]/g, `$result[$1${i}]`)) as BatchCommand
}

/** A command's own error in a batch (`result_error`): business errors are final. */
function outcomeOf(e: BatchError, name: string): DeliveryOutcome {
  const error = `${name.replace(/\d+$/, '')}: ${e.error}${e.error_description ? `: ${e.error_description}` : ''}`
  // a command that used a failed command's $result fails too; the first failure is the one reported
  return /QUERY_LIMIT_EXCEEDED|OPERATION_TIME_LIMIT|INTERNAL_SERVER_ERROR|expired_token/.test(e.error) ? { kind: 'retry', error } : { kind: 'dead', error }
}

/** The whole request failed: rate refusals wait as the portal says, 5xx/408/429 and network errors retry, other 4xx are final. */
export function thrownOutcome(err: unknown): DeliveryOutcome {
  if (!(err instanceof Bitrix24Error)) return { kind: 'retry', error: (err as Error).message || String(err) }
  if (err.retryAfterMs !== undefined) return { kind: 'retry', error: err.message, retryAfterMs: err.retryAfterMs }
  if (err.status >= 500 || err.status === 429 || err.status === 408) return { kind: 'retry', error: err.message }
  return { kind: 'dead', error: err.message }
}
