// Mutations of SIP messages, at the byte level (bit flips, inserted and deleted bytes,
// truncation) and at the structure level (start line, header values, duplicated and huge
// headers, Content-Length, the SDP fields a media server has to trust least). Each case
// names the mutations applied, so a crash can be traced to a kind of input.
import type { Prng } from './prng.ts'

/** Mutation kinds that may be switched off (--exclude), e.g. while a known crash is being fixed. */
export const EXCLUDABLE = ['sdp-port-high', 'sdp-rtcp-high'] as const

export interface Mutated {
  bytes: Buffer
  mutations: string[]
}

/** UDP over IPv4 carries at most 65,507 bytes; larger cases are cut to fit. */
export const MAX_DATAGRAM = 65_507

const GARBAGE_VALUES = [
  '',
  ' ',
  '<',
  '>',
  ';;;',
  '"',
  '"unterminated',
  '<sip:x@[::1>',
  ';tag=',
  ',,,',
  '\\',
  '%00',
  '%zz',
  '-1',
  '0',
  '4294967296',
  '99999999999999999999',
  '1e9',
  'NaN',
  '\t\t',
  'sip:',
  'sip:@',
  '<>',
  '*',
  'SIP/2.0/UDP',
  'SIP/2.0/UDP [::1',
  'SIP/2.0/UDP 127.0.0.1:99999',
  'SIP/2.0/XYZ host;branch=',
  '1 INVITE',
  '1',
  'INVITE',
  '2 ACK',
  '0 INVITE',
  '4294967295 INVITE',
  '-5 BYE',
  'x INVITE',
]
const METHODS = [
  'INVITE',
  'ACK',
  'BYE',
  'CANCEL',
  'OPTIONS',
  'REGISTER',
  'INFO',
  'NOTIFY',
  'REFER',
  'PRACK',
  'UPDATE',
  'SUBSCRIBE',
  'MESSAGE',
  'FOO',
  'invite',
  'INV ITE',
  '',
  'I'.repeat(300),
  'SIP/2.0',
]
const URIS = [
  'sip:',
  'sip:sales@127.0.0.1',
  '<sip:a@b>',
  'sip:[::1',
  'sip:a@b:99999',
  'sip:a@b:-1',
  'tel:+15551234',
  'x',
  'sip:%00@x',
  'sips:a@b;transport=tls',
  '*',
  'sip:a@' + 'h'.repeat(2000),
  'http://x/',
]
const VERSIONS = ['SIP/2.0', 'SIP/3.0', 'SIP/2.0 extra', 'HTTP/1.1', 'SIP/2', 'sip/2.0', '', 'SIP/2.0\0']
const DUP_HEADERS = ['Via', 'CSeq', 'Call-ID', 'From', 'To', 'Content-Length', 'Content-Type', 'Max-Forwards', 'Contact']

type Op = (s: string, rng: Prng, ex: Set<string>) => { text: string; tag: string } | undefined

function splitHead(s: string): { head: string[]; body: string } {
  const end = s.indexOf('\r\n\r\n')
  if (end < 0) return { head: s.split('\r\n'), body: '' }
  return { head: s.slice(0, end).split('\r\n'), body: s.slice(end + 4) }
}

function join(head: string[], body: string): string {
  return head.join('\r\n') + '\r\n\r\n' + body
}

/** Content-Length made right again for a new body (most of the time), so SDP cases parse. */
function withLength(head: string[], body: string, rng: Prng): string {
  if (rng.chance(0.85)) {
    const i = head.findIndex((l) => /^(content-length|l)\s*:/i.test(l))
    if (i >= 0) head[i] = `Content-Length: ${Buffer.byteLength(body, 'latin1')}`
  }
  return join(head, body)
}

function garbageValue(rng: Prng): string {
  switch (rng.int(4)) {
    case 0:
      return rng
        .bytes(rng.range(1, 40))
        .toString('latin1')
        .replace(/[\r\n]/g, 'x')
    case 1:
      return 'a'.repeat(rng.range(100, 20_000))
    default:
      return rng.pick(GARBAGE_VALUES)
  }
}

