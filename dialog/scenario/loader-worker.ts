// Parses scenario files and the number map off the main thread: YAML parsing and validation take
// far longer than the ~1 ms the media loop can spare, and hot reloads happen while calls run.
import { basename } from 'node:path'
import { parentPort } from 'node:worker_threads'
import { loadScenarioFile, readSource, ScenarioError, type ScenarioProblem } from './loader.ts'
import { parseNumberMap, type NumberMap } from './number-map.ts'
import type { Scenario } from './schema.ts'

export type LoadRequest =
  | { id: number; kind: 'scenario'; path: string }
  /** the map is checked against the scenario files that are loaded */
  | { id: number; kind: 'numbers'; path: string; scenarioFiles: string[] }

export type LoadReply = { id: number; scenario: Scenario } | { id: number; numbers: NumberMap } | { id: number; problems: ScenarioProblem[] }

async function handle(req: LoadRequest): Promise<LoadReply> {
  try {
    if (req.kind === 'scenario') return { id: req.id, scenario: await loadScenarioFile(req.path) }
    const source = await readSource(req.path)
    return { id: req.id, numbers: parseNumberMap(source, basename(req.path), new Set(req.scenarioFiles)) }
  } catch (err) {
    const problems = err instanceof ScenarioError ? err.problems : [{ file: basename(req.path), line: 0, field: '', message: String(err) }]
    return { id: req.id, problems }
  }
}

parentPort!.on('message', (req: LoadRequest) => {
  void handle(req).then((reply) => parentPort!.postMessage(reply))
})
