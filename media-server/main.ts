import { ConfigError, loadConfig } from './config.ts'
import { startServer } from './server.ts'

let config
try {
  config = loadConfig()
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  console.error(`configuration error: ${err.message}`)
  process.exit(2)
}

// A provider or scenario refused at start-up (a bad URL, a broken default scenario) is a
// configuration problem too: one clear line, not a stack trace.
const server = await startServer(config).catch((err: Error) => {
  console.error(`start-up failed: ${err.message}`)
  process.exit(2)
})
let stopping = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1)
    stopping = true
    server.stop().then(() => process.exit(0), () => process.exit(1))
  })
}