const structural: Record<string, Op> = {
  'start-line'(s, rng) {
    const { head, body } = splitHead(s)
    const parts = head[0].split(' ')
    if (head[0].startsWith('SIP/')) parts[1] = rng.pick(['0', '99', '700', '1000', '-1', 'abc', '2000', '100'])
    else {
      const which = rng.int(3)
      if (which === 0) parts[0] = rng.pick(METHODS)
      else if (which === 1) parts[1] = rng.pick(URIS)
      else parts[2] = rng.pick(VERSIONS)
    }
    head[0] = parts.join(rng.chance(0.1) ? '  ' : ' ')
    return { text: join(head, body), tag: 'start-line' }
  },
  'header-value'(s, rng) {
    const { head, body } = splitHead(s)
    if (head.length < 2) return undefined
    const i = rng.range(1, head.length - 1)
    const colon = head[i].indexOf(':')
    head[i] = (colon > 0 ? head[i].slice(0, colon + 1) + ' ' : head[i] + ': ') + garbageValue(rng)
    return { text: join(head, body), tag: 'header-value' }
  },
  'header-param'(s, rng) {
    const { head, body } = splitHead(s)
    if (head.length < 2) return undefined
    const i = rng.range(1, head.length - 1)
    head[i] += rng.pick([
      ';',
      ';=',
      ';a=',
      ';=b',
      ';tag',
      ';branch=',
      ';received=999.1.1.1',
      ';rport=99999',
      ';' + 'p'.repeat(5000),
      ';q=2.5',
      ';expires=-1',
      ';lr;lr;lr',
    ])
    return { text: join(head, body), tag: 'header-param' }
  },
  'header-drop'(s, rng) {
    const { head, body } = splitHead(s)
    if (head.length < 2) return undefined
    head.splice(rng.range(1, head.length - 1), 1)
    return { text: join(head, body), tag: 'header-drop' }
  },
  'header-dup'(s, rng) {
    const { head, body } = splitHead(s)
    const name = rng.pick(DUP_HEADERS)
    const i = head.findIndex((l) => l.toLowerCase().startsWith(name.toLowerCase() + ':'))
    if (i < 0) return undefined
    const copies = rng.chance(0.2) ? rng.range(50, 1000) : 1
    const line = rng.chance(0.5) ? head[i] : `${name}: ${garbageValue(rng)}`
    head.splice(i + 1, 0, ...Array<string>(copies).fill(line))
    return { text: join(head, body), tag: 'header-dup' }
  },
  'header-huge'(s, rng) {
    const { head, body } = splitHead(s)
    const size = rng.pick([1024, 8192, 16_384, 40_000, 64_000])
    head.splice(rng.range(1, head.length), 0, `${rng.pick(['X-Huge', 'Subject', 'Via', 'Route', 'Contact', 'Allow', 'Supported'])}: ${'A'.repeat(size)}`)
    return { text: join(head, body), tag: 'header-huge' }
  },
  'many-headers'(s, rng) {
    const { head, body } = splitHead(s)
    const n = rng.range(200, 3000)
    const extra = Array.from({ length: n }, (_, k) => `X-H${k}: v`)
    head.splice(1, 0, ...extra)
    return { text: join(head, body), tag: 'many-headers' }
  },
  'content-length'(s, rng) {
    const { head, body } = splitHead(s)
    const i = head.findIndex((l) => /^(content-length|l)\s*:/i.test(l))
    const len = Buffer.byteLength(body, 'latin1')
    const v = rng.pick(['-1', '0', '1', '99999', '4294967296', 'abc', '', '1 2', String(len + 10), String(Math.max(0, len - 10)), '0x10', '+5', '65536'])
    if (i < 0) head.push(`Content-Length: ${v}`)
    else if (rng.chance(0.2)) head.splice(i, 1)
    else if (rng.chance(0.2)) head.splice(i, 0, `Content-Length: ${v}`)
    else head[i] = `Content-Length: ${v}`
    return { text: join(head, body), tag: 'content-length' }
  },
  'line-endings'(s, rng) {
    return { text: s.replaceAll('\r\n', rng.pick(['\n', '\r', '\n\r', '\r\r\n'])), tag: 'line-endings' }
  },
  folding(s, rng) {
    const { head, body } = splitHead(s)
    if (head.length < 2) return undefined
    const i = rng.range(1, head.length - 1)
    const at = Math.max(head[i].indexOf(':') + 1, rng.int(head[i].length))
    head[i] = head[i].slice(0, at) + rng.pick(['\r\n ', '\r\n\t', '\r\n', ' \r\n  ']) + head[i].slice(at)
    return { text: join(head, body), tag: 'folding' }
  },
}

// --- SDP --------------------------------------------------------------------------------

function sdpOp(tag: string, edit: (lines: string[], rng: Prng, ex: Set<string>) => string | undefined): Op {
  return (s, rng, ex) => {
    const { head, body } = splitHead(s)
    if (!body.startsWith('v=')) return undefined
    const lines = body.split('\r\n')
    const got = edit(lines, rng, ex)
    if (got === undefined) return undefined
    return { text: withLength(head, lines.join('\r\n'), rng), tag: got || tag }
  }
}

function mIndex(lines: string[]): number {
  return lines.findIndex((l) => l.startsWith('m='))
}

