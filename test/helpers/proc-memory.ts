import { readFileSync } from 'node:fs'

/** Resident set size of a process in MiB, from /proc/<pid>/status (VmRSS), as `ps` sees it. */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]
  if (!kb) throw new Error(`no VmRSS for process ${pid}`)
  return Number(kb) / 1024
}

/** Whether a process is still there (and not a zombie). */
export function processAlive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'))
  } catch {
    return false
  }
}

/** The resident memory of a process by mapping kind (anonymous, heap, files), in MiB, from
 *  /proc/<pid>/smaps: where memory outside the JS heap sits. */
export function rssByMapping(pid: number): Record<string, number> {
  const out: Record<string, number> = {}
  let name = ''
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line)
    if (head) {
      name = head[1] || '[anon]'
      if (name.startsWith('/')) name = name.includes('.so') || name.includes('/node') ? '[libs]' : '[files]'
      continue
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line)
    if (rss) out[name] = (out[name] ?? 0) + Number(rss[1]) / 1024
  }
  return out
}

/** CPU time (user + system) a process has used, in ms, from /proc/<pid>/stat. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields[11] and [12] are utime and stime (fields 14 and 15 of proc(5)), in clock ticks
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100
}
