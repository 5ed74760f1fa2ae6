// The RFC 4475 torture messages the parser, the fuzzer's corpus and the torture test read: the
// workplace's copy beside the repository (../shared/testdata/rfc4475), or RFC4475_DIR for a
// checkout that sits elsewhere.
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

export const RFC4475_DIR = process.env.RFC4475_DIR ?? path.resolve(REPO, '../shared/testdata/rfc4475')