const sdp: Record<string, Op> = {
  'sdp-port': sdpOp('sdp-port', (lines, rng, ex) => {
    const i = mIndex(lines)
    if (i < 0) return undefined
    const high = ['65535', '70000', '99999999999', '65536']
    const low = ['0', '1', '-1', 'abc', '', '1024/2', '20000/0', '9']
    const useHigh = !ex.has('sdp-port-high') && rng.chance(0.4)
    const v = useHigh ? rng.pick(high) : rng.pick(low)
    lines[i] = lines[i].replace(/^m=(\S+) \S*/, `m=$1 ${v}`)
    return useHigh ? 'sdp-port-high' : 'sdp-port'
  }),
  'sdp-rtcp': sdpOp('sdp-rtcp', (lines, rng, ex) => {
    const i = mIndex(lines)
    if (i < 0) return undefined
    const high = ['70000', '65536', '99999999']
    const other = ['0', '-1', 'abc', '', '9 IN IP4 garbage', '9 IN IP6 ::zz', '1 IN IP4 127.0.0.1', '65535']
    const useHigh = !ex.has('sdp-rtcp-high') && rng.chance(0.4)
    lines.splice(i + 1, 0, `a=rtcp:${useHigh ? rng.pick(high) : rng.pick(other)}`)
    return useHigh ? 'sdp-rtcp-high' : 'sdp-rtcp'
  }),
  'sdp-ptime': sdpOp('sdp-ptime', (lines, rng) => {
    const v = rng.pick(['0', '-20', '1000000000', '100000', 'x', '1', '7', '3000', '20.5', '4294967316', '1e400'])
    const i = lines.findIndex((l) => l.startsWith('a=ptime:'))
    const line = `a=${rng.chance(0.3) ? 'maxptime' : 'ptime'}:${v}`
    if (i >= 0) lines[i] = line
    else lines.splice(lines.length - 1, 0, line)
    return ''
  }),
  'sdp-conn': sdpOp('sdp-conn', (lines, rng) => {
    const v = rng.pick([
      'c=IN IP4 999.1.1.1',
      'c=IN IP6 ::zz',
      'c=IN IP4',
      'c=garbage',
      'c=IN IP4 0.0.0.0',
      'c=IN IP4 255.255.255.255',
      'c=IN IP4 224.2.1.1/127/3',
      'c=IN IP6 ::1',
      'c=',
      'c=IN IP4 ' + 'a'.repeat(3000),
      'c=IN IP4 localhost',
    ])
    const i = lines.findIndex((l) => l.startsWith('c='))
    if (i >= 0) lines[i] = v
    else lines.splice(2, 0, v)
    if (rng.chance(0.2)) lines.splice(mIndex(lines) + 1, 0, rng.pick(['c=IN IP4 1.2.3', 'c=IN IP4 127.0.0.2']))
    return ''
  }),
  'sdp-codecs': sdpOp('sdp-codecs', (lines, rng) => {
    const i = mIndex(lines)
    if (i < 0) return undefined
    const n = rng.pick([200, 1000, 3000, 8000])
    const pts = Array.from({ length: n }, () => String(rng.chance(0.9) ? rng.int(128) : rng.pick([-1, 128, 255, 65536, 99999999])))
    lines[i] = lines[i].replace(/RTP\/AVP.*$/, 'RTP/AVP ' + pts.join(' '))
    if (rng.chance(0.5)) {
      const maps = Array.from(
        { length: Math.min(n, 2000) },
        (_, k) => `a=rtpmap:${pts[k]} ${rng.pick(['opus/48000/2', 'PCMU/8000', 'telephone-event/8000', 'X/1'])}`,
      )
      lines.splice(i + 1, 0, ...maps)
    }
    return ''
  }),
  'sdp-rtpmap': sdpOp('sdp-rtpmap', (lines, rng) => {
    const i = mIndex(lines)
    if (i < 0) return undefined
    const bogus = rng.pick([
      'a=rtpmap:0 PCMU/0',
      'a=rtpmap:0 PCMU/-8000',
      'a=rtpmap:96 opus/-1/2',
      'a=rtpmap:abc',
      'a=rtpmap:',
      'a=rtpmap:101 telephone-event/99999999',
      'a=rtpmap:0 opus/48000/2',
      'a=rtpmap:9 G722/16000',
      'a=rtpmap:96 opus/48000/0',
      'a=rtpmap:96 opus/48000/255',
      'a=rtpmap:101 telephone-event/0',
      'a=rtpmap:0 PCMU/8000/4294967296',
      'a=rtpmap:8 ' + 'x'.repeat(4000),
      'a=fmtp:101 0-99999',
      'a=fmtp:101 ' + '0-15,'.repeat(2000),
      'a=fmtp:111 maxplaybackrate=-1;stereo=7',
      'a=fmtp:',
      'a=rtpmap:128 PCMU/8000',
      'a=rtpmap:-1 PCMU/8000',
    ])
    lines.splice(i + 1, 0, bogus)
    return ''
  }),
  'sdp-structure': sdpOp('sdp-structure', (lines, rng) => {
    const i = mIndex(lines)
    switch (rng.int(6)) {
      case 0: // many m-lines
        if (i < 0) return undefined
        lines.splice(i, 0, ...Array<string>(rng.range(2, 300)).fill(lines[i]))
        break
      case 1: // no m-line
        if (i < 0) return undefined
        lines.splice(i, 1)
        break
      case 2:
        lines.splice(rng.int(lines.length), 1)
        break
      case 3:
        lines.splice(
          rng.int(lines.length),
          0,
          rng.pick([
            'a=sendonly',
            'a=recvonly',
            'a=inactive',
            'a=rtcp-mux',
            'a=' + 'z'.repeat(9000),
            'x=y',
            '=',
            'm=',
            'm=audio',
            'm=video 5000 RTP/AVP 96',
            'm=audio 5000 RTP/SAVP 0',
            'm=audio 5000 TCP 0',
          ]),
        )
        break
      case 4:
        if (i < 0) return undefined
        lines[i] = lines[i].replace(/RTP\/AVP/, rng.pick(['RTP/SAVP', 'UDP/TLS/RTP/SAVPF', 'XYZ', '']))
        break
      default:
        return lines.splice(0, lines.length, ...lines.map((l) => l.replace('=', rng.pick(['= ', ' =', '==', ':'])))) && ''
    }
    return ''
  }),
}

