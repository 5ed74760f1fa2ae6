import { execFileSync } from 'node:child_process'
import { readlinkSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/** What a thread got when it asked for a scheduling class (Linux applies both per thread). */
export type ThreadPriority = 'realtime' | 'nice' | 'idle' | 'normal'

const RT_PRIORITY = '10' // above every normal thread, far below the kernel's own RT threads
const MEDIA_NICE = -10
const BACKGROUND_NICE = 10

/** This thread's kernel id: os.setPriority(0) and chrt --pid act on it alone. */
function threadId(): string {
  return path.basename(readlinkSync('/proc/thread-self'))
}

function chrt(policy: '--rr' | '--idle', priority: string): boolean {
  try {
    execFileSync('chrt', [policy, '--pid', priority, threadId()], { stdio: 'ignore' })
    return true
  } catch {
    return false // not Linux, no util-linux, or not permitted
  }
}

function nice(value: number): boolean {
  try {
    os.setPriority(value)
    return true
  } catch {
    return false
  }
}

/**
 * For a thread that owns a pacing clock: SCHED_RR when permitted (root or CAP_SYS_NICE), else a
 * lower nice value. Under CFS a woken thread can wait behind others for a scheduler slice (several
 * ms on a busy 2-core host), which is a late packet; an RT thread preempts them at once. The clock
 * sleeps between ticks, so it cannot starve the machine (and the kernel throttles RT at 95%).
 */
export function raiseForMedia(): ThreadPriority {
  if (chrt('--rr', RT_PRIORITY)) return 'realtime'
  return nice(MEDIA_NICE) ? 'nice' : 'normal'
}

/** For bulk work (inference, synthesis): whatever runs a clock preempts it the moment it wakes. */
export function lowerForBackground(): ThreadPriority {
  const niced = nice(BACKGROUND_NICE)
  if (chrt('--idle', '0')) return 'idle'
  return niced ? 'nice' : 'normal'
}
