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

const server = await startServer(config)
let stopping = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1)
    stopping = true
    server.stop().then(() => process.exit(0), () => process.exit(1))
  })
}
