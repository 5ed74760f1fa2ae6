// Scenario files: YAML in, a validated Scenario out, or an error whose every line names the file,
// the line and the field: `sales.yaml:42: steps.ask_budget.transitions[1].to: unknown step "qualifyy"`.
import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml'
import { formatPath, validateScenario, type Path, type Problem, type Scenario } from './schema.ts'

export interface ScenarioProblem {
  file: string
  line: number
  /** "steps.ask_budget.transitions[1].to"; '' for the file as a whole */
  field: string
  message: string
}

export class ScenarioError extends Error {
  constructor(readonly problems: ScenarioProblem[]) {
    super(problems.map(formatProblem).join('\n'))
    this.name = 'ScenarioError'
  }
}

export function formatProblem(p: ScenarioProblem): string {
  return `${p.file}:${p.line}: ${p.field ? p.field + ': ' : ''}${p.message}`
}

/** The line where the field at `path` is written: its key for a mapping entry, the item for a list entry. */
function lineOf(doc: Document, lc: LineCounter, path: Path): number {
  let node: unknown = doc.contents
  let offset = (node as { range?: [number] } | null)?.range?.[0] ?? 0
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg))
      if (!pair) break
      offset = (pair.key as { range?: [number] }).range?.[0] ?? offset
      node = pair.value
    } else if (isSeq(node) && typeof seg === 'number' && node.items[seg]) {
      node = node.items[seg]
      offset = (node as { range?: [number] }).range?.[0] ?? offset
    } else break
  }
  return lc.linePos(offset).line
}

/** YAML text to a plain value, and where each field of it is written. Throws ScenarioError on bad YAML. */
export function parseYaml(source: string, file: string): { value: unknown; lineOf: (path: Path) => number } {
  const lc = new LineCounter()
  const doc = parseDocument(source, { lineCounter: lc, prettyErrors: false, uniqueKeys: true })
  if (doc.errors.length) {
    throw new ScenarioError(doc.errors.map((e) => ({ file, line: lc.linePos(e.pos[0]).line, field: '', message: `YAML: ${e.message.split('\n')[0]}` })))
  }
  return { value: doc.toJS({ maxAliasCount: 100 }), lineOf: (path) => lineOf(doc, lc, path) }
}

/** Problems found at paths, as a ScenarioError with lines, in file order. */
export function problemsAt(file: string, lineOfPath: (path: Path) => number, problems: Problem[]): ScenarioError {
  return new ScenarioError(
    problems.map((p) => ({ file, line: lineOfPath(p.path), field: formatPath(p.path), message: p.message })).sort((a, b) => a.line - b.line),
  )
}

/** Parses and validates one scenario's YAML text; `file` names it in messages. Throws ScenarioError. */
export function parseScenario(source: string, file: string): Scenario {
  const { value, lineOf: at } = parseYaml(source, file)
  const { scenario, problems } = validateScenario(value, file)
  if (!scenario) throw problemsAt(file, at, problems)
  return scenario
}

/** A file's text; a ScenarioError naming it when it cannot be read. */
export async function readSource(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    throw new ScenarioError([{ file: basename(path), line: 0, field: '', message: `cannot be read: ${(err as Error).message}` }])
  }
}

/** Reads and parses a scenario file; messages name it by its base name. */
export async function loadScenarioFile(path: string): Promise<Scenario> {
  return parseScenario(await readSource(path), basename(path))
}
