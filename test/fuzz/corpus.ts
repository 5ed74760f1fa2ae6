// The seed messages the SIP fuzzer mutates: the RFC 4475 torture messages and valid traffic
// of the kinds a trunk or SIPp sends (INVITE with SDP, OPTIONS, REGISTER, BYE, CANCEL, INFO,
// ACK and in-dialog requests). Templates carry {{placeholders}} filled per case, so each case
// opens fresh transactions and dialogs instead of hitting the retransmission path.
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import type { Prng } from './prng.ts'

export interface Seed {
  name: string
  text: string
}

/** Where the fuzzer sends from, and where a fuzzed call's media should go (a sink). */
export interface Endpoint {
  address: string
  port: number
  target: string
  rtpSink: number
}

export const SDP = [
  'v=0',
  'o=fuzz 53655765 2353687637 IN IP4 {{addr}}',
  's=-',
  'c=IN IP4 {{addr}}',
  't=0 0',
  'm=audio {{rtp}} RTP/AVP 0 8 9 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:9 G722/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=ptime:20',
  'a=sendrecv',
  '',
].join('\r\n')

const COMMON = ['Via: SIP/2.0/UDP {{addr}}:{{port}};branch=z9hG4bK{{branch}};rport', 'Max-Forwards: 70', 'From: "Fuzz" <sip:fuzz@{{addr}}>;tag={{tag}}']

function request(method: string, to: string, cseq: number, extra: string[], body = ''): string {
  return [
    `${method} sip:sales@{{target}} SIP/2.0`,
    ...COMMON,
    `To: ${to}`,
    'Call-ID: {{callid}}@{{addr}}',
    `CSeq: ${cseq} ${method}`,
    ...extra,
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n')
}

const TO = '<sip:sales@{{target}}>'
const TO_TAG = '<sip:sales@{{target}}>;tag={{totag}}'
const CONTACT = 'Contact: <sip:fuzz@{{addr}}:{{port}}>'

/** Valid traffic, as a trunk or SIPp sends it. */
export const VALID: Seed[] = [
  {
    name: 'invite-sdp',
    text: request('INVITE', TO, 1, [CONTACT, 'Content-Type: application/sdp', 'Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, INFO', 'User-Agent: fuzz'], SDP),
  },
  {
    name: 'invite-sdp-opus',
    text: request(
      'INVITE',
      TO,
      1,
      [CONTACT, 'Content-Type: application/sdp'],
      SDP.replace('RTP/AVP 0 8 9 101', 'RTP/AVP 111 0 101').replace(
        'a=rtpmap:0 PCMU/8000',
        'a=rtpmap:111 opus/48000/2\r\na=fmtp:111 useinbandfec=1\r\na=rtpmap:0 PCMU/8000',
      ),
    ),
  },
  { name: 'invite-no-sdp', text: request('INVITE', TO, 1, [CONTACT]) },
  { name: 'options', text: request('OPTIONS', TO, 1, ['Accept: application/sdp']) },
  { name: 'register', text: request('REGISTER', '<sip:fuzz@{{target}}>', 1, [CONTACT, 'Expires: 3600']) },
  { name: 'bye', text: request('BYE', TO_TAG, 2, []) },
  { name: 'cancel', text: request('CANCEL', TO, 1, []) },
  { name: 'info-dtmf', text: request('INFO', TO_TAG, 3, ['Content-Type: application/dtmf-relay'], 'Signal=5\r\nDuration=160\r\n') },
  { name: 'ack', text: request('ACK', TO_TAG, 1, []) },
  { name: 're-invite', text: request('INVITE', TO_TAG, 2, [CONTACT, 'Content-Type: application/sdp'], SDP.replace('a=sendrecv', 'a=sendonly')) },
  {
    name: 'notify',
    text: request('NOTIFY', TO_TAG, 4, ['Event: refer', 'Subscription-State: terminated', 'Content-Type: message/sipfrag'], 'SIP/2.0 200 OK\r\n'),
  },
  { name: 'refer', text: request('REFER', TO_TAG, 5, [CONTACT, 'Refer-To: <sip:100@{{target}}>']) },
  {
    name: 'response-200',
    text: ['SIP/2.0 200 OK', ...COMMON, `To: ${TO_TAG}`, 'Call-ID: {{callid}}@{{addr}}', 'CSeq: 1 BYE', 'Content-Length: 0', '', ''].join('\r\n'),
  },
]

/** The RFC 4475 torture messages (documentation addresses moved to loopback, as the torture test does). */
export function tortureSeeds(dir: string): Seed[] {
  let files: string[]
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.sip'))
  } catch {
    return []
  }
  return files.sort().map((f) => ({
    name: `rfc4475/${f.replace(/\.sip$/, '')}`,
    text: readFileSync(path.join(dir, f)).toString('latin1').replaceAll('192.0.2.', '127.0.0.'),
  }))
}

/** Fills a template's placeholders; fresh identifiers per case. */
export function instantiate(text: string, ep: Endpoint, rng: Prng): string {
  const values: Record<string, string> = {
    addr: ep.address,
    port: String(ep.port),
    target: ep.target,
    rtp: String(ep.rtpSink),
    branch: rng.hex(16),
    tag: rng.hex(8),
    totag: rng.hex(8),
    callid: rng.hex(20),
  }
  return text.replace(/\{\{(\w+)\}\}/g, (_, k: string) => values[k] ?? '')
}

/** A torture message made fresh: its Call-ID and branch replaced, so it is not a retransmission. */
export function freshen(text: string, rng: Prng): string {
  return text
    .replace(/^(Call-ID|i)(\s*:\s*)(\S+)/im, (_, h, sep) => `${h}${sep}${rng.hex(20)}`)
    .replace(/branch=z9hG4bK[^;\s,]*/i, `branch=z9hG4bK${rng.hex(16)}`)
}
