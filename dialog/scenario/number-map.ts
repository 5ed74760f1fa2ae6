// numbers.yaml: which scenario file answers which dialled number.
//   default: sales.yaml
//   numbers:
//     "+7 495 123-45-67": sales.yaml
//     "74957654321": support.yaml
import { parseYaml, problemsAt } from './loader.ts'
import type { Problem } from './schema.ts'

export interface NumberMap {
  /** scenario file for numbers not listed */
  default?: string
  /** normalised dialled number -> scenario file */
  numbers: Record<string, string>
}

/** Digits of a dialled number or SIP URI, with a Russian trunk's leading 8 read as 7. */
export function normalizeNumber(n: string): string {
  const user = n.replace(/^sips?:/, '').replace(/@.*$/, '')
  const d = user.replace(/\D/g, '')
  return d.length === 11 && d[0] === '8' ? '7' + d.slice(1) : d
}

/** Parses and checks the map against the scenario files that loaded. Throws ScenarioError. */
export function parseNumberMap(source: string, file: string, scenarioFiles: ReadonlySet<string>): NumberMap {
  const { value, lineOf } = parseYaml(source, file)
  const problems: Problem[] = []
  const out: NumberMap = { numbers: {} }
  const ref = (v: unknown, path: Array<string | number>): string | undefined => {
    if (typeof v !== 'string' || !v) problems.push({ path, message: `must be a scenario file name, got ${JSON.stringify(v)}` })
    else if (!scenarioFiles.has(v)) problems.push({ path, message: `unknown scenario file "${v}" (loaded: ${[...scenarioFiles].sort().join(', ') || 'none'})` })
    else return v
    return undefined
  }
  const root = value as Record<string, unknown> | null
  if (!root || typeof root !== 'object' || Array.isArray(root)) problems.push({ path: [], message: 'must be a mapping with "default" and "numbers"' })
  else {
    for (const k of Object.keys(root))
      if (k !== 'default' && k !== 'numbers') problems.push({ path: [k], message: 'unknown field (allowed: default, numbers)' })
    if (root.default !== undefined) out.default = ref(root.default, ['default'])
    const numbers = root.numbers ?? {}
    if (typeof numbers !== 'object' || Array.isArray(numbers)) problems.push({ path: ['numbers'], message: 'must be a mapping of number to file' })
    else {
      for (const [n, f] of Object.entries(numbers as Record<string, unknown>)) {
        const digits = normalizeNumber(n)
        if (digits.length < 3) problems.push({ path: ['numbers', n], message: `"${n}" is not a phone number` })
        else if (out.numbers[digits]) problems.push({ path: ['numbers', n], message: `"${n}" is the same number as another entry` })
        const file = ref(f, ['numbers', n])
        if (file && digits.length >= 3) out.numbers[digits] = file
      }
    }
  }
  if (problems.length) throw problemsAt(file, lineOf, problems)
  return out
}
