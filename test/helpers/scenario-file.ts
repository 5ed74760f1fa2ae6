import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { REPO } from './server-process.ts'

/** A SIPp scenario from test/sipp/ with its {{PLACEHOLDERS}} filled in, written to `dir`; a
 *  {{PLACEHOLDER=default}} takes its default when `values` has none. */
export function renderScenario(name: string, dir: string, values: Record<string, string | number> = {}): string {
  let xml = readFileSync(path.join(REPO, 'test/sipp', name), 'utf8')
  xml = xml.replace(/\{\{([A-Z_]+)=([^}]*)\}\}/g, (_, k: string, fallback: string) => String(values[k] ?? fallback))
  for (const [k, v] of Object.entries(values)) xml = xml.replaceAll(`{{${k}}}`, String(v))
  const out = path.join(dir, name)
  writeFileSync(out, xml)
  return out
}
