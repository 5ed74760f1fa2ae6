// A re-offer inside a call whose media cannot move (a relayed leg): what must stay the same for it
// to be answered, and the answer, which differs from the first one only in its direction.
import type { Direction } from './negotiate.ts'

/** The audio's address, port, transport and payload types: a re-offer that keeps these needs nothing moved. */
export function audioKey(sdp: string): string | undefined {
  const m = /^m=audio (\d+) (\S+) ([\d ]+)\s*$/m.exec(sdp)
  if (!m) return undefined
  // the media-level c= wins over the session-level one (RFC 4566 §5.7)
  const after = sdp.slice(m.index)
  const c = /^c=IN IP[46] (\S+)/m.exec(after)?.[1] ?? /^c=IN IP[46] (\S+)/m.exec(sdp.slice(0, m.index))?.[1]
  return c ? `${c} ${m[1]} ${m[2]} ${m[3].trim()}` : undefined
}

const DIRECTION = /^a=(sendrecv|sendonly|recvonly|inactive)\s*$/m

/** The direction an offer asks for (RFC 3264 §6.1: the answer's is its mirror). */
export function answerDirection(offer: string): Direction {
  const d = (DIRECTION.exec(offer)?.[1] ?? 'sendrecv') as Direction
  return d === 'sendonly' ? 'recvonly' : d === 'recvonly' ? 'sendonly' : d
}

/** `sdp` with its direction set to `direction` and its o= version set to `version` (RFC 3264 §8: a changed description has a higher version). */
export function withDirection(sdp: string, direction: Direction, version: number): string {
  const lines = sdp.split(/\r?\n/).filter((l) => l !== '' && !DIRECTION.test(l))
  const out = lines.map((l) => (l.startsWith('o=') ? l.replace(/^(o=\S+ \S+ )\d+/, `$1${version}`) : l))
  out.push(`a=${direction}`)
  return out.join('\r\n') + '\r\n'
}

/** The o= line's session version. */
export function sessionVersion(sdp: string): number {
  return Number(/^o=\S+ \S+ (\d+)/m.exec(sdp)?.[1] ?? 0)
}
