import v8 from 'node:v8'
if (process.env.V8_FLAGS_EXPERIMENT) v8.setFlagsFromString(process.env.V8_FLAGS_EXPERIMENT)
import { ConfigError, loadConfig, type Config } from './config.ts'
import { createLogger } from './logger.ts'
import { startServer } from './server.ts'

let config: Config
try {
  config = loadConfig()
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  console.error(`configuration error: ${err.message}`)
  process.exit(2)
}

// The last line of defence: every call's handlers contain their own faults (a fault ends that
// call), so what reaches here escaped them. It is logged and counted, and the process keeps
// serving the other calls rather than dropping all of them; the watchdog ends a call it leaves stuck.
const log = createLogger(config.logLevel).child({ component: 'process' })
process.on('uncaughtException', (err, origin) => log.fatal({ err, origin }, 'uncaught exception: contained, the process goes on'))
process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled promise rejection'))

// A provider or scenario refused at start-up (a bad URL, a broken default scenario) is a
// configuration problem too: one clear line, not a stack trace.
const server = await startServer(config, { onDrainRequested: () => stop('POST /api/drain') }).catch((err: Error) => {
  console.error(`start-up failed: ${err.message}`)
  process.exit(2)
})

let stopping = false
function stop(why: string): void {
  if (stopping) {
    // a second signal: the operator will not wait for the calls to end on their own
    if (why.startsWith('SIG')) server.skipDrain()
    return
  }
  stopping = true
  log.info(
    { why, drainTimeoutS: config.drainTimeoutS },
    'stopping: new calls get 503, live calls may finish up to DRAIN_TIMEOUT_S, then get BYE; records are written',
  )
  server
    .drain(why)
    .then(() => server.stop())
    .then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'stop failed')
        process.exit(1)
      },
    )
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => stop(signal))

// Under `npm start` the parent is npm: if it dies without passing a signal on, stop rather than
// keep serving calls as an orphan nobody can stop with the command that started it.
if (process.env.npm_lifecycle_event === 'start') {
  const parent = process.ppid
  setInterval(() => process.ppid !== parent && stop('npm exited'), 1000).unref()
}