// --- bytes ------------------------------------------------------------------------------

type ByteOp = (b: Buffer, rng: Prng) => Buffer

const bytes: Record<string, ByteOp> = {
  flip(b, rng) {
    const out = Buffer.from(b)
    for (let k = rng.range(1, 8); k > 0 && out.length; k--) out[rng.int(out.length)] ^= 1 << rng.int(8)
    return out
  },
  insert(b, rng) {
    const at = rng.int(b.length + 1)
    return Buffer.concat([b.subarray(0, at), rng.bytes(rng.range(1, 64)), b.subarray(at)])
  },
  delete(b, rng) {
    const at = rng.int(b.length + 1)
    return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + rng.range(1, 64)))])
  },
  truncate(b, rng) {
    return b.subarray(0, rng.int(b.length + 1))
  },
  'dup-range'(b, rng) {
    const at = rng.int(b.length + 1)
    const len = rng.range(1, 200)
    return Buffer.concat([b.subarray(0, at), b.subarray(at, at + len), b.subarray(at)])
  },
  nul(b, rng) {
    const at = rng.int(b.length + 1)
    return Buffer.concat([b.subarray(0, at), Buffer.alloc(rng.range(1, 4)), b.subarray(at)])
  },
  utf8(b, rng) {
    const at = rng.int(b.length + 1)
    return Buffer.concat([b.subarray(0, at), Buffer.from(rng.pick(['é', '€', '\u{1F600}', '\uFFFD', 'Привет']), 'utf8'), b.subarray(at)])
  },
}

const STRUCT_NAMES = Object.keys(structural)
const SDP_NAMES = Object.keys(sdp)
const BYTE_NAMES = Object.keys(bytes)

/**
 * One to three mutations of a seed message. A small share of cases go out unmutated (valid
 * calls and requests keep the server's real paths busy); SDP mutations are preferred for
 * messages that carry SDP, since those reach the media code.
 */
export function mutate(seed: string, rng: Prng, exclude: Set<string> = new Set()): Mutated {
  const mutations: string[] = []
  let text = seed
  if (rng.chance(0.05)) return { bytes: Buffer.from(text, 'latin1'), mutations: ['none'] }
  const hasSdp = text.includes('\r\n\r\nv=')
  const n = rng.range(1, 3)
  let buf: Buffer | undefined
  for (let k = 0; k < n; k++) {
    const r = buf ? 1 : rng.next()
    if (hasSdp && r < 0.45) {
      const got = sdp[rng.pick(SDP_NAMES)](text, rng, exclude)
      if (got) {
        text = got.text
        mutations.push(got.tag)
      }
    } else if (r < 0.8) {
      const got = structural[rng.pick(STRUCT_NAMES)](text, rng, exclude)
      if (got) {
        text = got.text
        mutations.push(got.tag)
      }
    } else {
      // byte-level mutations go last: after them the text is no longer structured
      const name = rng.pick(BYTE_NAMES)
      buf = bytes[name](buf ?? Buffer.from(text, 'latin1'), rng)
      mutations.push(name)
    }
  }
  let out = buf ?? Buffer.from(text, 'latin1')
  if (out.length > MAX_DATAGRAM) out = out.subarray(0, MAX_DATAGRAM)
  return { bytes: out, mutations: mutations.length ? mutations : ['none'] }
}
